'use client'

import Link from 'next/link'
import { FormError } from '@/components/Alert'
import { useI18n } from '@/i18n/client'

/** The form's submit button, which says the request is on its way and cannot be sent twice. */
export function SubmitButton({ busy, busyLabel, label }: { busy: boolean; busyLabel: string; label: string }) {
  return (
    <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
      {busy ? busyLabel : label}
    </button>
  )
}

export function BackToLogin() {
  const { m } = useI18n()
  return (
    <div className="auth-links">
      <Link href="/login">{m.auth.backToLogin}</Link>
    </div>
  )
}

/** A mailed link opened without its token: there is nothing to submit, only the way on. */
export function MissingToken({ title, message, href, action }: { title: string; message: string; href: string; action: string }) {
  return (
    <>
      <h1>{title}</h1>
      <div className="form spaced-top">
        <FormError message={message} />
        <Link href={href} className="btn btn-primary btn-block">
          {action}
        </Link>
      </div>
    </>
  )
}

'use client'

import { useState, type FormEvent } from 'react'
import { FormError } from '@/components/Alert'
import { useFormErrors } from '@/components/useForm'
import { useI18n } from '@/i18n/client'
import { api, hardNavigate } from '@/lib/client/bff'
import { BackToLogin, MissingToken, SubmitButton } from './AuthParts'

/**
 * The mailed link opens this page; the address is confirmed only when the person presses the
 * button (a POST), so a mail scanner that fetches links does not spend the single-use token.
 */
export function VerifyEmailForm({ token }: { token: string }) {
  const { m } = useI18n()
  const { problem, fail } = useFormErrors([])
  const [busy, setBusy] = useState(false)

  if (!token) {
    return (
      <MissingToken title={m.auth.verifyTitle} message={m.auth.verifyMissingToken} href="/login" action={m.auth.backToLogin} />
    )
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    setBusy(true)
    try {
      await api('/auth/verify-email', { method: 'POST', json: { token } })
      hardNavigate('/login?reason=verified')
    } catch (error) {
      fail(error)
      setBusy(false)
    }
  }

  return (
    <>
      <h1>{m.auth.verifyTitle}</h1>
      <p className="intro">{m.auth.verifyIntro}</p>
      <form className="form" method="post" onSubmit={onSubmit} noValidate>
        <FormError message={problem.message} requestId={problem.requestId} />
        <SubmitButton busy={busy} busyLabel={m.auth.verifying} label={m.auth.verifyButton} />
      </form>
      <BackToLogin />
    </>
  )
}

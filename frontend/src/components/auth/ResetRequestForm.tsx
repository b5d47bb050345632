'use client'

import { useState, type FormEvent } from 'react'
import { FormError, Notice } from '@/components/Alert'
import { Field } from '@/components/Field'
import { useFormErrors } from '@/components/useForm'
import { useI18n } from '@/i18n/client'
import { api } from '@/lib/client/bff'
import { checkEmail } from '@/lib/validation'
import { BackToLogin, SubmitButton } from './AuthParts'

export function ResetRequestForm() {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['email'])
  const [busy, setBusy] = useState(false)
  const [sent, setSent] = useState(false)

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const email = String(new FormData(event.currentTarget).get('email') ?? '').trim()
    const emailError = checkEmail(email, m)
    if (!check(emailError ? { email: emailError } : {})) return
    setBusy(true)
    try {
      await api('/auth/password-reset/request', { method: 'POST', json: { email } })
      setSent(true)
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <h1>{m.auth.resetTitle}</h1>
      <p className="intro">{m.auth.resetIntro}</p>
      {sent ? (
        <Notice message={m.auth.resetSent} />
      ) : (
        <form ref={formRef} className="form" method="post" onSubmit={onSubmit} noValidate>
          <FormError message={problem.message} requestId={problem.requestId} />
          <Field label={m.auth.email} name="email" type="email" autoComplete="email" error={fields.email} required />
          <SubmitButton busy={busy} busyLabel={m.auth.sending} label={m.auth.sendResetLink} />
        </form>
      )}
      <BackToLogin />
    </>
  )
}

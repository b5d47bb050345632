'use client'

import { useState, type FormEvent } from 'react'
import { FormError } from '@/components/Alert'
import { NewPasswordFields } from '@/components/NewPasswordFields'
import { useFormErrors } from '@/components/useForm'
import { useI18n } from '@/i18n/client'
import { api, hardNavigate } from '@/lib/client/bff'
import { validateResetConfirm } from '@/lib/validation'
import { BackToLogin, MissingToken, SubmitButton } from './AuthParts'

export function ResetConfirmForm({ token }: { token: string }) {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['new_password', 'confirm'])
  const [busy, setBusy] = useState(false)

  if (!token) {
    return (
      <MissingToken
        title={m.auth.resetConfirmTitle}
        message={m.auth.missingToken}
        href="/reset-password"
        action={m.auth.requestNewLink}
      />
    )
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const data = new FormData(event.currentTarget)
    const values = { new_password: String(data.get('new_password') ?? ''), confirm: String(data.get('confirm') ?? '') }
    if (!check(validateResetConfirm(values, m))) return
    setBusy(true)
    try {
      await api('/auth/password-reset/confirm', {
        method: 'POST',
        json: { token, new_password: values.new_password },
      })
      hardNavigate('/login?reason=reset')
    } catch (error) {
      fail(error)
      setBusy(false)
    }
  }

  return (
    <>
      <h1>{m.auth.resetConfirmTitle}</h1>
      <p className="intro">{m.auth.resetConfirmIntro}</p>
      <form ref={formRef} className="form" method="post" onSubmit={onSubmit} noValidate>
        <FormError message={problem.message} requestId={problem.requestId} />
        <NewPasswordFields name="new_password" label={m.auth.newPassword} confirmLabel={m.auth.confirmNewPassword} errors={fields} />
        <SubmitButton busy={busy} busyLabel={m.common.saving} label={m.auth.setPassword} />
      </form>
      <BackToLogin />
    </>
  )
}

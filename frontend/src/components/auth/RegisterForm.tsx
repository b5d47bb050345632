'use client'

import Link from 'next/link'
import { useState, type FormEvent } from 'react'
import { FormError, Notice } from '@/components/Alert'
import { Field } from '@/components/Field'
import { NewPasswordFields } from '@/components/NewPasswordFields'
import { useFormErrors } from '@/components/useForm'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import { api, hardNavigate } from '@/lib/client/bff'
import { rememberNewAccount } from '@/lib/client/new-account'
import { accountValues, validateRegister } from '@/lib/validation'
import { SubmitButton } from './AuthParts'

export function RegisterForm() {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['email', 'password', 'confirm', 'full_name'])
  const [busy, setBusy] = useState(false)
  // With email verification on, the API answers the same for every address: check your mail.
  const [mailedTo, setMailedTo] = useState<string | null>(null)

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const values = accountValues(new FormData(event.currentTarget))
    if (!check(validateRegister(values, m))) return
    setBusy(true)
    try {
      const answer = await api<{ verification_required?: boolean }>('/auth/register', {
        method: 'POST',
        json: { email: values.email, password: values.password, full_name: values.full_name || null },
      })
      if (answer?.verification_required) {
        setMailedTo(values.email)
        return
      }
      rememberNewAccount(values.email)
      hardNavigate('/login?reason=registered')
    } catch (error) {
      fail(error)
      setBusy(false)
    }
  }

  if (mailedTo) {
    return (
      <>
        <h1>{m.auth.checkEmailTitle}</h1>
        <div className="form spaced-top">
          <Notice message={format(m.auth.checkEmail, { email: mailedTo })} />
          <Link href="/login" className="btn btn-primary btn-block">
            {m.auth.backToLogin}
          </Link>
        </div>
      </>
    )
  }

  return (
    <>
      <h1>{m.auth.registerTitle}</h1>
      <p className="intro">{m.auth.registerIntro}</p>
      <form ref={formRef} className="form" method="post" onSubmit={onSubmit} noValidate>
        <FormError message={problem.message} requestId={problem.requestId} />
        <Field label={m.auth.fullName} name="full_name" autoComplete="name" error={fields.full_name} optional />
        <Field label={m.auth.email} name="email" type="email" autoComplete="email" error={fields.email} required />
        <NewPasswordFields name="password" label={m.auth.password} confirmLabel={m.auth.confirmPassword} errors={fields} />
        <SubmitButton busy={busy} busyLabel={m.auth.registering} label={m.auth.register} />
      </form>
      <div className="auth-links">
        <span>
          {m.auth.haveAccount} <Link href="/login">{m.auth.login}</Link>
        </span>
      </div>
    </>
  )
}

'use client'

import Link from 'next/link'
import { useState, type FormEvent } from 'react'
import { FormError } from '@/components/Alert'
import { Field } from '@/components/Field'
import { NewPasswordFields } from '@/components/NewPasswordFields'
import { useFormErrors } from '@/components/useForm'
import { useI18n } from '@/i18n/client'
import { api, hardNavigate } from '@/lib/client/bff'
import { accountValues, validateRegister } from '@/lib/validation'

export function RegisterForm() {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['email', 'password', 'confirm', 'full_name'])
  const [busy, setBusy] = useState(false)

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const values = accountValues(new FormData(event.currentTarget))
    if (!check(validateRegister(values, m))) return
    setBusy(true)
    try {
      await api('/auth/register', {
        method: 'POST',
        json: { email: values.email, password: values.password, full_name: values.full_name || null },
      })
      hardNavigate('/login?reason=registered')
    } catch (error) {
      fail(error)
      setBusy(false)
    }
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
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? m.auth.registering : m.auth.register}
        </button>
      </form>
      <div className="auth-links">
        <span>
          {m.auth.haveAccount} <Link href="/login">{m.auth.login}</Link>
        </span>
      </div>
    </>
  )
}

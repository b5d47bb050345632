'use client'

import Link from 'next/link'
import { useEffect, useState, type FormEvent } from 'react'
import { FormError, Notice } from '@/components/Alert'
import { Field } from '@/components/Field'
import { useFormErrors } from '@/components/useForm'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { SsoProvider } from '@/lib/api/types'
import { api, hardNavigate, request } from '@/lib/client/bff'
import { takeNewAccount } from '@/lib/client/new-account'
import { ApiError } from '@/lib/errors'
import { validateLogin } from '@/lib/validation'
import { SubmitButton } from './AuthParts'

export type LoginReason = 'expired' | 'registered' | 'reset' | 'logged_out' | 'verified' | null

interface Props {
  next: string
  reason: LoginReason
  providers: SsoProvider[]
  /** The code of a failed single sign-on, sent back here by the BFF's callback. */
  ssoError: string | null
  /** A provider account waiting for this account's password to be linked (its name). */
  linkProvider?: string | null
}

export function LoginForm({ next, reason, providers, ssoError, linkProvider = null }: Props) {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['email', 'password'], { username: 'email' })
  const [busy, setBusy] = useState(false)
  // The address of an account whose password was right but whose email is not confirmed yet.
  const [unverified, setUnverified] = useState<string | null>(null)
  const [resent, setResent] = useState(false)

  const notices: Record<Exclude<LoginReason, null>, { text: string; tone: 'info' | 'success' }> = {
    expired: { text: m.auth.expired, tone: 'info' },
    registered: { text: m.auth.registered, tone: 'success' },
    reset: { text: m.auth.resetDone, tone: 'success' },
    logged_out: { text: m.auth.loggedOut, tone: 'info' },
    verified: { text: m.auth.verified, tone: 'success' },
  }
  const notice = reason ? notices[reason] : null
  const ssoMessage = linkProvider
    ? null
    : ssoError
      ? ((m.errors as Record<string, string>)[ssoError] ?? m.errors.sso_provider_error)
      : null

  // Just registered: the address is filled in, the password is what is left to type.
  useEffect(() => {
    if (reason !== 'registered') return
    const email = takeNewAccount()
    const form = formRef.current
    const input = form?.elements.namedItem('email')
    const password = form?.elements.namedItem('password')
    if (!email || !(input instanceof HTMLInputElement) || input.value) return
    input.value = email
    if (password instanceof HTMLInputElement) password.focus()
  }, [reason, formRef])

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const data = new FormData(event.currentTarget)
    const values = { email: String(data.get('email') ?? '').trim(), password: String(data.get('password') ?? '') }
    if (!check(validateLogin(values, m))) return
    setBusy(true)
    setResent(false)
    try {
      await request('/api/auth/login', { method: 'POST', json: values, keep401: true })
      // A full navigation, so the server renders the next page with the new session cookies.
      hardNavigate(next)
    } catch (error) {
      setUnverified(error instanceof ApiError && error.code === 'email_not_verified' ? values.email : null)
      fail(error)
      setBusy(false)
    }
  }

  async function resend() {
    if (!unverified) return
    setBusy(true)
    try {
      await api('/auth/verify-email/resend', { method: 'POST', json: { email: unverified } })
      setResent(true)
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <h1>{m.auth.loginTitle}</h1>
      <p className="intro">{m.auth.loginIntro}</p>
      {ssoMessage && !problem.message ? <FormError message={ssoMessage} requestId={null} /> : null}
      {providers.length > 0 ? (
        <section className="sso" aria-labelledby="sso-heading">
          <h2 id="sso-heading" className="sso-heading">
            {m.auth.ssoHeading}
          </h2>
          {providers.map((provider) => (
            // A plain link: the BFF route answers with the redirect to the provider.
            <a
              key={provider.name}
              className="btn btn-secondary btn-block"
              href={`/api/auth/sso/${encodeURIComponent(provider.name)}?${new URLSearchParams({ next }).toString()}`}
              data-provider={provider.name}
            >
              {format(m.auth.ssoButton, { name: provider.display_name })}
            </a>
          ))}
          <p className="sso-or">{m.auth.ssoOr}</p>
        </section>
      ) : null}
      {linkProvider ? <LinkWithPassword provider={linkProvider} /> : null}
      {/* method="post": a submit before hydration must not put the password into the URL. */}
      <form ref={formRef} className="form" method="post" onSubmit={onSubmit} noValidate>
        {notice && !problem.message ? <Notice message={notice.text} tone={notice.tone} /> : null}
        {resent ? <Notice message={m.auth.resent} tone="info" /> : <FormError message={problem.message} requestId={problem.requestId} />}
        {unverified && !resent ? (
          <button type="button" className="btn btn-secondary btn-block" onClick={resend} disabled={busy}>
            {m.auth.resendLink}
          </button>
        ) : null}
        <Field label={m.auth.email} name="email" type="email" autoComplete="email" error={fields.email} required />
        <Field
          label={m.auth.password}
          name="password"
          type="password"
          autoComplete="current-password"
          error={fields.password}
          required
        />
        <SubmitButton busy={busy} busyLabel={m.auth.loggingIn} label={m.auth.login} />
      </form>
      <div className="auth-links">
        <Link href="/reset-password">{m.auth.forgotPassword}</Link>
        <span>
          {m.auth.noAccount} <Link href="/register">{m.auth.createAccount}</Link>
        </span>
      </div>
    </>
  )
}

/** The password once, to link the provider account the sign-in came back with, and sign in. */
function LinkWithPassword({ provider }: { provider: string }) {
  const { m } = useI18n()
  const { formRef, fields, problem, fail } = useFormErrors(['password'])
  const [busy, setBusy] = useState(false)

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const password = String(new FormData(event.currentTarget).get('password') ?? '')
    setBusy(true)
    try {
      const result = await request<{ redirect_to: string }>('/api/auth/sso/link-password', {
        method: 'POST',
        json: { password },
        keep401: true,
      })
      hardNavigate(result.redirect_to)
    } catch (error) {
      fail(error)
      setBusy(false)
    }
  }

  return (
    <section className="sso" aria-labelledby="sso-link-heading">
      <h2 id="sso-link-heading" className="sso-heading">
        {format(m.auth.ssoLinkHeading, { name: provider })}
      </h2>
      <form ref={formRef} className="form" method="post" onSubmit={onSubmit} noValidate data-testid="sso-link-form">
        <FormError message={problem.message} requestId={problem.requestId} />
        <p className="intro">{format(m.auth.ssoLinkIntro, { name: provider })}</p>
        <Field
          label={m.auth.ssoLinkPassword}
          name="password"
          type="password"
          autoComplete="current-password"
          error={fields.password}
          required
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {format(m.auth.ssoLinkSubmit, { name: provider })}
        </button>
      </form>
      <p className="sso-or">{m.auth.ssoOr}</p>
    </section>
  )
}

'use client'

import { useRouter } from 'next/navigation'
import { Fragment, useCallback, useEffect, useRef, useState, useSyncExternalStore, type FormEvent } from 'react'
import { FormError, Notice } from '@/components/Alert'
import { ConfirmDialog } from '@/components/ConfirmDialog'
import { Field } from '@/components/Field'
import { NewPasswordFields } from '@/components/NewPasswordFields'
import { useFormErrors } from '@/components/useForm'
import { useLoader, NO_PROBLEM, type Problem } from '@/components/useLoader'
import { useUser } from '@/components/UserContext'
import { format, roleName } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { LinkedIdentity, Session, SsoProvider } from '@/lib/api/types'
import { api, request, signOut } from '@/lib/client/bff'
import { formatDate, formatDateTime } from '@/lib/dates'
import { mapApiError } from '@/lib/errors'
import { validatePasswordChange } from '@/lib/validation'
import { describeAgent } from './device'

interface Props {
  providers: SsoProvider[]
  /** Back from the identity provider: the code of a failed link, or a link made. */
  ssoError: string | null
  linked: boolean
}

export function ProfileView({ providers, ssoError, linked }: Props) {
  const { m } = useI18n()
  const user = useUser()
  return (
    <div className="stack">
      <div className="page-head">
        <h1>{m.profile.title}</h1>
      </div>
      <AccountCard />
      {user.has_password ? <PasswordCard /> : null}
      {providers.length > 0 ? <LinkedAccountsCard providers={providers} ssoError={ssoError} linked={linked} /> : null}
      <SessionsCard />
    </div>
  )
}

/**
 * A confirmation that holds until the next thing the user does on the page (typing, a button,
 * another form): it reports the last action, not one from several actions ago.
 */
function useNotice<T>(initial: T | null = null): [T | null, (shown: T | null) => void] {
  const [shown, setShown] = useState<T | null>(initial)
  useEffect(() => {
    if (!shown) return
    const hide = (event: Event) => {
      if (event.type !== 'click' || (event.target instanceof Element && event.target.closest('button, a'))) {
        setShown(null)
      }
    }
    // Attached after the click that showed it has finished, so that click does not hide it.
    const timer = window.setTimeout(() => {
      for (const type of ['input', 'submit', 'click']) document.addEventListener(type, hide, true)
    })
    return () => {
      window.clearTimeout(timer)
      for (const type of ['input', 'submit', 'click']) document.removeEventListener(type, hide, true)
    }
  }, [shown])
  return [shown, setShown]
}

function LinkedAccountsCard({ providers, ssoError, linked }: Props) {
  const { m, locale } = useI18n()
  const user = useUser()
  const fetchIdentities = useCallback(() => api<LinkedIdentity[]>('/auth/sso/identities'), [])
  const { data: identities, problem: loadProblem, reload } = useLoader(fetchIdentities)
  const backError = ssoError ? ((m.errors as Record<string, string>)[ssoError] ?? m.errors.sso_provider_error) : null
  const [actionProblem, setActionProblem] = useState<Problem>({ message: backError, requestId: null })
  const problem = actionProblem.message ? actionProblem : loadProblem
  const [notice, setNotice] = useNotice<string>(linked ? m.profile.linked : null)
  const [busy, setBusy] = useState<string | null>(null)

  async function link(provider: SsoProvider) {
    setBusy(provider.name)
    try {
      const { url } = await request<{ url: string }>('/api/auth/sso/link', {
        method: 'POST',
        json: { provider: provider.name },
      })
      window.location.assign(url)
    } catch (error) {
      const mapped = mapApiError(error, m)
      setActionProblem({ message: mapped.form, requestId: mapped.requestId })
      setBusy(null)
    }
  }

  async function unlink(identity: LinkedIdentity) {
    setBusy(String(identity.id))
    setNotice(null)
    try {
      await api(`/auth/sso/identities/${identity.id}`, { method: 'DELETE' })
      setNotice(m.profile.unlinked)
      setActionProblem(NO_PROBLEM)
      reload()
    } catch (error) {
      const mapped = mapApiError(error, m)
      setActionProblem({ message: mapped.form, requestId: mapped.requestId })
    } finally {
      setBusy(null)
    }
  }

  // The last way to sign in stays: no password and one link left.
  const lastWay = !user.has_password && (identities?.length ?? 0) <= 1
  return (
    <section className="card" aria-labelledby="linked-heading">
      <h2 id="linked-heading">{m.profile.linkedTitle}</h2>
      <p className="card-intro">{user.has_password ? m.profile.linkedIntro : m.profile.noPassword}</p>
      <div className="stack stack-tight">
        <Notice message={notice} />
        <FormError message={problem.message} requestId={problem.requestId} />
        {identities === null && !problem.message ? <p className="hint">{m.app.loading}</p> : null}
        {identities && identities.length === 0 ? <p className="hint">{m.profile.noLinked}</p> : null}
        {identities && identities.length > 0 ? (
          <ul className="session-list" data-testid="linked-list">
            {identities.map((identity) => (
              <li key={identity.id} className="session">
                <div>
                  <div className="strong">{identity.display_name}</div>
                  <Facts
                    items={[
                      { text: identity.email },
                      { text: format(m.profile.linkedSince, { date: formatDateTime(identity.created_at, locale) }), whole: true },
                    ]}
                  />
                </div>
                {lastWay ? null : (
                  <button
                    type="button"
                    className="btn btn-danger-ghost btn-sm"
                    aria-label={format(m.profile.unlinkNamed, { name: identity.display_name })}
                    disabled={busy === String(identity.id)}
                    onClick={() => void unlink(identity)}
                  >
                    {m.profile.unlink}
                  </button>
                )}
              </li>
            ))}
          </ul>
        ) : null}
        <div className="row">
          {providers.map((provider) => (
            <button
              key={provider.name}
              type="button"
              className="btn btn-secondary"
              disabled={busy === provider.name}
              onClick={() => void link(provider)}
            >
              {format(m.profile.linkWith, { name: provider.display_name })}
            </button>
          ))}
        </div>
      </div>
    </section>
  )
}

function AccountCard() {
  const { m } = useI18n()
  const user = useUser()
  const router = useRouter()
  const { formRef, fields, problem, check, fail } = useFormErrors(['full_name'])
  const [busy, setBusy] = useState(false)
  const [saved, setSaved] = useNotice<boolean>()

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    if (busy) return
    const fullName = String(new FormData(event.currentTarget).get('full_name') ?? '').trim()
    if (!check(fullName.length > 100 ? { full_name: format(m.validation.tooLong, { max: 100 }) } : {})) return
    setBusy(true)
    setSaved(false)
    try {
      await api('/users/me', { method: 'PATCH', json: { full_name: fullName || null } })
      setSaved(true)
      router.refresh()
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="account-heading">
      <h2 id="account-heading" className="card-heading">
        {m.profile.account}
      </h2>
      <dl className="facts">
        <dt>{m.profile.email}</dt>
        <dd>{user.email}</dd>
        <dt>{m.profile.memberSince}</dt>
        <dd>
          <LocalDate iso={user.created_at} />
        </dd>
        <dt>{m.profile.roles}</dt>
        <dd>
          {user.roles.length > 0
            ? user.roles.map((role) => (
                <span key={role} className="badge badge-accent badge-spaced" data-role={role}>
                  {roleName(role, m)}
                </span>
              ))
            : m.profile.noRoles}
        </dd>
      </dl>
      <form ref={formRef} className="form" method="post" onSubmit={submit} noValidate>
        <Notice message={saved ? m.profile.nameSaved : null} />
        <FormError message={problem.message} requestId={problem.requestId} />
        <div className="row">
          <div className="grow">
            <Field
              label={m.profile.fullName}
              name="full_name"
              defaultValue={user.full_name ?? ''}
              autoComplete="name"
              error={fields.full_name}
            />
          </div>
          <button type="submit" className="btn btn-primary" aria-disabled={busy}>
            {busy ? m.common.saving : m.common.save}
          </button>
        </div>
      </form>
    </section>
  )
}

function PasswordCard() {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['current_password', 'new_password', 'confirm'])
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useNotice<boolean>()

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    if (busy) return
    const form = event.currentTarget
    const data = new FormData(form)
    const values = {
      current_password: String(data.get('current_password') ?? ''),
      new_password: String(data.get('new_password') ?? ''),
      confirm: String(data.get('confirm') ?? ''),
    }
    setDone(false)
    if (!check(validatePasswordChange(values, m))) return
    setBusy(true)
    try {
      await api('/auth/password-change', {
        method: 'POST',
        json: { current_password: values.current_password, new_password: values.new_password },
      })
      form.reset()
      setDone(true)
      window.dispatchEvent(new Event('koiki:sessions-changed'))
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="password-heading">
      <h2 id="password-heading">{m.profile.passwordTitle}</h2>
      <p className="card-intro">{m.profile.passwordIntro}</p>
      <form ref={formRef} className="form narrow-form" method="post" onSubmit={submit} noValidate>
        <Notice message={done ? m.profile.passwordChanged : null} />
        <FormError message={problem.message} requestId={problem.requestId} />
        <Field
          label={m.profile.currentPassword}
          name="current_password"
          type="password"
          autoComplete="current-password"
          error={fields.current_password}
          required
        />
        <NewPasswordFields name="new_password" label={m.profile.newPassword} confirmLabel={m.profile.confirmPassword} errors={fields} />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" aria-disabled={busy}>
            {busy ? m.common.saving : m.profile.changePassword}
          </button>
        </div>
      </form>
    </section>
  )
}

/**
 * A row's facts on one line, separated by dots. A narrow screen wraps between facts: a date like
 * 「2026年12月7日 06:37」 (`whole`) is never split, an address or IP breaks anywhere rather than
 * overflow.
 */
function Facts({ items }: { items: { text: string | null | undefined; whole?: boolean }[] }) {
  const shown = items.filter((item) => item.text)
  return (
    <div className="meta">
      {shown.map((item, index) => (
        <Fragment key={index}>
          {index > 0 ? ' · ' : null}
          <span className={item.whole ? 'nowrap' : 'meta-text'}>{item.text}</span>
        </Fragment>
      ))}
    </div>
  )
}

const noSubscription = () => () => {}

/**
 * A date in the browser's time zone. The server renders in its own zone (UTC in a container), so
 * formatting there would mismatch the hydrated page near midnight: it is formatted after
 * hydration only.
 */
function LocalDate({ iso }: { iso: string }) {
  const { locale } = useI18n()
  const hydrated = useSyncExternalStore(noSubscription, () => true, () => false)
  return <time dateTime={iso}>{hydrated ? formatDate(iso, locale) : ''}</time>
}

function SessionsCard() {
  const { m, locale } = useI18n()
  const fetchSessions = useCallback(() => api<Session[]>('/auth/sessions'), [])
  const { data: sessions, problem: loadProblem, reload } = useLoader(fetchSessions)
  const [actionProblem, setActionProblem] = useState<Problem>(NO_PROBLEM)
  const problem = actionProblem.message ? actionProblem : loadProblem
  const [revoked, setRevoked] = useState(false)
  const [confirmAll, setConfirmAll] = useState(false)
  // Ending the session of this very device logs the user out at once: it asks first.
  const [confirmHere, setConfirmHere] = useState<Session | null>(null)
  const [busyId, setBusyId] = useState<string | null>(null)
  const listRef = useRef<HTMLUListElement>(null)
  const everywhereRef = useRef<HTMLButtonElement>(null)
  // Where the ended session's row was: its End button had the focus, the next row's gets it.
  const focusRow = useRef<{ index: number; before: Session[] | null } | null>(null)

  useEffect(() => {
    // Once the reloaded list (without the ended session) is on screen.
    const pending = focusRow.current
    if (pending === null || sessions === pending.before) return
    focusRow.current = null
    const buttons = listRef.current?.querySelectorAll<HTMLButtonElement>('button') ?? []
    const next = buttons[Math.min(pending.index, buttons.length - 1)] ?? everywhereRef.current
    next?.focus()
  }, [sessions])

  useEffect(() => {
    window.addEventListener('koiki:sessions-changed', reload)
    return () => window.removeEventListener('koiki:sessions-changed', reload)
  }, [reload])

  async function revoke(session: Session) {
    if (busyId !== null) return
    setBusyId(session.id)
    setRevoked(false)
    try {
      await api(`/auth/sessions/${session.id}`, { method: 'DELETE' })
      if (session.current) {
        await signOut()
        return
      }
      setRevoked(true)
      setActionProblem(NO_PROBLEM)
      focusRow.current = { index: Math.max(sessions?.findIndex((item) => item.id === session.id) ?? 0, 0), before: sessions }
      reload()
    } catch (error) {
      const mapped = mapApiError(error, m)
      setActionProblem({ message: mapped.form, requestId: mapped.requestId })
    } finally {
      setBusyId(null)
    }
  }

  async function revokeAll() {
    try {
      await api('/auth/revoke-all-tokens', { method: 'POST', keep401: true })
    } finally {
      await signOut()
    }
  }

  return (
    <section className="card" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">{m.profile.sessionsTitle}</h2>
      <p className="card-intro">{m.profile.sessionsIntro}</p>
      <div className="stack stack-tight">
        <Notice message={revoked ? m.profile.revoked : null} />
        <FormError message={problem.message} requestId={problem.requestId} />
        {sessions === null && !problem.message ? <p className="hint">{m.app.loading}</p> : null}
        {sessions && sessions.length === 0 ? <p className="hint">{m.profile.noSessions}</p> : null}
        {sessions && sessions.length > 0 ? (
          <ul className="session-list" data-testid="session-list" ref={listRef}>
            {sessions.map((session) => {
              const device = describeAgent(session.user_agent) ?? m.profile.unknownDevice
              return (
                <li key={session.id} className="session">
                  <div>
                    <div className="strong">
                      <span translate="no">{device}</span>{' '}
                      {session.current ? <span className="badge badge-success">{m.profile.thisDevice}</span> : null}
                    </div>
                    <Facts
                      items={[
                        { text: session.ip },
                        { text: format(m.profile.signedIn, { date: formatDateTime(session.created_at, locale) }), whole: true },
                        {
                          text: session.last_used_at
                            ? format(m.profile.lastUsed, { date: formatDateTime(session.last_used_at, locale) })
                            : null,
                          whole: true,
                        },
                      ]}
                    />
                  </div>
                  <button
                    type="button"
                    className="btn btn-danger-ghost btn-sm"
                    aria-label={format(m.profile.revokeSession, { device })}
                    aria-disabled={busyId === session.id}
                    onClick={() => (session.current ? setConfirmHere(session) : revoke(session))}
                  >
                    {m.profile.revoke}
                  </button>
                </li>
              )
            })}
          </ul>
        ) : null}
        <div>
          <button type="button" className="btn btn-secondary" ref={everywhereRef} onClick={() => setConfirmAll(true)}>
            {m.profile.signOutEverywhere}
          </button>
        </div>
      </div>
      <ConfirmDialog
        open={confirmAll}
        title={m.profile.confirmEverywhereTitle}
        body={m.profile.confirmEverywhereBody}
        confirmLabel={m.profile.signOutEverywhere}
        onConfirm={revokeAll}
        onCancel={() => setConfirmAll(false)}
      />
      <ConfirmDialog
        open={confirmHere !== null}
        title={m.profile.confirmHereTitle}
        body={m.profile.confirmHereBody}
        confirmLabel={m.profile.revoke}
        busy={confirmHere !== null && busyId === confirmHere.id}
        onConfirm={() => {
          if (confirmHere) void revoke(confirmHere)
        }}
        onCancel={() => setConfirmHere(null)}
      />
    </section>
  )
}

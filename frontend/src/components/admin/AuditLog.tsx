'use client'

import { useCallback, useState, type FormEvent } from 'react'
import { FormError } from '@/components/Alert'
import { Field } from '@/components/Field'
import { Pagination } from '@/components/Pagination'
import { ScrollRegion } from '@/components/ScrollRegion'
import { useLoader } from '@/components/useLoader'
import { useI18n } from '@/i18n/client'
import type { AuditEvent, Page } from '@/lib/api/types'
import { describeTarget, eventActionName, type TargetText } from '@/lib/audit'
import { api } from '@/lib/client/bff'
import { formatDateTime } from '@/lib/dates'

const LIMIT = 20

export const AUDIT_ACTIONS = [
  'auth.login',
  'auth.login_locked',
  'auth.logout',
  'auth.refresh_reuse',
  'auth.password_change',
  'auth.password_reset_requested',
  'auth.password_reset',
  'auth.register_taken',
  'auth.email_verification',
  'auth.session_revoke',
  'auth.revoke_all',
  'user.create',
  'user.update',
  'user.delete',
  'role.create',
  'role.update',
  'role.delete',
] as const

interface Filters {
  action: string
  actor: string
  since: string
  until: string
}

const EMPTY: Filters = { action: '', actor: '', since: '', until: '' }

function dayBoundary(value: string, end: boolean): string | undefined {
  if (!value) return undefined
  const [y, m, d] = value.split('-').map(Number)
  if (!y || !m || !d) return undefined
  const date = end ? new Date(y, m - 1, d, 23, 59, 59, 999) : new Date(y, m - 1, d)
  return date.toISOString()
}

/** The API's query for these filters: the list and the CSV export ask for the same events. */
function filterQuery(filters: Filters): Record<string, string | undefined> {
  return {
    action: filters.action || undefined,
    actor: filters.actor || undefined,
    since: dayBoundary(filters.since, false),
    until: dayBoundary(filters.until, true),
  }
}

function exportHref(filters: Filters): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(filterQuery(filters))) {
    if (value !== undefined) query.set(key, value)
  }
  const search = query.toString()
  return `/api/bff/audit-events/export${search ? `?${search}` : ''}`
}

/** The target's text with its data (an address, a device) marked as not for translation. */
function Target({ text, data }: TargetText) {
  const at = data ? text.indexOf(data) : -1
  if (!data || at < 0) return <>{text}</>
  return (
    <>
      {text.slice(0, at)}
      <span translate="no">{data}</span>
      {text.slice(at + data.length)}
    </>
  )
}

export function AuditLog() {
  const { m, locale } = useI18n()
  const [filters, setFilters] = useState<Filters>(EMPTY)
  const [skip, setSkip] = useState(0)
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({})
  const [formKey, setFormKey] = useState(0)

  const fetchEvents = useCallback(
    () =>
      api<Page<AuditEvent>>('/audit-events', {
        query: {
          skip,
          limit: LIMIT,
          ...filterQuery(filters),
        },
      }),
    [skip, filters],
  )
  const { data: page, problem, reload } = useLoader(fetchEvents)

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const data = new FormData(event.currentTarget)
    const next: Filters = {
      action: String(data.get('action') ?? ''),
      actor: String(data.get('actor') ?? '').trim(),
      since: String(data.get('since') ?? ''),
      until: String(data.get('until') ?? ''),
    }
    const errors: Record<string, string> = {}
    // A range that ends before it starts matches nothing: say why, on the field, instead.
    if (next.since && next.until && next.since > next.until) errors.until = m.validation.dateOrder
    if (Object.keys(errors).length > 0) {
      setFieldErrors(errors)
      return
    }
    setFieldErrors({})
    setSkip(0)
    setFilters(next)
  }

  function actionName(code: string): string {
    return m.admin.actionNames[code] ?? code
  }

  // After a failed load `skip` already holds the page asked for: asking for it again must still load.
  function turnPage(next: number) {
    setSkip(next)
    reload()
  }

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>{m.admin.auditTitle}</h1>
          <p>{m.admin.auditIntro}</p>
        </div>
        {/* A plain link: the browser streams the file to disk through the BFF, cookies and all. */}
        <a className="btn btn-secondary" href={exportHref(filters)} download>
          {m.admin.exportCsv}
        </a>
      </div>
      <section className="card" aria-labelledby="audit-filters">
        <h2 id="audit-filters" className="card-heading">
          {m.admin.filters}
        </h2>
        <form key={formKey} className="row" onSubmit={apply} noValidate>
          <div className="field filter-wide">
            <label className="label" htmlFor="audit-action">
              {m.admin.action}
            </label>
            <select id="audit-action" name="action" className="select" defaultValue={filters.action}>
              <option value="">{m.admin.anyAction}</option>
              {AUDIT_ACTIONS.map((code) => (
                <option key={code} value={code}>
                  {actionName(code)}
                </option>
              ))}
            </select>
          </div>
          <div className="filter-wide">
            <Field
              label={m.admin.actorEmail}
              name="actor"
              type="search"
              autoComplete="off"
              placeholder={m.admin.actorEmailPlaceholder}
              defaultValue={filters.actor}
            />
          </div>
          <div className="filter-date">
            <Field label={m.admin.since} name="since" type="date" defaultValue={filters.since} error={fieldErrors.since} />
          </div>
          <div className="filter-date">
            <Field label={m.admin.until} name="until" type="date" defaultValue={filters.until} error={fieldErrors.until} />
          </div>
          <div className="form-actions">
            <button type="submit" className="btn btn-primary">
              {m.admin.apply}
            </button>
            <button
              type="button"
              className="btn btn-secondary"
              onClick={() => {
                setFilters(EMPTY)
                setSkip(0)
                setFormKey((k) => k + 1)
              }}
            >
              {m.common.clear}
            </button>
          </div>
        </form>
      </section>
      <section className="card card-flush" aria-label={m.admin.auditTitle}>
        {problem.message ? (
          <div className="card-message">
            <FormError message={problem.message} requestId={problem.requestId} />
          </div>
        ) : null}
        {page === null && !problem.message ? <p className="empty">{m.app.loading}</p> : null}
        {page && page.items.length === 0 ? <p className="empty">{m.admin.noEvents}</p> : null}
        {page && page.items.length > 0 ? (
          <ScrollRegion label={m.admin.auditTable}>
            <table className="table table-stack">
              <thead>
                <tr>
                  <th scope="col">{m.admin.time}</th>
                  <th scope="col">{m.admin.actor}</th>
                  <th scope="col">{m.admin.action}</th>
                  <th scope="col">{m.admin.outcome}</th>
                  <th scope="col" className="hide-sm">
                    {m.admin.target}
                  </th>
                  <th scope="col" className="hide-sm nowrap">
                    {m.admin.ip}
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((event) => (
                  <tr key={event.id} data-testid="audit-row">
                    <td data-label={m.admin.time} className="muted nowrap">
                      {formatDateTime(event.occurred_at, locale)}
                    </td>
                    <td data-label={m.admin.actor}>{event.actor_email ?? (event.actor_id !== null ? `#${event.actor_id}` : m.admin.system)}</td>
                    <td data-label={m.admin.action}>
                      {eventActionName(event, m)}
                      <div className="mono muted">{event.action}</div>
                    </td>
                    <td data-label={m.admin.outcome}>
                      <span className={`badge ${event.outcome === 'success' ? 'badge-success' : 'badge-danger'}`}>
                        {event.outcome === 'success' ? m.admin.success : m.admin.failure}
                      </span>
                    </td>
                    <td data-label={m.admin.target} className="hide-sm muted" data-testid="audit-target">
                      <Target {...describeTarget(event, m)} />
                    </td>
                    <td data-label={m.admin.ip} className="hide-sm mono muted">{event.ip ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollRegion>
        ) : null}
        <Pagination page={page} limit={LIMIT} onChange={turnPage} />
      </section>
    </div>
  )
}

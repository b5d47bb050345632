'use client'

import { useCallback, useEffect, useRef, useState } from 'react'
import { FormError } from '@/components/Alert'
import { ConfirmDialog } from '@/components/ConfirmDialog'
import { Pagination } from '@/components/Pagination'
import { ScrollRegion } from '@/components/ScrollRegion'
import { SearchField } from '@/components/SearchField'
import { Toast, useToast } from '@/components/Toast'
import { useLoader, NO_PROBLEM, type Problem } from '@/components/useLoader'
import { useUser } from '@/components/UserContext'
import { format, roleName } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { Page, Role, User } from '@/lib/api/types'
import { api } from '@/lib/client/bff'
import { formatDate } from '@/lib/dates'
import { ApiError, errorMessage, mapApiError } from '@/lib/errors'
import { NewUserDialog } from './NewUserDialog'
import { RolesDialog } from './RolesDialog'

const LIMIT = 20

export function UsersAdmin({ canWrite, canListRoles }: { canWrite: boolean; canListRoles: boolean }) {
  const { m, locale } = useI18n()
  const me = useUser()
  const [searchText, setSearchText] = useState('')
  const searchTyped = useRef(false)
  const [q, setQ] = useState('')
  const [skip, setSkip] = useState(0)
  const fetchUsers = useCallback(
    () => api<Page<User>>('/users', { query: { skip, limit: LIMIT, q: q || undefined } }),
    [skip, q],
  )
  const { data: page, problem, reload } = useLoader(fetchUsers)
  const fetchRoles = useCallback(async (): Promise<Role[] | null> => {
    if (!canWrite || !canListRoles) return null
    const list = await api<Role[] | Page<Role>>('/roles').catch(() => null)
    if (list === null) return null
    return Array.isArray(list) ? list : list.items
  }, [canWrite, canListRoles])
  const { data: roles } = useLoader(fetchRoles)
  const [editing, setEditing] = useState<User | null>(null)
  const [creating, setCreating] = useState(false)
  const [newUserForm, setNewUserForm] = useState(0)
  const [dialogError, setDialogError] = useState<Problem>(NO_PROBLEM)
  const [busyId, setBusyId] = useState<number | null>(null)
  // Deactivating signs the user out everywhere at once: it asks first, activating does not.
  const [toDeactivate, setToDeactivate] = useState<User | null>(null)
  const [toast, showToast] = useToast()

  // An unconfirmed address only matters where the deployment requires confirmation.
  const showUnverified = me.email_verification_required

  // Search as you type, once typing pauses; a new search starts on the first page.
  useEffect(() => {
    const next = searchText.trim()
    if (next === q) return
    const timer = window.setTimeout(() => {
      setQ(next)
      setSkip(0)
    }, 300)
    return () => window.clearTimeout(timer)
  }, [searchText, q])

  // The list is in creation order: a new account is on the last page of the unfiltered list.
  async function showNewest() {
    setSearchText('')
    setQ('')
    searchTyped.current = false
    const all = await api<Page<User>>('/users', { query: { limit: 1 } }).catch(() => null)
    // A search typed meanwhile wins over the jump.
    if (searchTyped.current) return
    setSkip(all ? Math.floor(Math.max(all.total - 1, 0) / LIMIT) * LIMIT : 0)
    reload()
  }

  // After a failed load `skip` already holds the page asked for: asking for it again must still load.
  function turnPage(next: number) {
    setSkip(next)
    reload()
  }

  async function setActive(user: User, active: boolean) {
    if (busyId !== null) return
    setBusyId(user.id)
    try {
      await api(`/users/${user.id}`, { method: 'PATCH', json: { is_active: active } })
      showToast((t) => format(active ? t.admin.activated : t.admin.deactivated, { email: user.email }))
      reload()
    } catch (error) {
      showToast((t) => (error instanceof ApiError ? errorMessage(error, t) : t.errors.network))
    } finally {
      setBusyId(null)
    }
  }

  // The administrator vouches for the address (audited by the API); nothing un-verifies it.
  async function markVerified(user: User) {
    if (busyId !== null) return
    setBusyId(user.id)
    try {
      await api(`/users/${user.id}`, { method: 'PATCH', json: { email_verified: true } })
      showToast((t) => format(t.admin.markedVerified, { email: user.email }))
      reload()
    } catch (error) {
      showToast((t) => (error instanceof ApiError ? errorMessage(error, t) : t.errors.network))
    } finally {
      setBusyId(null)
    }
  }

  async function saveRoles(user: User, names: string[]) {
    try {
      await api(`/users/${user.id}`, { method: 'PATCH', json: { roles: names } })
      setEditing(null)
      showToast((t) => format(t.admin.rolesSaved, { email: user.email }))
      reload()
    } catch (error) {
      const mapped = mapApiError(error, m)
      setDialogError({ message: mapped.form, requestId: mapped.requestId })
    }
  }

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>{m.admin.usersTitle}</h1>
          <p>{m.admin.usersIntro}</p>
        </div>
        {canWrite ? (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => {
              setNewUserForm((n) => n + 1)
              setCreating(true)
            }}
          >
            {m.admin.newUser}
          </button>
        ) : null}
      </div>
      <section className="card card-flush" aria-labelledby="users-heading">
        <h2 id="users-heading" className="visually-hidden">
          {m.admin.usersTitle}
        </h2>
        <div className="toolbar">
          <SearchField
            label={m.admin.searchUsers}
            placeholder={m.admin.searchUsersPlaceholder}
            value={searchText}
            onChange={(text) => {
              searchTyped.current = true
              setSearchText(text)
            }}
          />
        </div>
        {problem.message ? (
          <div className="card-message">
            <FormError message={problem.message} requestId={problem.requestId} />
          </div>
        ) : null}
        {page === null && !problem.message ? <p className="empty">{m.app.loading}</p> : null}
        {page && page.items.length === 0 ? <p className="empty">{m.admin.noUsers}</p> : null}
        {page && page.items.length > 0 ? (
          <ScrollRegion label={m.admin.usersTable}>
            <table className="table table-stack">
              <thead>
                <tr>
                  <th scope="col">{m.admin.email}</th>
                  <th scope="col" className="hide-sm">
                    {m.admin.name}
                  </th>
                  <th scope="col">{m.admin.status}</th>
                  <th scope="col">{m.admin.roles}</th>
                  <th scope="col" className="hide-sm nowrap">
                    {m.admin.created}
                  </th>
                  {canWrite ? <th scope="col">{m.admin.actions}</th> : null}
                </tr>
              </thead>
              <tbody>
                {page.items.map((user) => (
                  <tr key={user.id} data-testid="user-row">
                    <td data-label={m.admin.email}>
                      {user.email}{' '}
                      {user.id === me.id ? <span className="badge">{m.admin.you}</span> : null}{' '}
                      {user.is_superuser ? <span className="badge badge-accent">{m.admin.superuser}</span> : null}
                    </td>
                    <td data-label={m.admin.name} className="hide-sm" translate="no">
                      {user.full_name ?? <span className="muted">—</span>}
                    </td>
                    <td data-label={m.admin.status}>
                      <span className={`badge ${user.is_active ? 'badge-success' : 'badge-danger'}`}>
                        {user.is_active ? m.admin.active : m.admin.inactive}
                      </span>
                      {showUnverified && !user.email_verified_at ? (
                        <span className="badge badge-spaced">{m.admin.unverified}</span>
                      ) : null}
                    </td>
                    <td data-label={m.admin.roles}>
                      {user.roles.length > 0 ? (
                        user.roles.map((role) => (
                          <span key={role} className="badge badge-spaced" data-role={role}>
                            {roleName(role, m)}
                          </span>
                        ))
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td data-label={m.admin.created} className="hide-sm muted nowrap">{formatDate(user.created_at, locale)}</td>
                    {canWrite ? (
                      <td data-label={m.admin.actions}>
                        <div className="todo-actions">
                          {user.id !== me.id ? (
                            <button
                              type="button"
                              className={`btn btn-sm ${user.is_active ? 'btn-danger-ghost' : 'btn-secondary'}`}
                              aria-label={format(user.is_active ? m.admin.deactivateUser : m.admin.activateUser, {
                                email: user.email,
                              })}
                              aria-disabled={busyId === user.id}
                              onClick={() => (user.is_active ? setToDeactivate(user) : setActive(user, true))}
                            >
                              {user.is_active ? m.admin.deactivate : m.admin.activate}
                            </button>
                          ) : null}
                          {!showUnverified || user.email_verified_at ? null : (
                            <button
                              type="button"
                              className="btn btn-ghost btn-sm"
                              aria-label={format(m.admin.markVerifiedFor, { email: user.email })}
                              aria-disabled={busyId === user.id}
                              onClick={() => markVerified(user)}
                            >
                              {m.admin.markVerified}
                            </button>
                          )}
                          <button
                            type="button"
                            className="btn btn-ghost btn-sm"
                            aria-label={format(m.admin.editRolesFor, { email: user.email })}
                            onClick={() => {
                              setDialogError(NO_PROBLEM)
                              setEditing(user)
                            }}
                          >
                            {m.admin.editRoles}
                          </button>
                        </div>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollRegion>
        ) : null}
        <Pagination page={page} limit={LIMIT} onChange={turnPage} />
      </section>
      <NewUserDialog
        key={newUserForm}
        open={creating}
        roles={roles}
        offerVerified={showUnverified}
        onCreated={(user) => {
          setCreating(false)
          showToast((t) => format(t.admin.userCreated, { email: user.email }))
          // Show the new account without leaving its address in the search box.
          void showNewest()
        }}
        onClose={() => setCreating(false)}
      />
      <RolesDialog
        user={editing}
        roles={roles}
        error={dialogError}
        onSave={saveRoles}
        onClose={() => setEditing(null)}
      />
      <ConfirmDialog
        open={toDeactivate !== null}
        title={m.admin.confirmDeactivateTitle}
        body={format(m.admin.confirmDeactivateBody, { email: toDeactivate?.email ?? '' })}
        confirmLabel={m.admin.deactivate}
        busy={toDeactivate !== null && busyId === toDeactivate.id}
        onConfirm={async () => {
          if (toDeactivate) await setActive(toDeactivate, false)
          setToDeactivate(null)
        }}
        onCancel={() => setToDeactivate(null)}
      />
      <Toast message={toast} />
    </div>
  )
}

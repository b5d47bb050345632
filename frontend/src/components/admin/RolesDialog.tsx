'use client'

import { useId, useState } from 'react'
import { FormError } from '@/components/Alert'
import { useModal } from '@/components/useModal'
import { format, roleDescription, roleName } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { Role, User } from '@/lib/api/types'

interface Props {
  user: User | null
  roles: Role[] | null
  onSave: (user: User, roles: string[]) => Promise<void>
  onClose: () => void
  error: { message: string | null; requestId: string | null }
}

export function RolesDialog({ user, roles, onSave, onClose, error }: Props) {
  const { m } = useI18n()
  const modal = useModal(user !== null, onClose)
  const titleId = useId()
  const [busy, setBusy] = useState(false)

  return (
    <dialog {...modal} className="dialog" aria-labelledby={titleId}>
      <form
        key={user?.id ?? 'none'}
        onSubmit={async (event) => {
          event.preventDefault()
          if (!user) return
          const names = new FormData(event.currentTarget).getAll('roles').map(String)
          setBusy(true)
          try {
            await onSave(user, names)
          } finally {
            setBusy(false)
          }
        }}
      >
        <div className="dialog-body">
          <h2 id={titleId}>{user ? format(m.admin.rolesTitle, { email: user.email }) : ''}</h2>
          <FormError message={error.message} requestId={error.requestId} />
          {roles === null ? (
            <p>{m.admin.rolesUnavailable}</p>
          ) : (
            <fieldset className="role-editor">
              <legend className="visually-hidden">{m.admin.roles}</legend>
              {roles.map((role) => (
                <label key={role.id} className="checkbox">
                  <input
                    type="checkbox"
                    name="roles"
                    value={role.name}
                    defaultChecked={user?.roles.includes(role.name) ?? false}
                  />
                  <span>
                    <strong>{roleName(role.name, m)}</strong>
                    {roleDescription(role, m) ? <span className="hint"> — {roleDescription(role, m)}</span> : null}
                  </span>
                </label>
              ))}
            </fieldset>
          )}
        </div>
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            {m.common.cancel}
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy || roles === null}>
            {busy ? m.common.saving : m.admin.saveRoles}
          </button>
        </div>
      </form>
    </dialog>
  )
}

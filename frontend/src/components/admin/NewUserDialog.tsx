'use client'

import { useId, useState, type FormEvent } from 'react'
import { FormError } from '@/components/Alert'
import { Field } from '@/components/Field'
import { NewPasswordFields } from '@/components/NewPasswordFields'
import { useFormErrors } from '@/components/useForm'
import { useModal } from '@/components/useModal'
import { roleDescription, roleName } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { Role, User } from '@/lib/api/types'
import { api } from '@/lib/client/bff'
import { accountValues, validateRegister } from '@/lib/validation'

interface Props {
  open: boolean
  /** Null when the administrator may not list roles: the account then gets the API's default. */
  roles: Role[] | null
  /** Verification is required: the administrator may vouch for the address (off by default). */
  offerVerified: boolean
  onCreated: (user: User) => void
  onClose: () => void
}

const DEFAULT_ROLE = 'user'

/**
 * An administrator creates an account with an initial password, which its owner can change.
 * Give it a new `key` each time it opens, so every opening starts from an empty form.
 */
export function NewUserDialog({ open, roles, offerVerified, onCreated, onClose }: Props) {
  const { m } = useI18n()
  const modal = useModal(open, onClose)
  const titleId = useId()
  const { formRef, fields, problem, check, fail } = useFormErrors([
    'email',
    'password',
    'confirm',
    'full_name',
    'roles',
  ])
  const [busy, setBusy] = useState(false)

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const data = new FormData(event.currentTarget)
    const values = accountValues(data)
    if (!check(validateRegister(values, m))) return
    setBusy(true)
    try {
      const user = await api<User>('/users', {
        method: 'POST',
        json: {
          email: values.email,
          password: values.password,
          full_name: values.full_name || null,
          email_verified: offerVerified && data.get('email_verified') === 'on',
          ...(roles === null ? {} : { roles: data.getAll('roles').map(String) }),
        },
      })
      onCreated(user)
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <dialog {...modal} className="dialog" aria-labelledby={titleId}>
      <form ref={formRef} method="post" onSubmit={onSubmit} noValidate>
        <div className="dialog-body form">
          <h2 id={titleId}>{m.admin.newUserTitle}</h2>
          <p className="hint">{m.admin.newUserIntro}</p>
          <FormError message={problem.message} requestId={problem.requestId} />
          <Field label={m.auth.email} name="email" type="email" autoComplete="off" error={fields.email} required />
          <Field label={m.auth.fullName} name="full_name" autoComplete="off" error={fields.full_name} optional />
          <NewPasswordFields
            name="password"
            label={m.admin.initialPassword}
            confirmLabel={m.auth.confirmPassword}
            errors={fields}
          />
          {offerVerified ? (
            <label className="checkbox">
              <input type="checkbox" name="email_verified" />
              <span>
                <strong>{m.admin.emailVerified}</strong>
                <span className="hint"> — {m.admin.emailVerifiedHint}</span>
              </span>
            </label>
          ) : null}
          {roles === null ? null : (
            <fieldset className="role-editor">
              <legend className="label">{m.admin.roles}</legend>
              {roles.map((role) => (
                <label key={role.id} className="checkbox">
                  <input type="checkbox" name="roles" value={role.name} defaultChecked={role.name === DEFAULT_ROLE} />
                  <span>
                    <strong>{roleName(role.name, m)}</strong>
                    {roleDescription(role, m) ? <span className="hint"> — {roleDescription(role, m)}</span> : null}
                  </span>
                </label>
              ))}
              {fields.roles ? <p className="field-error">{fields.roles}</p> : null}
            </fieldset>
          )}
        </div>
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            {m.common.cancel}
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? m.common.saving : m.admin.createUser}
          </button>
        </div>
      </form>
    </dialog>
  )
}

'use client'

import { Field } from '@/components/Field'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import { PASSWORD_MIN_LENGTH } from '@/lib/validation'

/** A new password with its length hint, and the field that confirms it. */
export function NewPasswordFields({
  name,
  label,
  confirmLabel,
  errors,
}: {
  name: string
  label: string
  confirmLabel: string
  errors: Record<string, string | null | undefined>
}) {
  const { m } = useI18n()
  return (
    <>
      <Field
        label={label}
        name={name}
        type="password"
        autoComplete="new-password"
        hint={format(m.auth.passwordHint, { min: PASSWORD_MIN_LENGTH })}
        error={errors[name]}
        required
      />
      <Field
        label={confirmLabel}
        name="confirm"
        type="password"
        autoComplete="new-password"
        error={errors.confirm}
        required
      />
    </>
  )
}

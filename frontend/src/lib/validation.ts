import { format, type Messages } from '@/i18n'

export type FieldErrors = Record<string, string>

// The API's default PASSWORD_MIN_LENGTH; the API stays the judge of its other rules.
export const PASSWORD_MIN_LENGTH = 8
// The API's limits (app/todos/models.py), checked here too so the message comes at once.
export const TASK_TITLE_MAX = 255
export const TODO_DESCRIPTION_MAX = 10_000
export const PASSWORD_MAX_LENGTH = 128
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function checkEmail(value: string, m: Messages): string | null {
  if (!value.trim()) return m.validation.required
  return EMAIL.test(value.trim()) ? null : m.validation.email
}

export function checkNewPassword(value: string, m: Messages): string | null {
  if (!value) return m.validation.required
  if (value.length < PASSWORD_MIN_LENGTH) return format(m.validation.tooShort, { min: PASSWORD_MIN_LENGTH })
  if (value.length > PASSWORD_MAX_LENGTH) return format(m.validation.tooLong, { max: PASSWORD_MAX_LENGTH })
  return null
}

function collect(entries: Record<string, string | null>): FieldErrors {
  const errors: FieldErrors = {}
  for (const [field, message] of Object.entries(entries)) if (message) errors[field] = message
  return errors
}

export function validateLogin(values: { email: string; password: string }, m: Messages): FieldErrors {
  return collect({
    email: checkEmail(values.email, m),
    password: values.password ? null : m.validation.required,
  })
}

export interface AccountValues {
  email: string
  password: string
  confirm: string
  full_name: string
}

/** The fields of a new account (registration or an administrator's form), trimmed where it is safe. */
export function accountValues(data: FormData): AccountValues {
  return {
    full_name: String(data.get('full_name') ?? '').trim(),
    email: String(data.get('email') ?? '').trim(),
    password: String(data.get('password') ?? ''),
    confirm: String(data.get('confirm') ?? ''),
  }
}

export function validateRegister(values: AccountValues, m: Messages): FieldErrors {
  return collect({
    email: checkEmail(values.email, m),
    password: checkNewPassword(values.password, m),
    confirm: values.confirm === values.password ? null : m.validation.mismatch,
    full_name: values.full_name.length > 100 ? format(m.validation.tooLong, { max: 100 }) : null,
  })
}

export function validatePasswordChange(
  values: { current_password: string; new_password: string; confirm: string },
  m: Messages,
): FieldErrors {
  let newPassword = checkNewPassword(values.new_password, m)
  if (!newPassword && values.new_password === values.current_password) newPassword = m.validation.samePassword
  return collect({
    current_password: values.current_password ? null : m.validation.required,
    new_password: newPassword,
    confirm: values.confirm === values.new_password ? null : m.validation.mismatch,
  })
}

export function validateResetConfirm(values: { new_password: string; confirm: string }, m: Messages): FieldErrors {
  return collect({
    new_password: checkNewPassword(values.new_password, m),
    confirm: values.confirm === values.new_password ? null : m.validation.mismatch,
  })
}

export function validateTodo(values: { title: string; description: string; due_date: string }, m: Messages): FieldErrors {
  const title = values.title.trim()
  return collect({
    title: !title
      ? m.validation.required
      : title.length > TASK_TITLE_MAX
        ? format(m.validation.tooLong, { max: TASK_TITLE_MAX })
        : null,
    description:
      values.description.length > TODO_DESCRIPTION_MAX ? format(m.validation.tooLong, { max: TODO_DESCRIPTION_MAX }) : null,
    due_date: values.due_date && !/^\d{4}-\d{2}-\d{2}$/.test(values.due_date) ? m.validation.date : null,
  })
}

import { describe, expect, it } from 'vitest'
import { en } from '@/i18n/en'
import { validateLogin, validatePasswordChange, validateRegister, validateTodo } from '@/lib/validation'

describe('form validation', () => {
  it('needs a valid email and a password to log in', () => {
    expect(validateLogin({ email: 'nobody', password: '' }, en)).toEqual({
      email: en.validation.email,
      password: en.validation.required,
    })
    expect(validateLogin({ email: 'a@example.com', password: 'x' }, en)).toEqual({})
  })

  it('checks password length and confirmation on registration', () => {
    const errors = validateRegister({ email: 'a@example.com', password: 'short', confirm: 'other', full_name: '' }, en)
    expect(errors.password).toBe('Use at least 8 characters.')
    expect(errors.confirm).toBe(en.validation.mismatch)
    expect(errors.email).toBeUndefined()
  })

  it('refuses a new password equal to the current one', () => {
    const errors = validatePasswordChange(
      { current_password: 'Same-password-1', new_password: 'Same-password-1', confirm: 'Same-password-1' },
      en,
    )
    expect(errors).toEqual({ new_password: en.validation.samePassword })
  })

  it('requires a todo title within the API limit', () => {
    expect(validateTodo({ title: '   ', description: '', due_date: '' }, en).title).toBe(en.validation.required)
    expect(validateTodo({ title: 'x'.repeat(256), description: '', due_date: '' }, en).title).toBe(
      'Use at most 255 characters.',
    )
    expect(validateTodo({ title: 'ok', description: '', due_date: '2026-13' }, en).due_date).toBe(en.validation.date)
    expect(validateTodo({ title: 'ok', description: '', due_date: '2026-12-31' }, en)).toEqual({})
  })
})

import { describe, expect, it } from 'vitest'
import { en } from '@/i18n/en'
import { ja } from '@/i18n/ja'
import { ApiError, NetworkError, mapApiError, parseRetryAfter } from '@/lib/errors'

const validation = (detail: unknown) =>
  new ApiError(422, { detail, code: 'validation_error', request_id: 'req-1' })

describe('mapApiError', () => {
  it('puts FastAPI validation items next to their fields, renamed through aliases', () => {
    const error = validation([
      { loc: ['body', 'username'], msg: 'Field required', type: 'missing' },
      {
        loc: ['body', 'password'],
        msg: 'Value error, password must be at least 8 characters',
        type: 'value_error',
      },
    ])
    const mapped = mapApiError(error, en, ['email', 'password'], { username: 'email' })
    expect(mapped.fields).toEqual({
      email: 'This field is required.',
      password: 'Use at least 8 characters.',
    })
    expect(mapped.form).toBeNull()
    expect(mapped.requestId).toBe('req-1')
  })

  it('translates the password rules of the API into Japanese', () => {
    const error = validation([
      {
        loc: ['body', 'new_password'],
        msg: 'Value error, password is too common: it appears in a list of leaked passwords',
        type: 'value_error',
      },
    ])
    expect(mapApiError(error, ja, ['new_password']).fields.new_password).toBe(ja.validation.passwordCommon)
  })

  it('names why the policy refused a password, in both languages', () => {
    const reasons = {
      password_repeated: 'passwordRepeated',
      password_sequence: 'passwordSequence',
      password_common: 'passwordCommon',
      password_has_email: 'passwordHasEmail',
      password_context: 'passwordContext',
      password_guessable: 'passwordGuessable',
    } as const
    for (const [type, key] of Object.entries(reasons)) {
      const error = validation([
        { loc: ['body', 'password'], msg: 'Value error, password is too easy to guess', type },
      ])
      for (const m of [en, ja]) {
        expect(mapApiError(error, m, ['password']).fields.password).toBe(m.validation[key])
      }
    }
    expect(en.validation.passwordContext).not.toBe(ja.validation.passwordContext)
  })

  it('tells an unconfirmed address and a look-alike apart from a plain 403 or 409', () => {
    const unverified = new ApiError(403, { detail: 'x', code: 'email_not_verified', request_id: null })
    expect(mapApiError(unverified, en).form).toBe(en.errors.email_not_verified)
    expect(mapApiError(unverified, ja).form).toBe(ja.errors.email_not_verified)
    const lookalike = new ApiError(409, { detail: 'x', code: 'email_confusable', request_id: null })
    expect(mapApiError(lookalike, en).form).toBe(en.errors.email_confusable)
  })

  it('uses pydantic limits from ctx', () => {
    const error = validation([
      { loc: ['body', 'title'], msg: 'String should have at most 255 characters', type: 'string_too_long', ctx: { max_length: 255 } },
    ])
    expect(mapApiError(error, en, ['title']).fields.title).toBe('Use at most 255 characters.')
  })

  it('shows errors of unknown fields for the whole form, keeping the API text', () => {
    const error = validation([{ loc: ['query', 'limit'], msg: 'Input should be less than 100', type: 'less_than_equal' }])
    const mapped = mapApiError(error, en, ['title'])
    expect(mapped.fields).toEqual({})
    expect(mapped.form).toBe('Invalid value (Input should be less than 100).')
  })

  it('states the retry time of a 429', () => {
    const error = new ApiError(429, { detail: 'Too many requests', code: 'rate_limited' }, 42)
    expect(mapApiError(error, en).form).toBe('Too many requests. Please try again in 42 seconds.')
    expect(mapApiError(error, ja).form).toBe('リクエストが多すぎます。42秒後に再度お試しください。')
  })

  it('says the service is under maintenance, and for how long', () => {
    const error = new ApiError(503, { detail: 'Restoring', code: 'maintenance' }, 900)
    expect(mapApiError(error, en).form).toBe(
      'The service is under maintenance. Please try again in about 15 minutes.',
    )
    expect(mapApiError(error, ja).form).toBe('ただいまメンテナンス中です。約15分後に再度お試しください。')
  })

  it('rounds a long lockout up to minutes', () => {
    const error = new ApiError(429, { detail: 'Locked', code: 'login_locked' }, 900)
    expect(mapApiError(error, en).form).toBe('Too many sign-in attempts. Please try again in about 15 minutes.')
  })

  it('maps known codes and falls back on the status', () => {
    expect(mapApiError(new ApiError(401, { code: 'invalid_credentials' }), en).form).toBe(
      en.errors.invalid_credentials,
    )
    expect(mapApiError(new ApiError(409, { code: 'email_taken' }), ja).form).toBe(ja.errors.email_taken)
    // A wrong current password is the current password field's error, where the form has one.
    const wrong = mapApiError(new ApiError(400, { code: 'invalid_password' }), ja, ['current_password'])
    expect(wrong.fields).toEqual({ current_password: ja.errors.invalid_password })
    expect(wrong.form).toBeNull()
    expect(mapApiError(new ApiError(404, { code: 'something_new' }), en).form).toBe(en.errors.not_found)
    expect(mapApiError(new ApiError(500, { code: 'internal_error' }), en).form).toBe(
      'Something went wrong (500). Please try again in a moment.',
    )
  })

  it('reports a network failure', () => {
    expect(mapApiError(new NetworkError('offline'), en).form).toBe(en.errors.network)
  })
})

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('30')).toBe(30)
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60)
    expect(parseRetryAfter(null)).toBeNull()
    expect(parseRetryAfter('soon')).toBeNull()
  })
})

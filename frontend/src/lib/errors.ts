import { format, type Messages } from '@/i18n'

/** An error answer of the API or the BFF: `{detail, code, request_id}` plus the status. */
export interface ApiErrorBody {
  detail?: unknown
  code?: string
  request_id?: string | null
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    readonly retryAfter: number | null = null,
  ) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${status}`)
    this.name = 'ApiError'
  }

  get code(): string {
    return this.body.code ?? ''
  }
}

/** Thrown by the client when the BFF could not be reached at all. */
export class NetworkError extends Error {}

interface ValidationItem {
  loc: (string | number)[]
  msg: string
  type: string
  ctx?: Record<string, unknown>
}

export interface MappedError {
  /** Messages to show next to the named fields (keys are the form's field names). */
  fields: Record<string, string>
  /** A message for the form as a whole, when the error belongs to no field. */
  form: string | null
  requestId: string | null
}

function isValidationList(detail: unknown): detail is ValidationItem[] {
  return (
    Array.isArray(detail) &&
    detail.every(
      (item) =>
        typeof item === 'object' &&
        item !== null &&
        Array.isArray((item as ValidationItem).loc) &&
        typeof (item as ValidationItem).msg === 'string',
    )
  )
}

/** Parse a Retry-After header (seconds or HTTP date) into whole seconds from now. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return null
  return Math.max(0, Math.ceil((at - now) / 1000))
}

export function formatRetry(seconds: number, m: Messages): string {
  if (seconds >= 90) return format(m.errors.retryMinutes, { n: Math.ceil(seconds / 60) })
  return format(m.errors.retrySeconds, { n: Math.max(1, seconds) })
}

function number(ctx: Record<string, unknown> | undefined, key: string): number | null {
  const value = ctx?.[key]
  return typeof value === 'number' ? value : null
}

/** The API's password policy names its reason in the item's type. */
const PASSWORD_REASONS: Record<string, keyof Messages['validation'] | undefined> = {
  password_repeated: 'passwordRepeated',
  password_sequence: 'passwordSequence',
  password_common: 'passwordCommon',
  password_has_email: 'passwordHasEmail',
  password_context: 'passwordContext',
  password_guessable: 'passwordGuessable',
}

/** Translate one FastAPI/pydantic validation item into the UI language. */
export function validationMessage(item: ValidationItem, m: Messages): string {
  const raw = item.msg.replace(/^Value error, /, '')
  switch (item.type) {
    case 'missing':
      return m.validation.required
    case 'string_too_short': {
      const min = number(item.ctx, 'min_length')
      return min === 1 || min === null ? m.validation.required : format(m.validation.tooShort, { min })
    }
    case 'string_too_long': {
      const max = number(item.ctx, 'max_length')
      if (max !== null) return format(m.validation.tooLong, { max })
      break
    }
    case 'datetime_parsing':
    case 'datetime_from_date_parsing':
    case 'datetime_type':
    case 'date_parsing':
      return m.validation.date
    case 'int_parsing':
    case 'int_type':
      return m.validation.number
  }
  const passwordReason = PASSWORD_REASONS[item.type]
  if (passwordReason) return m.validation[passwordReason]
  const atLeast = /at least (\d+) characters/i.exec(raw)
  if (atLeast) return format(m.validation.tooShort, { min: atLeast[1] ?? '' })
  const atMost = /at most (\d+) characters/i.exec(raw)
  if (atMost) return format(m.validation.tooLong, { max: atMost[1] ?? '' })
  if (/too common/i.test(raw)) return m.validation.passwordCommon
  if (/must not contain the email/i.test(raw)) return m.validation.passwordHasEmail
  if (/email/i.test(raw) && /valid|not a valid|invalid/i.test(raw)) return m.validation.email
  return format(m.validation.invalid, { detail: raw })
}

/**
 * Decide where an API error is shown: 422 items next to their fields (renamed through
 * `aliases`, e.g. the login form's `username` is the `email` field), everything else as
 * one translated message for the form, with the retry time for 429.
 */
export function mapApiError(
  error: unknown,
  m: Messages,
  knownFields: readonly string[] = [],
  aliases: Record<string, string> = {},
): MappedError {
  if (!(error instanceof ApiError)) {
    const form = error instanceof NetworkError ? m.errors.network : format(m.errors.unknown, { status: '-' })
    return { fields: {}, form, requestId: null }
  }
  const requestId = error.body.request_id ?? null
  const fields: Record<string, string> = {}
  const loose: string[] = []
  if (error.status === 422 && isValidationList(error.body.detail)) {
    for (const item of error.body.detail) {
      const last = item.loc.length > 1 ? String(item.loc[item.loc.length - 1]) : ''
      const field = aliases[last] ?? last
      const text = validationMessage(item, m)
      if (knownFields.includes(field)) {
        if (!(field in fields)) fields[field] = text
      } else {
        loose.push(text)
      }
    }
    let form: string | null = loose.join(' ')
    if (!form) form = Object.keys(fields).length > 0 ? null : m.errors.validation_error
    return { fields, form, requestId }
  }
  // Errors that concern one field go beside it when the form has that field.
  const field = error.code ? CODE_FIELDS[error.code] : undefined
  if (field && knownFields.includes(field)) {
    return { fields: { [field]: errorMessage(error, m) }, form: null, requestId }
  }
  return { fields, form: errorMessage(error, m), requestId }
}

const CODE_FIELDS: Record<string, string> = {
  invalid_password: 'current_password',
}

/** One translated sentence for a non-validation error. */
export function errorMessage(error: ApiError, m: Messages): string {
  const code = error.code
  const retry = formatRetry(error.retryAfter ?? 60, m)
  if (code === 'login_locked') return format(m.errors.login_locked, { retry })
  if (error.status === 429) return format(m.errors.rate_limited, { retry })
  // `ops maintenance on` (or nginx with every replica down): say so, and when to come back.
  if (code === 'maintenance') return format(m.errors.maintenance, { retry })
  const known: Record<string, string> = {
    invalid_credentials: m.errors.invalid_credentials,
    email_taken: m.errors.email_taken,
    invalid_password: m.errors.invalid_password,
    invalid_reset_token: m.errors.invalid_reset_token,
    email_not_verified: m.errors.email_not_verified,
    email_confusable: m.errors.email_confusable,
    invalid_verification_token: m.errors.invalid_verification_token,
    permission_denied: m.errors.permission_denied,
    not_found: m.errors.not_found,
    conflict: m.errors.conflict,
    cannot_delete_self: m.errors.cannot_delete_self,
    payload_too_large: m.errors.payload_too_large,
    session_expired: m.errors.session_expired,
    not_authenticated: m.errors.session_expired,
    invalid_token: m.errors.session_expired,
    token_revoked: m.errors.session_expired,
    service_unavailable: m.errors.service_unavailable,
    database_unavailable: m.errors.service_unavailable,
    csrf_failed: m.errors.csrf_failed,
    origin_mismatch: m.errors.csrf_failed,
    validation_error: m.errors.validation_error,
    sso_invalid_state: m.errors.sso_invalid_state,
    sso_access_denied: m.errors.sso_access_denied,
    sso_code_rejected: m.errors.sso_code_rejected,
    sso_client_rejected: m.errors.sso_client_rejected,
    sso_invalid_id_token: m.errors.sso_invalid_id_token,
    sso_invalid_userinfo: m.errors.sso_invalid_userinfo,
    sso_provider_error: m.errors.sso_provider_error,
    sso_provider_unavailable: m.errors.sso_provider_unavailable,
    sso_email_not_verified: m.errors.sso_email_not_verified,
    sso_domain_not_allowed: m.errors.sso_domain_not_allowed,
    sso_no_account: m.errors.sso_no_account,
    sso_account_inactive: m.errors.sso_account_inactive,
    sso_link_required: m.errors.sso_link_required,
    sso_link_expired: m.errors.sso_link_expired,
    sso_identity_taken: m.errors.sso_identity_taken,
    sso_only_account: m.errors.sso_only_account,
    last_sign_in_method: m.errors.last_sign_in_method,
  }
  const text = known[code]
  if (text) return text
  if (error.status === 409) return m.errors.conflict
  if (error.status === 403) return m.errors.permission_denied
  if (error.status === 404) return m.errors.not_found
  if (error.status === 413) return m.errors.payload_too_large
  if (error.status === 503) return m.errors.service_unavailable
  return format(m.errors.unknown, { status: error.status })
}

// Runtime configuration of the Next.js server. Read through a plain object lookup so that
// Next does not inline NEXT_PUBLIC_* values at build time: the Docker image is built once and
// pointed at an API by the environment of the container (see deployment guide, compose file).
const env: Record<string, string | undefined> = process.env

const DEFAULT_API_URL = 'http://localhost:8000'
const DEFAULT_API_PREFIX = '/api/v1'

function trimSlash(value: string): string {
  return value.replace(/\/+$/, '')
}

/** Base URL of the versioned API, e.g. `http://app:8000/api/v1`. */
export function apiBaseUrl(): string {
  const base = env.NEXT_PUBLIC_API_BASE_URL?.trim()
  if (base) return trimSlash(base)
  const url = trimSlash(env.NEXT_PUBLIC_API_URL?.trim() || DEFAULT_API_URL)
  let prefix = env.NEXT_PUBLIC_API_PREFIX?.trim() || DEFAULT_API_PREFIX
  if (!prefix.startsWith('/')) prefix = `/${prefix}`
  return `${url}${trimSlash(prefix)}`
}

/** Secure flag (and the __Host- name prefix) for cookies; on by default in production. */
export function cookieSecure(): boolean {
  const flag = env.COOKIE_SECURE?.trim().toLowerCase()
  if (flag === 'true' || flag === '1') return true
  if (flag === 'false' || flag === '0') return false
  return env.NODE_ENV === 'production'
}

/** Public origin accepted in the Origin header, when fixed by configuration. */
export function configuredOrigin(): string | undefined {
  const origin = env.APP_ORIGIN?.trim()
  return origin ? trimSlash(origin) : undefined
}

/** Lifetime of the refresh cookie; matches the API's REFRESH_TOKEN_EXPIRE_DAYS default. */
export function refreshCookieMaxAge(): number {
  const days = Number(env.REFRESH_TOKEN_EXPIRE_DAYS ?? '7')
  return Math.round((Number.isFinite(days) && days > 0 ? days : 7) * 86400)
}

export const APP_VERSION: string = env.npm_package_version ?? '0.6.0'

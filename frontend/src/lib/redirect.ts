const FALLBACK = '/todos'

/**
 * A `next` target we are willing to send the browser to after login: a path on this site.
 * Anything else (absolute URLs, protocol-relative `//host`, backslash tricks) falls back.
 */
export function safeNext(value: string | null | undefined): string {
  if (!value || !value.startsWith('/') || value.startsWith('//')) return FALLBACK
  if (value.includes('\\') || /[\u0000-\u001f]/.test(value)) return FALLBACK
  if (value.startsWith('/login') || value.startsWith('/api/')) return FALLBACK
  return value
}

export function loginPath(next: string, expired: boolean): string {
  const params = new URLSearchParams({ next: safeNext(next) })
  if (expired) params.set('reason', 'expired')
  return `/login?${params.toString()}`
}

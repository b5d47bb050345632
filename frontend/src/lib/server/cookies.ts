import { cookieSecure, refreshCookieMaxAge } from './config'

// With Secure cookies we also use the __Host- prefix: the browser then refuses the cookie
// unless it is Secure, host-only and Path=/, so a sibling subdomain cannot plant one.
function name(base: string): string {
  return cookieSecure() ? `__Host-${base}` : base
}

export const cookieNames = {
  get access() {
    return name('koiki_at')
  },
  get refresh() {
    return name('koiki_rt')
  },
  get csrf() {
    return name('koiki_csrf')
  },
}

export interface TokenPair {
  access_token: string
  refresh_token: string
  expires_in: number
}

// The access cookie expires a little before the token so the browser drops it first and the
// next request refreshes instead of failing on a token that died in flight.
const ACCESS_EXPIRY_MARGIN_SECONDS = 30

interface CookieOptions {
  name: string
  value: string
  httpOnly: boolean
  secure: boolean
  sameSite: 'lax'
  path: string
  maxAge?: number
}

/** Both NextResponse.cookies and the cookies() store of a route handler fit this shape. */
interface CookieJar {
  set(options: CookieOptions): unknown
}

function base() {
  return { httpOnly: true, secure: cookieSecure(), sameSite: 'lax' as const, path: '/' }
}

export function setSessionCookies(jar: CookieJar, pair: TokenPair): void {
  const accessAge = Math.max(pair.expires_in - ACCESS_EXPIRY_MARGIN_SECONDS, 5)
  jar.set({ name: cookieNames.access, value: pair.access_token, maxAge: accessAge, ...base() })
  jar.set({
    name: cookieNames.refresh,
    value: pair.refresh_token,
    maxAge: refreshCookieMaxAge(),
    ...base(),
  })
}

export function clearSessionCookies(jar: CookieJar): void {
  for (const cookie of [cookieNames.access, cookieNames.refresh]) {
    jar.set({ name: cookie, value: '', maxAge: 0, ...base() })
  }
}

/** The CSRF cookie is the one cookie page JavaScript must read (double-submit). */
export function setCsrfCookie(jar: CookieJar, token: string): void {
  jar.set({
    name: cookieNames.csrf,
    value: token,
    httpOnly: false,
    secure: cookieSecure(),
    sameSite: 'lax',
    path: '/',
  })
}

export function newCsrfToken(): string {
  const bytes = new Uint8Array(32)
  crypto.getRandomValues(bytes)
  return Buffer.from(bytes).toString('base64url')
}

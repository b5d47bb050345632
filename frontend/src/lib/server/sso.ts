import { createHash, randomBytes } from 'node:crypto'
import { NextResponse, type NextRequest } from 'next/server'
import type { SsoProvider } from '@/lib/api/types'
import { callApi } from './api'
import { cookieSecure } from './config'
import { expectedOrigin } from './csrf'

// The secret that ties a sign-in at an identity provider to the browser that started it: its
// SHA-256 goes to the API with the start, the secret itself with the provider's answer. A
// sign-in started in another browser (an attacker's, planted in this one) is then refused.
const BASE = 'koiki_sso'
const MAX_AGE_SECONDS = 600

export function ssoCookieName(): string {
  return cookieSecure() ? `__Host-${BASE}` : BASE
}

export function newBinding(): { verifier: string; hash: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, hash: createHash('sha256').update(verifier).digest('hex') }
}

/** A sign-in, or a signed-in user linking an account: where a failure is best explained. */
export type SsoPurpose = 'login' | 'link'

export function setBindingCookie(response: NextResponse, verifier: string, purpose: SsoPurpose): void {
  // SameSite=Lax: the provider sends the browser back with a top-level GET, which carries it.
  response.cookies.set({
    name: ssoCookieName(),
    value: `${purpose}.${verifier}`,
    httpOnly: true,
    secure: cookieSecure(),
    sameSite: 'lax',
    path: '/',
    maxAge: MAX_AGE_SECONDS,
  })
}

export function readBindingCookie(value: string | undefined): { purpose: SsoPurpose; verifier: string } | null {
  const match = /^(login|link)\.([A-Za-z0-9_-]{16,256})$/.exec(value ?? '')
  return match ? { purpose: match[1] as SsoPurpose, verifier: match[2] as string } : null
}

export function clearBindingCookie(response: NextResponse): void {
  response.cookies.set({
    name: ssoCookieName(),
    value: '',
    httpOnly: true,
    secure: cookieSecure(),
    sameSite: 'lax',
    path: '/',
    maxAge: 0,
  })
}

/** A redirect to a path of this site, as the browser addressed it. */
export function redirectHere(request: NextRequest, path: string): NextResponse {
  return NextResponse.redirect(new URL(path, expectedOrigin(request)), 303)
}

/** Where a failed sign-in lands: the login page (or the profile, for a link), with the code. */
export function failurePath(code: string, place: 'login' | 'profile' = 'login'): string {
  const safe = /^[a-z_]{1,64}$/.test(code) ? code : 'sso_provider_error'
  return `/${place}?${new URLSearchParams({ sso_error: safe }).toString()}`
}

/** The identity providers for the login and profile pages; none when the API cannot say. */
export async function ssoProviders(): Promise<SsoProvider[]> {
  try {
    const response = await callApi('/auth/sso/providers')
    return response.ok ? ((await response.json()) as SsoProvider[]) : []
  } catch {
    return []
  }
}

// A first sign-in onto an existing password account: the API's single-use link token, this
// browser's binding secret (the API checks both) and the provider's name for the page, until
// the account's password is entered once on the login page.
const LINK_BASE = 'koiki_sso_link'

export interface PendingLink {
  token: string
  verifier: string
  provider: string
}

export function ssoLinkCookieName(): string {
  return cookieSecure() ? `__Host-${LINK_BASE}` : LINK_BASE
}

export function setLinkCookie(response: NextResponse, link: PendingLink, maxAge: number): void {
  response.cookies.set({
    name: ssoLinkCookieName(),
    value: Buffer.from(JSON.stringify(link)).toString('base64url'),
    httpOnly: true,
    // Lax: the login page that reads it is reached by a redirect chain that began at the
    // provider's site, which a Strict cookie would not follow. The POST that uses it checks
    // the Origin.
    secure: cookieSecure(),
    sameSite: 'lax',
    path: '/',
    maxAge: Math.max(1, Math.min(maxAge, MAX_AGE_SECONDS)),
  })
}

export function readLinkCookie(value: string | undefined): PendingLink | null {
  if (!value || value.length > 2048) return null
  try {
    const link = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<PendingLink>
    const { token, verifier, provider } = link
    if (typeof token !== 'string' || typeof verifier !== 'string' || typeof provider !== 'string') return null
    return { token, verifier, provider: provider.slice(0, 64) }
  } catch {
    return null
  }
}

export function clearLinkCookie(response: NextResponse): void {
  response.cookies.set({
    name: ssoLinkCookieName(),
    value: '',
    httpOnly: true,
    secure: cookieSecure(),
    sameSite: 'lax',
    path: '/',
    maxAge: 0,
  })
}

import { NextResponse, type NextRequest } from 'next/server'
import { safeNext } from '@/lib/redirect'
import { ApiUnreachable, callApi, errorResponse, missingField, passOnRefusal, serviceUnavailable } from '@/lib/server/api'
import { newCsrfToken, setCsrfCookie, setSessionCookies, type TokenPair } from '@/lib/server/cookies'
import { refuseCrossSite } from '@/lib/server/csrf'
import { clearLinkCookie, readLinkCookie, ssoLinkCookieName } from '@/lib/server/sso'

export const dynamic = 'force-dynamic'

/**
 * The account's password, once, links the provider account a first sign-in came back with (the
 * token in this browser's cookie) and signs in: the tokens go into the httpOnly cookies.
 */
export async function POST(request: NextRequest): Promise<Response> {
  const refusal = refuseCrossSite(request)
  if (refusal) return refusal
  const link = readLinkCookie(request.cookies.get(ssoLinkCookieName())?.value)
  if (!link) return errorResponse(400, 'sso_link_expired', 'This link offer has expired; sign in with your provider again.')
  const input: unknown = await request.json().catch(() => null)
  const password = typeof input === 'object' && input !== null ? (input as Record<string, unknown>).password : undefined
  if (typeof password !== 'string' || !password) {
    return missingField('password')
  }
  let upstream: Response
  try {
    upstream = await callApi('/auth/sso/link-with-password', {
      method: 'POST',
      json: { token: link.token, password, binding_verifier: link.verifier },
      from: request,
    })
  } catch (error) {
    if (error instanceof ApiUnreachable) return serviceUnavailable()
    throw error
  }
  if (!upstream.ok) {
    const response = await passOnRefusal(upstream)
    // A wrong password leaves the offer standing; anything else ends it.
    if (upstream.status !== 401) clearLinkCookie(response)
    return response
  }
  const result = (await upstream.json()) as { redirect_to: string; tokens: TokenPair }
  const response = NextResponse.json({ redirect_to: safeNext(result.redirect_to) })
  clearLinkCookie(response)
  setSessionCookies(response.cookies, result.tokens)
  setCsrfCookie(response.cookies, newCsrfToken())
  return response
}

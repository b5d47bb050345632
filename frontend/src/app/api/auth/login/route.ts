import { NextResponse, type NextRequest } from 'next/server'
import { ApiUnreachable, callApi, missingField, passOnRefusal, serviceUnavailable } from '@/lib/server/api'
import { newCsrfToken, setCsrfCookie, setSessionCookies, type TokenPair } from '@/lib/server/cookies'
import { refuseCrossSite } from '@/lib/server/csrf'

export const dynamic = 'force-dynamic'

/** Sign in: the token pair goes into httpOnly cookies and never into the response body. */
export async function POST(request: NextRequest): Promise<Response> {
  const refusal = refuseCrossSite(request)
  if (refusal) return refusal
  const input: unknown = await request.json().catch(() => null)
  const { email, password } = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >
  if (typeof email !== 'string' || typeof password !== 'string') {
    return missingField('email')
  }
  let upstream: Response
  try {
    upstream = await callApi('/auth/login', {
      method: 'POST',
      body: new URLSearchParams({ username: email, password }).toString(),
      contentType: 'application/x-www-form-urlencoded',
      from: request,
    })
  } catch (error) {
    if (error instanceof ApiUnreachable) return serviceUnavailable()
    throw error
  }
  if (!upstream.ok) return passOnRefusal(upstream)
  const pair = (await upstream.json()) as TokenPair
  const response = new NextResponse(null, { status: 204 })
  setSessionCookies(response.cookies, pair)
  // A fresh CSRF token per session, so a token planted before login is worthless after it.
  setCsrfCookie(response.cookies, newCsrfToken())
  return response
}

import { NextResponse, type NextRequest } from 'next/server'
import { ApiUnreachable, callApi } from '@/lib/server/api'
import { clearSessionCookies, cookieNames } from '@/lib/server/cookies'
import { refuseCrossSite } from '@/lib/server/csrf'
import { refreshSession } from '@/lib/server/session'

export const dynamic = 'force-dynamic'

/**
 * Sign out: the API revokes the access token and the refresh token family, then the cookies
 * go. The cookies are cleared even when the API cannot be reached, so the browser is out.
 * A session that came from an identity provider answers `{end_session_url}`: the page sends the
 * browser there, to sign out at the provider too (RP-initiated logout), and it comes back to
 * the login page.
 */
export async function POST(request: NextRequest): Promise<Response> {
  const refusal = refuseCrossSite(request)
  if (refusal) return refusal
  let refreshToken = request.cookies.get(cookieNames.refresh)?.value
  let accessToken = request.cookies.get(cookieNames.access)?.value
  let endSessionUrl: string | null = null
  try {
    if (!accessToken && refreshToken) {
      const pair = await refreshSession(refreshToken, request)
      accessToken = pair?.access_token
      refreshToken = pair?.refresh_token
    }
    if (accessToken) {
      const endSession = await callApi('/auth/sso/end-session', { token: accessToken, from: request })
      if (endSession.ok) {
        endSessionUrl = ((await endSession.json()) as { end_session_url: string | null }).end_session_url
      }
      await callApi('/auth/logout', {
        method: 'POST',
        token: accessToken,
        json: refreshToken ? { refresh_token: refreshToken } : {},
        from: request,
      })
    }
  } catch (error) {
    if (!(error instanceof ApiUnreachable)) throw error
  }
  const response = endSessionUrl
    ? NextResponse.json({ end_session_url: endSessionUrl })
    : new NextResponse(null, { status: 204 })
  clearSessionCookies(response.cookies)
  return response
}

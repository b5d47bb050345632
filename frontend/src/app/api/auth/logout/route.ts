import { NextResponse, type NextRequest } from 'next/server'
import { ApiUnreachable, callApi } from '@/lib/server/api'
import { clearSessionCookies, cookieNames } from '@/lib/server/cookies'
import { refuseCrossSite } from '@/lib/server/csrf'
import { refreshSession } from '@/lib/server/session'

export const dynamic = 'force-dynamic'

/**
 * Sign out: the API revokes the access token and the refresh token family, then the cookies
 * go. The cookies are cleared even when the API cannot be reached, so the browser is out.
 */
export async function POST(request: NextRequest): Promise<Response> {
  const refusal = refuseCrossSite(request)
  if (refusal) return refusal
  let refreshToken = request.cookies.get(cookieNames.refresh)?.value
  let accessToken = request.cookies.get(cookieNames.access)?.value
  try {
    if (!accessToken && refreshToken) {
      const pair = await refreshSession(refreshToken, request)
      accessToken = pair?.access_token
      refreshToken = pair?.refresh_token
    }
    if (accessToken) {
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
  const response = new NextResponse(null, { status: 204 })
  clearSessionCookies(response.cookies)
  return response
}

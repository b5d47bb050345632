import { NextResponse, type NextRequest } from 'next/server'
import { ApiUnreachable } from '@/lib/server/api'
import {
  clearSessionCookies,
  cookieNames,
  newCsrfToken,
  setCsrfCookie,
  setSessionCookies,
  type TokenPair,
} from '@/lib/server/cookies'
import { PATH_HEADER } from '@/lib/server/auth-header'
import { contentSecurityPolicy, newNonce } from '@/lib/server/csp'
import { MAINTENANCE_HEADER, noticeHeader } from '@/lib/server/maintenance-header'
import { maintenanceNow } from '@/lib/server/maintenance-probe'
import { refreshSession } from '@/lib/server/session'

/**
 * Runs before every page render. It sets the page's Content-Security-Policy with a fresh nonce
 * (Next.js reads it from the request and stamps its own scripts with it), hands out the CSRF
 * cookie, and when the access cookie has expired but a refresh cookie remains it refreshes the
 * session (once, shared by concurrent requests) so server components see a valid token. It never decides who may see a page:
 * the layouts ask the API for that.
 */
export async function proxy(request: NextRequest): Promise<NextResponse> {
  const { pathname, search } = request.nextUrl
  const refreshToken = request.cookies.get(cookieNames.refresh)?.value
  let renewed: TokenPair | null = null
  let refused = false
  if (!request.cookies.get(cookieNames.access) && refreshToken) {
    try {
      renewed = await refreshSession(refreshToken, request)
      refused = renewed === null
    } catch (error) {
      // The API is down: let the page render and report it rather than dropping the session.
      if (!(error instanceof ApiUnreachable)) throw error
    }
  }
  if (renewed) {
    request.cookies.set(cookieNames.access, renewed.access_token)
    request.cookies.set(cookieNames.refresh, renewed.refresh_token)
  } else if (refused) {
    request.cookies.delete(cookieNames.refresh)
  }
  const policy = contentSecurityPolicy(newNonce(), { development: process.env.NODE_ENV === 'development' })
  const headers = new Headers(request.headers)
  headers.set('content-security-policy', policy)
  headers.set(PATH_HEADER, `${pathname}${search}`)
  headers.set(
    'cookie',
    request.cookies
      .getAll()
      .map(({ name, value }) => `${name}=${value}`)
      .join('; '),
  )
  headers.delete(MAINTENANCE_HEADER)
  // `ops maintenance on`: every page is the maintenance page, with the status and Retry-After
  // a crawler or monitor understands (the browser keeps its URL; the page's link retries it).
  const notice = await maintenanceNow()
  if (notice) headers.set(MAINTENANCE_HEADER, noticeHeader(notice))
  // The status is the proxy's; the root layout renders the maintenance page in place of the route.
  const response = NextResponse.next(notice ? { status: 503, request: { headers } } : { request: { headers } })
  response.headers.set('Content-Security-Policy', policy)
  if (notice) {
    response.headers.set('Retry-After', String(notice.retryAfter ?? 60))
    response.headers.set('Cache-Control', 'no-store')
  }
  if (renewed) setSessionCookies(response.cookies, renewed)
  if (refused) clearSessionCookies(response.cookies)
  if (!request.cookies.get(cookieNames.csrf)) setCsrfCookie(response.cookies, newCsrfToken())
  return response
}

export const config = {
  // Pages only: route handlers under /api guard themselves; static assets need nothing.
  matcher: ['/((?!api/|_next/static|_next/image|favicon.ico|.*\\.(?:png|svg|ico|txt)$).*)'],
}

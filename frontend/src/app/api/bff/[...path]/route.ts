import { NextResponse, type NextRequest } from 'next/server'
import { ApiUnreachable, callApi, errorResponse, serviceUnavailable } from '@/lib/server/api'
import { apiPathFrom, isDownload, isProxied, isPublic } from '@/lib/server/bff-routes'
import { clearSessionCookies, cookieNames, setSessionCookies, type TokenPair } from '@/lib/server/cookies'
import { refuseCrossSite } from '@/lib/server/csrf'
import { refreshSession } from '@/lib/server/session'

// The browser's only door to the API: it adds the access token from the httpOnly cookie,
// refreshes it once (with rotation) when the API says it expired, and passes the answer back.
export const dynamic = 'force-dynamic'

const MAX_BODY_BYTES = 1024 * 1024
const PASSED_HEADERS = [
  'content-type',
  'content-disposition',
  'retry-after',
  'x-request-id',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
]

interface Context {
  params: Promise<{ path: string[] }>
}

async function handle(request: NextRequest, context: Context): Promise<Response> {
  const refusal = refuseCrossSite(request)
  if (refusal) return refusal
  const path = apiPathFrom((await context.params).path)
  const method = request.method
  if (!isProxied(method, path)) {
    return errorResponse(404, 'not_found', 'Not found.')
  }

  let body: ArrayBuffer | undefined
  if (method !== 'GET' && method !== 'HEAD') {
    body = await request.arrayBuffer()
    if (body.byteLength > MAX_BODY_BYTES) {
      return errorResponse(413, 'payload_too_large', 'Request body is too large.')
    }
  }
  const refreshToken = request.cookies.get(cookieNames.refresh)?.value
  let accessToken = request.cookies.get(cookieNames.access)?.value
  let renewed: TokenPair | null = null
  let refreshRefused = false

  const renew = async (): Promise<void> => {
    if (!refreshToken || renewed || refreshRefused) return
    renewed = await refreshSession(refreshToken, request)
    if (renewed) accessToken = renewed.access_token
    else refreshRefused = true
  }

  const send = () =>
    callApi(path, {
      method,
      token: accessToken,
      body: body && body.byteLength > 0 ? body : undefined,
      contentType: request.headers.get('content-type') ?? undefined,
      from: request,
      search: request.nextUrl.search,
      streamed: isDownload(path),
    })

  try {
    if (!accessToken) await renew()
    let upstream = await send()
    if (upstream.status === 401 && !renewed && refreshToken) {
      await renew()
      if (renewed) upstream = await send()
    }

    const sessionGone = upstream.status === 401 && !isPublic(path)
    let response: NextResponse
    if (sessionGone) {
      const requestId = upstream.headers.get('x-request-id')
      response = NextResponse.json(
        { detail: 'Your session has ended. Please sign in again.', code: 'session_expired', request_id: requestId },
        { status: 401 },
      )
    } else {
      const headers = new Headers()
      for (const name of PASSED_HEADERS) {
        const value = upstream.headers.get(name)
        if (value) headers.set(name, value)
      }
      headers.set('cache-control', 'no-store')
      // A download (the audit CSV) is passed on as it streams in; anything else is read whole.
      const download = upstream.ok && isDownload(path)
      const payload = upstream.status === 204 ? null : download ? upstream.body : await upstream.arrayBuffer()
      response = new NextResponse(payload, { status: upstream.status, headers })
    }
    if (sessionGone || refreshRefused) clearSessionCookies(response.cookies)
    else if (renewed) setSessionCookies(response.cookies, renewed)
    return response
  } catch (error) {
    if (error instanceof ApiUnreachable) return serviceUnavailable()
    throw error
  }
}

export const GET = handle
export const POST = handle
export const PUT = handle
export const PATCH = handle
export const DELETE = handle

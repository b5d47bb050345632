import { NextResponse } from 'next/server'
import { apiBaseUrl } from './config'

const API_TIMEOUT_MS = 15_000

export interface ApiCallOptions {
  method?: string
  token?: string
  /** JSON body (serialised here) or a prepared body with its own content type. */
  json?: unknown
  body?: BodyInit
  contentType?: string
  /** The browser's request, whose client address and user agent the API should see. */
  from?: IncomingRequest
  search?: string
  /** A download read as it streams: the timeout covers the wait for the answer, not the body. */
  streamed?: boolean
}

export interface IncomingRequest {
  headers: { get(name: string): string | null }
}

/** Thrown when the API cannot be reached at all (refused, DNS, timeout). */
export class ApiUnreachable extends Error {}

function forwardedHeaders(from: IncomingRequest | undefined): Record<string, string> {
  if (!from) return {}
  const headers: Record<string, string> = {}
  const agent = from.headers.get('user-agent')
  if (agent) headers['User-Agent'] = agent
  // One address, decided by this server before Next.js ran (server/client-address.cjs): the
  // peer's, or the one a trusted proxy named; never a client's own claim. The API believes it
  // because this server is in its TRUSTED_PROXIES.
  const chain = from.headers.get('x-forwarded-for')
  if (chain) headers['X-Forwarded-For'] = chain
  const requestId = from.headers.get('x-request-id')
  if (requestId) headers['X-Request-ID'] = requestId
  return headers
}

/** One call to the KOIKI API from the server. Never called from the browser. */
export async function callApi(path: string, options: ApiCallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    ...forwardedHeaders(options.from),
  }
  let body = options.body
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['Content-Type'] = 'application/json'
  } else if (options.contentType) {
    headers['Content-Type'] = options.contentType
  }
  if (options.token) headers.Authorization = `Bearer ${options.token}`
  const url = `${apiBaseUrl()}${path}${options.search ?? ''}`
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error('timeout')), API_TIMEOUT_MS)
  try {
    const response = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      body,
      cache: 'no-store',
      redirect: 'manual',
      signal: controller.signal,
    })
    if (options.streamed) clearTimeout(timer)
    return response
  } catch (error) {
    clearTimeout(timer)
    throw new ApiUnreachable(`API unreachable: ${(error as Error).message}`)
  }
}

/** An error body in the API's own shape, for failures the BFF itself decides. */
export function errorResponse(
  status: number,
  code: string,
  detail: string,
  headers?: Record<string, string>,
): Response {
  return Response.json({ detail, code, request_id: null }, { status, headers })
}

/** The answer when the API cannot be reached at all. */
export function serviceUnavailable(): Response {
  return errorResponse(503, 'service_unavailable', 'The service is temporarily unavailable.')
}

/** The API's refusal of a sign-in, passed on with the wait it asks for (rate limit, lockout). */
export async function passOnRefusal(upstream: Response): Promise<NextResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  const retryAfter = upstream.headers.get('retry-after')
  if (retryAfter) headers['retry-after'] = retryAfter
  return new NextResponse(await upstream.arrayBuffer(), { status: upstream.status, headers })
}

/** The API's 422 for a required body field the BFF found missing before calling it. */
export function missingField(field: string): Response {
  return Response.json(
    {
      detail: [{ loc: ['body', field], msg: 'Field required', type: 'missing' }],
      code: 'validation_error',
      request_id: null,
    },
    { status: 422 },
  )
}

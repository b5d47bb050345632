import { NextResponse, type NextRequest } from 'next/server'
import { ApiUnreachable, callApi, errorResponse, serviceUnavailable } from '@/lib/server/api'
import { cookieNames } from '@/lib/server/cookies'
import { refuseCrossSite } from '@/lib/server/csrf'
import { newBinding, setBindingCookie } from '@/lib/server/sso'

export const dynamic = 'force-dynamic'

/** Link an identity provider's account to the signed-in user: `{url}` to send the browser to. */
export async function POST(request: NextRequest): Promise<Response> {
  const refusal = refuseCrossSite(request)
  if (refusal) return refusal
  const input = (await request.json().catch(() => null)) as { provider?: unknown } | null
  const provider = input?.provider
  if (typeof provider !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(provider)) {
    return errorResponse(404, 'not_found', 'Identity provider not found')
  }
  // No refresh here: the profile page that shows the button has just renewed the access cookie
  // through /api/bff if it was due, and a rotation here would need its cookies set on this answer.
  const token = request.cookies.get(cookieNames.access)?.value
  if (!token) return errorResponse(401, 'session_expired', 'Your session has expired.')
  try {
    const binding = newBinding()
    const upstream = await callApi(`/auth/sso/${provider}/link`, {
      method: 'POST',
      token,
      json: { redirect_to: '/profile', binding: binding.hash },
      from: request,
    })
    if (upstream.status === 401) return errorResponse(401, 'session_expired', 'Your session has expired.')
    if (!upstream.ok) {
      return new Response(await upstream.arrayBuffer(), {
        status: upstream.status,
        headers: { 'content-type': 'application/json' },
      })
    }
    const { authorization_url: url } = (await upstream.json()) as { authorization_url: string }
    const response = NextResponse.json({ url })
    setBindingCookie(response, binding.verifier, 'link')
    return response
  } catch (error) {
    if (error instanceof ApiUnreachable) return serviceUnavailable()
    throw error
  }
}

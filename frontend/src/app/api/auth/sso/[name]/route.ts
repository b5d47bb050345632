import type { NextRequest } from 'next/server'
import { NextResponse } from 'next/server'
import { safeNext } from '@/lib/redirect'
import { ApiUnreachable, callApi } from '@/lib/server/api'
import { failurePath, newBinding, redirectHere, setBindingCookie } from '@/lib/server/sso'

export const dynamic = 'force-dynamic'

/**
 * Start a sign-in with an identity provider (the login page's buttons are links here): the API
 * answers with the provider's URL, where the browser goes with this browser's binding cookie.
 */
export async function GET(request: NextRequest, { params }: { params: Promise<{ name: string }> }) {
  const { name } = await params
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)) return redirectHere(request, failurePath('not_found'))
  const next = safeNext(request.nextUrl.searchParams.get('next'))
  const binding = newBinding()
  let upstream: Response
  try {
    upstream = await callApi(`/auth/sso/${name}/authorize`, {
      search: `?${new URLSearchParams({ redirect_to: next, binding: binding.hash }).toString()}`,
      from: request,
    })
  } catch (error) {
    if (error instanceof ApiUnreachable) return redirectHere(request, failurePath('service_unavailable'))
    throw error
  }
  const location = upstream.headers.get('location')
  if (upstream.status !== 302 || !location) {
    const body = (await upstream.json().catch(() => ({}))) as { code?: string }
    return redirectHere(request, failurePath(body.code ?? 'sso_provider_error'))
  }
  const response = NextResponse.redirect(location, 303)
  setBindingCookie(response, binding.verifier, 'login')
  return response
}

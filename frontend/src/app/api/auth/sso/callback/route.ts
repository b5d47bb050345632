import type { NextRequest } from 'next/server'
import { safeNext } from '@/lib/redirect'
import { ApiUnreachable, callApi } from '@/lib/server/api'
import { newCsrfToken, setCsrfCookie, setSessionCookies, type TokenPair } from '@/lib/server/cookies'
import {
  clearBindingCookie,
  failurePath,
  readBindingCookie,
  redirectHere,
  setLinkCookie,
  ssoCookieName,
} from '@/lib/server/sso'

export const dynamic = 'force-dynamic'

interface CallbackResult {
  redirect_to: string
  linked: boolean
  tokens: TokenPair | null
}

function clip(value: string | null, length: number): string | undefined {
  return value ? value.slice(0, length) : undefined
}

/**
 * Where identity providers send the browser back (the redirect URI registered with them). What
 * they sent, and this browser's binding secret, go to the API, which finishes the sign-in; our
 * tokens go into the httpOnly cookies, as after a password login, and never reach the page.
 */
export async function GET(request: NextRequest) {
  const query = request.nextUrl.searchParams
  const binding = readBindingCookie(request.cookies.get(ssoCookieName())?.value)
  const state = query.get('state')
  if (!state || !binding) {
    const response = redirectHere(request, failurePath('sso_invalid_state'))
    clearBindingCookie(response)
    return response
  }
  // A failed link is explained on the profile, where the user started it.
  const place = binding.purpose === 'link' ? 'profile' : 'login'
  let upstream: Response
  try {
    upstream = await callApi('/auth/sso/callback', {
      method: 'POST',
      json: {
        state: clip(state, 256),
        code: clip(query.get('code'), 2048),
        error: clip(query.get('error'), 128),
        error_description: clip(query.get('error_description'), 512),
        iss: clip(query.get('iss'), 255),
        binding_verifier: binding.verifier,
      },
      from: request,
    })
  } catch (error) {
    if (!(error instanceof ApiUnreachable)) throw error
    const response = redirectHere(request, failurePath('service_unavailable', place))
    clearBindingCookie(response)
    return response
  }
  if (!upstream.ok) {
    const body = (await upstream.json().catch(() => ({}))) as {
      code?: string
      link_token?: unknown
      provider?: unknown
      expires_in?: unknown
    }
    const response = redirectHere(request, failurePath(body.code ?? 'sso_provider_error', place))
    clearBindingCookie(response)
    if (body.code === 'sso_link_required' && typeof body.link_token === 'string' && typeof body.provider === 'string') {
      // The login page then offers to link with the account's password once.
      const maxAge = typeof body.expires_in === 'number' ? body.expires_in : 300
      setLinkCookie(response, { token: body.link_token, verifier: binding.verifier, provider: body.provider }, maxAge)
    }
    return response
  }
  const result = (await upstream.json()) as CallbackResult
  const target = safeNext(result.redirect_to)
  const response = redirectHere(request, result.linked ? `${target}${target.includes('?') ? '&' : '?'}sso_linked=1` : target)
  clearBindingCookie(response)
  if (result.tokens) {
    setSessionCookies(response.cookies, result.tokens)
    setCsrfCookie(response.cookies, newCsrfToken())
  }
  return response
}

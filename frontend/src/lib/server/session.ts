import { callApi, ApiUnreachable, type IncomingRequest } from './api'
import { cookieNames, type TokenPair } from './cookies'

// Refresh tokens rotate and the API treats a second use of the same one as theft (the whole
// session is ended). A page often fires several BFF calls at once after the access cookie
// expired, so concurrent refreshes of one token from one browser must share a single API call.
//
// Only that browser gets the shared pair, and only briefly: a request with the same refresh
// token is given it when it also carries the same CSRF cookie (set per login, held by the
// browser, never by a copied refresh token alone) and arrives while the exchange is in flight or
// within SHARE_WINDOW_MS after it. Anything else goes to the API with the old token, which the
// API recognises as reuse: the session ends and the replay gets nothing. (A window of seconds
// used to hand the new pair to anyone replaying the old token, thief included.)
// The proxy and the route handlers are bundled separately, hence the registry on globalThis.
interface Pending {
  result: Promise<TokenPair | null>
  holder: string
  settledAt: number | null
}

const SHARE_WINDOW_MS = 500
const registryKey = Symbol.for('koiki.frontend.refresh')

function registry(): Map<string, Pending> {
  const holder = globalThis as unknown as Record<symbol, Map<string, Pending> | undefined>
  let map = holder[registryKey]
  if (!map) {
    map = new Map()
    holder[registryKey] = map
  }
  return map
}

/** The browser's CSRF cookie: what a request must share with the one that rotated the token. */
function holderOf(from?: IncomingRequest): string {
  const header = from?.headers.get('cookie') ?? ''
  for (const part of header.split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === cookieNames.csrf) return part.slice(at + 1).trim()
  }
  return ''
}

function shareable(pending: Pending, now: number): boolean {
  return pending.settledAt === null || now - pending.settledAt <= SHARE_WINDOW_MS
}

function isTokenPair(value: unknown): value is TokenPair {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.access_token === 'string' &&
    typeof v.refresh_token === 'string' &&
    typeof v.expires_in === 'number'
  )
}

async function exchange(refreshToken: string, from?: IncomingRequest): Promise<TokenPair | null> {
  const response = await callApi('/auth/refresh', {
    method: 'POST',
    json: { refresh_token: refreshToken },
    from,
  })
  if (!response.ok) {
    if (response.status >= 500) throw new ApiUnreachable(`refresh failed: ${response.status}`)
    return null
  }
  const body: unknown = await response.json()
  return isTokenPair(body) ? body : null
}

/**
 * Exchange a refresh token for a new pair, once per token and browser. Returns null when the API
 * refuses it (expired, revoked, reused); throws ApiUnreachable when it cannot tell.
 */
export function refreshSession(refreshToken: string, from?: IncomingRequest): Promise<TokenPair | null> {
  const map = registry()
  const now = Date.now()
  for (const [token, pending] of map) {
    if (!shareable(pending, now)) map.delete(token)
  }
  const holder = holderOf(from)
  const existing = map.get(refreshToken)
  if (existing) {
    if (existing.holder === holder && holder !== '') return existing.result
    // Another party holds this token: let the API see the reuse (and end the session).
    return exchange(refreshToken, from)
  }
  const result = exchange(refreshToken, from)
  const entry: Pending = { result, holder, settledAt: null }
  map.set(refreshToken, entry)
  result.then(
    () => {
      entry.settledAt = Date.now()
    },
    // A failed attempt (API down) may be retried by the next request rather than cached.
    () => map.delete(refreshToken),
  )
  return result
}

import { callApi, ApiUnreachable, type IncomingRequest } from './api'
import type { TokenPair } from './cookies'

// Refresh tokens rotate and the API treats a second use of the same one as theft (the whole
// family is revoked). A page often fires several BFF calls at once after the access cookie
// expired, so concurrent refreshes of one token must share a single API call. The proxy and
// the route handlers are bundled separately, hence the process-wide registry on globalThis.
interface Pending {
  result: Promise<TokenPair | null>
  startedAt: number
}

const REUSE_WINDOW_MS = 20_000
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
 * Exchange a refresh token for a new pair, once per token. Returns null when the API
 * refuses it (expired, revoked, reused); throws ApiUnreachable when it cannot tell.
 */
export function refreshSession(refreshToken: string, from?: IncomingRequest): Promise<TokenPair | null> {
  const map = registry()
  const now = Date.now()
  for (const [token, pending] of map) {
    if (now - pending.startedAt > REUSE_WINDOW_MS) map.delete(token)
  }
  const existing = map.get(refreshToken)
  if (existing) return existing.result
  const result = exchange(refreshToken, from)
  map.set(refreshToken, { result, startedAt: now })
  // A failed attempt (API down) may be retried by the next request rather than cached.
  result.catch(() => map.delete(refreshToken))
  return result
}

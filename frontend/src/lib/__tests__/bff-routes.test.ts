import { describe, expect, it } from 'vitest'
import { apiPathFrom, isDownload, isProxied, isPublic } from '@/lib/server/bff-routes'

describe('BFF allow-list', () => {
  it('proxies the API the pages use', () => {
    expect(isProxied('GET', '/todos')).toBe(true)
    expect(isProxied('PATCH', '/todos/12')).toBe(true)
    expect(isProxied('DELETE', '/auth/sessions/0b7f2a3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c')).toBe(true)
    expect(isProxied('GET', '/audit-events')).toBe(true)
    expect(isProxied('GET', '/audit-events/export')).toBe(true)
  })

  it('streams only the downloads', () => {
    expect(isDownload('/audit-events/export')).toBe(true)
    expect(isDownload('/audit-events')).toBe(false)
  })

  it('never proxies the token endpoints, whose bodies carry tokens', () => {
    expect(isProxied('POST', '/auth/login')).toBe(false)
    expect(isProxied('POST', '/auth/refresh')).toBe(false)
    expect(isProxied('POST', '/auth/logout')).toBe(false)
    // The SSO answer carries our token pair: only the BFF's own callback handler posts it.
    expect(isProxied('POST', '/auth/sso/callback')).toBe(false)
    expect(isProxied('GET', '/auth/sso/testop/authorize')).toBe(false)
  })

  it('proxies the linked identities of the profile page', () => {
    expect(isProxied('GET', '/auth/sso/identities')).toBe(true)
    expect(isProxied('DELETE', '/auth/sso/identities/42')).toBe(true)
    expect(isProxied('DELETE', '/auth/sso/identities')).toBe(false)
  })

  it('refuses other methods and paths', () => {
    expect(isProxied('DELETE', '/todos')).toBe(false)
    expect(isProxied('POST', '/audit-events/export')).toBe(false)
    expect(isProxied('GET', '/todos/abc')).toBe(false)
    expect(isProxied('GET', apiPathFrom(['todos', '..', 'auth', 'refresh']))).toBe(false)
    expect(isProxied('GET', '/metrics')).toBe(false)
  })

  it('re-encodes path segments', () => {
    expect(apiPathFrom(['todos', '1/../../x'])).toBe('/todos/1%2F..%2F..%2Fx')
  })

  it('knows which calls need no session', () => {
    expect(isPublic('/auth/register')).toBe(true)
    expect(isPublic('/todos')).toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import { contentSecurityPolicy, newNonce } from '@/lib/server/csp'

function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(';').map((part) => {
      const [name = '', ...values] = part.trim().split(/\s+/)
      return [name, values]
    }),
  )
}

describe('contentSecurityPolicy', () => {
  it('lets only scripts and styles with the nonce run, never inline code or eval', () => {
    const policy = directives(contentSecurityPolicy('abc123'))
    expect(policy.get('script-src')).toEqual(["'self'", "'nonce-abc123'", "'strict-dynamic'"])
    expect(policy.get('style-src')).toEqual(["'self'", "'nonce-abc123'"])
    for (const values of policy.values()) {
      expect(values).not.toContain("'unsafe-inline'")
      expect(values).not.toContain("'unsafe-eval'")
    }
  })

  it('forbids framing, plugins and foreign form targets', () => {
    const policy = directives(contentSecurityPolicy('n'))
    expect(policy.get('frame-ancestors')).toEqual(["'none'"])
    expect(policy.get('object-src')).toEqual(["'none'"])
    expect(policy.get('form-action')).toEqual(["'self'"])
    expect(policy.get('base-uri')).toEqual(["'none'"])
  })

  it("adds 'unsafe-eval' and inline styles (for the Next.js dev tools) in development only", () => {
    const policy = directives(contentSecurityPolicy('n', { development: true }))
    expect(policy.get('script-src')).toEqual(["'self'", "'nonce-n'", "'strict-dynamic'", "'unsafe-eval'"])
    // No nonce beside 'unsafe-inline': browsers ignore 'unsafe-inline' when a nonce is listed.
    expect(policy.get('style-src')).toEqual(["'self'", "'unsafe-inline'"])
    const production = directives(contentSecurityPolicy('n', { development: false }))
    expect(production.get('style-src')).toEqual(["'self'", "'nonce-n'"])
    expect(production.get('script-src')).not.toContain("'unsafe-eval'")
  })
})

describe('newNonce', () => {
  it('gives 128 fresh random bits each time', () => {
    const nonces = new Set(Array.from({ length: 1000 }, newNonce))
    expect(nonces.size).toBe(1000)
    for (const nonce of nonces) expect(atob(nonce)).toHaveLength(16)
  })
})

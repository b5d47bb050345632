import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { failurePath, newBinding, readBindingCookie } from '@/lib/server/sso'

describe('SSO browser binding', () => {
  it('sends only the hash of the secret the cookie keeps', () => {
    const { verifier, hash } = newBinding()
    expect(hash).toBe(createHash('sha256').update(verifier).digest('hex'))
    expect(newBinding().verifier).not.toBe(verifier)
  })

  it('reads back the purpose and the secret, and nothing else', () => {
    const { verifier } = newBinding()
    expect(readBindingCookie(`link.${verifier}`)).toEqual({ purpose: 'link', verifier })
    expect(readBindingCookie(`login.${verifier}`)).toEqual({ purpose: 'login', verifier })
    expect(readBindingCookie(verifier)).toBeNull()
    expect(readBindingCookie(`admin.${verifier}`)).toBeNull()
    expect(readBindingCookie('login.short')).toBeNull()
    expect(readBindingCookie(undefined)).toBeNull()
  })
})

describe('failurePath', () => {
  it('carries a known-shaped code to the login page or the profile', () => {
    expect(failurePath('sso_access_denied')).toBe('/login?sso_error=sso_access_denied')
    expect(failurePath('sso_identity_taken', 'profile')).toBe('/profile?sso_error=sso_identity_taken')
  })

  it('never lets an odd code through', () => {
    expect(failurePath('<script>')).toBe('/login?sso_error=sso_provider_error')
  })
})

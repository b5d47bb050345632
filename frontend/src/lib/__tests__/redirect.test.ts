import { describe, expect, it } from 'vitest'
import { loginPath, safeNext } from '@/lib/redirect'

describe('safeNext', () => {
  it('keeps paths on this site', () => {
    expect(safeNext('/todos?filter=done&q=report')).toBe('/todos?filter=done&q=report')
    expect(safeNext('/admin/users')).toBe('/admin/users')
  })

  it.each(['https://evil.example', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', '', null, '/login?next=/x', '/api/bff/todos'])(
    'falls back for %s',
    (value) => {
      expect(safeNext(value)).toBe('/todos')
    },
  )

  it('builds the login URL with the way back', () => {
    expect(loginPath('/profile', true)).toBe('/login?next=%2Fprofile&reason=expired')
    expect(loginPath('//evil', false)).toBe('/login?next=%2Ftodos')
  })
})

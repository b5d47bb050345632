import { NextRequest } from 'next/server'
import { describe, expect, it } from 'vitest'
import { refuseCrossSite } from '@/lib/server/csrf'

const ORIGIN = 'http://localhost:3000'

function post(headers: Record<string, string>) {
  return new NextRequest(`${ORIGIN}/api/bff/todos`, { method: 'POST', headers: { host: 'localhost:3000', ...headers } })
}

async function code(response: Response | null) {
  return response ? ((await response.json()) as { code: string }).code : null
}

describe('refuseCrossSite', () => {
  it('lets reads through', () => {
    expect(refuseCrossSite(new NextRequest(`${ORIGIN}/api/bff/todos`))).toBeNull()
  })

  it('refuses a write from another origin or with no origin', async () => {
    expect(await code(refuseCrossSite(post({ origin: 'https://evil.example', cookie: 'koiki_csrf=t', 'x-csrf-token': 't' })))).toBe(
      'origin_mismatch',
    )
    expect(await code(refuseCrossSite(post({ cookie: 'koiki_csrf=t', 'x-csrf-token': 't' })))).toBe('origin_mismatch')
  })

  it('refuses a write whose header does not echo the CSRF cookie', async () => {
    expect(await code(refuseCrossSite(post({ origin: ORIGIN, cookie: 'koiki_csrf=t' })))).toBe('csrf_failed')
    expect(await code(refuseCrossSite(post({ origin: ORIGIN, cookie: 'koiki_csrf=t', 'x-csrf-token': 'u' })))).toBe(
      'csrf_failed',
    )
    expect(await code(refuseCrossSite(post({ origin: ORIGIN, 'x-csrf-token': 't' })))).toBe('csrf_failed')
  })

  it('allows a same-origin write with the matching token', () => {
    expect(refuseCrossSite(post({ origin: ORIGIN, cookie: 'koiki_csrf=t0k3n', 'x-csrf-token': 't0k3n' }))).toBeNull()
  })

  it('honours the scheme a TLS-terminating proxy reports', () => {
    const request = post({
      origin: 'https://todo.example',
      host: 'todo.example',
      'x-forwarded-proto': 'https',
      cookie: 'koiki_csrf=t',
      'x-csrf-token': 't',
    })
    expect(refuseCrossSite(request)).toBeNull()
  })
})

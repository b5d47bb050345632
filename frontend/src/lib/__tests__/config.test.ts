import { afterEach, describe, expect, it } from 'vitest'
import { apiBaseUrl } from '@/lib/server/config'

const NAMES = ['NEXT_PUBLIC_API_BASE_URL', 'NEXT_PUBLIC_API_URL', 'NEXT_PUBLIC_API_PREFIX'] as const
const saved = Object.fromEntries(NAMES.map((name) => [name, process.env[name]]))

afterEach(() => {
  for (const name of NAMES) {
    if (saved[name] === undefined) delete process.env[name]
    else process.env[name] = saved[name]
  }
})

function env(values: Partial<Record<(typeof NAMES)[number], string>>) {
  for (const name of NAMES) delete process.env[name]
  Object.assign(process.env, values)
}

describe('apiBaseUrl', () => {
  it('defaults to the local API', () => {
    env({})
    expect(apiBaseUrl()).toBe('http://localhost:8000/api/v1')
  })

  it('prefers the full base URL of the compose file', () => {
    env({ NEXT_PUBLIC_API_BASE_URL: 'http://app:8000/api/v1/', NEXT_PUBLIC_API_URL: 'http://other:1' })
    expect(apiBaseUrl()).toBe('http://app:8000/api/v1')
  })

  it('joins URL and prefix otherwise', () => {
    env({ NEXT_PUBLIC_API_URL: 'http://127.0.0.1:8010/', NEXT_PUBLIC_API_PREFIX: 'api/v2' })
    expect(apiBaseUrl()).toBe('http://127.0.0.1:8010/api/v2')
  })
})

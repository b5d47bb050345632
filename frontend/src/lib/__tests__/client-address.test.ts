import { describe, expect, it } from 'vitest'
import { clientAddress, trustedNetworks } from '../../../server/client-address.cjs'

// What the standalone server hands Next.js (and so the BFF, and so the API) as X-Forwarded-For.
describe('clientAddress', () => {
  const loopback = trustedNetworks(undefined)

  it('ignores the header of a client that reached the server directly', () => {
    expect(clientAddress('10.9.8.7', '203.0.113.5', loopback)).toBe('203.0.113.5')
    expect(clientAddress('10.9.8.7, 127.0.0.1', '::ffff:198.51.100.2', loopback)).toBe('198.51.100.2')
  })

  it('believes a trusted proxy, as far as trust goes', () => {
    expect(clientAddress('10.9.8.7', '127.0.0.1', loopback)).toBe('10.9.8.7')
    expect(clientAddress('6.6.6.6, 10.9.8.7', '127.0.0.1', loopback)).toBe('10.9.8.7')
    const edge = trustedNetworks('172.30.10.0/24')
    expect(clientAddress('6.6.6.6, 198.51.100.9, 172.30.10.3', '172.30.10.2', edge)).toBe('198.51.100.9')
    // A proxy that sends no header: the proxy itself is all we know.
    expect(clientAddress(undefined, '127.0.0.1', loopback)).toBe('127.0.0.1')
  })

  it('stops at a hop that is not an address', () => {
    expect(clientAddress('10.1.1.1, nonsense', '127.0.0.1', loopback)).toBe('127.0.0.1')
  })

  it('refuses a trusted-proxy setting that is not a network', () => {
    expect(() => trustedNetworks('10.0.0.0/8, edge')).toThrow(/BFF_TRUSTED_PROXIES/)
    expect(trustedNetworks('').check('127.0.0.1', 'ipv4')).toBe(false)
  })
})

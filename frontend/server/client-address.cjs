'use strict'
// Installed first by the standalone server (scripts/standalone-assets.mjs puts
// `require('./client-address.cjs').install()` at the top of .next/standalone/server.js). Next.js keeps a client's own X-Forwarded-For and only fills
// it in when absent, so a client reaching this server directly could name any address, and the
// BFF would pass that claim to the API, which trusts this server: the client would choose the
// address that rate limits, the login lockout and the audit trail see.
//
// Before Next.js sees a request, its X-Forwarded-For is replaced by one address: the peer's, or,
// when the peer is a trusted proxy (BFF_TRUSTED_PROXIES, default loopback), the address that
// proxy names, walking the chain from the right as far as proxies are trusted.
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by node as is */
const http = require('node:http')
const https = require('node:https')
const net = require('node:net')

const DEFAULT_TRUSTED = '127.0.0.1/32,::1/128'

function plain(address) {
  // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
  const text = String(address || '').trim()
  return text.toLowerCase().startsWith('::ffff:') && net.isIPv4(text.slice(7)) ? text.slice(7) : text
}

/** A BlockList of the trusted networks (comma-separated CIDRs or addresses). */
function trustedNetworks(spec) {
  const list = new net.BlockList()
  for (const item of String(spec ?? DEFAULT_TRUSTED).split(',')) {
    const entry = item.trim()
    if (!entry) continue
    const [address, bits] = entry.split('/')
    const family = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : null
    if (!family) throw new Error(`BFF_TRUSTED_PROXIES: ${JSON.stringify(entry)} is not an IP network`)
    const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits)
    list.addSubnet(address, prefix, family)
  }
  return list
}

function isTrusted(list, address) {
  const family = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : null
  return family !== null && list.check(address, family)
}

/**
 * The client's address: the peer, unless the peer is trusted, then the right-most hop of the
 * header that is not a trusted proxy (or the left-most, if all are). Anything that is not an IP
 * address ends the walk: a trusted proxy never writes one, so the hop to its left is a claim.
 */
function clientAddress(forwardedFor, peer, trusted) {
  let client = plain(peer)
  if (!isTrusted(trusted, client)) return client
  const hops = String(forwardedFor ?? '')
    .split(',')
    .map((hop) => plain(hop))
    .filter(Boolean)
  while (hops.length > 0) {
    const hop = hops.pop()
    if (net.isIP(hop) === 0) break
    client = hop
    if (!isTrusted(trusted, hop)) break
  }
  return client
}

function install(env = process.env) {
  const trusted = trustedNetworks(env.BFF_TRUSTED_PROXIES)
  const rewrite = (request) => {
    const client = clientAddress(request.headers['x-forwarded-for'], request.socket?.remoteAddress, trusted)
    if (client) request.headers['x-forwarded-for'] = client
    else delete request.headers['x-forwarded-for']
  }
  for (const library of [http, https]) {
    const create = library.createServer
    library.createServer = function createServer(...args) {
      const server = create.apply(this, args)
      // First listener: runs before Next.js's request handler reads the headers.
      server.prependListener('request', rewrite)
      return server
    }
  }
}

module.exports = { clientAddress, trustedNetworks, install }

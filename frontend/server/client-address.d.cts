import type { BlockList } from 'node:net'

export function clientAddress(forwardedFor: string | undefined, peer: string | undefined, trusted: BlockList): string
export function trustedNetworks(spec: string | undefined): BlockList
export function install(env?: Record<string, string | undefined>): void

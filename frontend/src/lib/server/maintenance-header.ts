import type { Maintenance } from '@/lib/maintenance'

/**
 * How the proxy hands the maintenance notice to the page it rewrites to. The proxy removes any
 * copy a client sent, so only the API's own words are ever shown.
 */
export const MAINTENANCE_HEADER = 'x-koiki-maintenance'

export function noticeHeader(notice: Maintenance): string {
  // Header values are Latin-1: the operator's message may well be Japanese.
  return encodeURIComponent(JSON.stringify(notice))
}

export function readNoticeHeader(value: string | null): Maintenance | null {
  if (!value) return null
  try {
    const data: unknown = JSON.parse(decodeURIComponent(value))
    if (typeof data !== 'object' || data === null) return null
    const { message, retryAfter } = data as Record<string, unknown>
    if (typeof message !== 'string') return null
    return { message, retryAfter: typeof retryAfter === 'number' ? retryAfter : null }
  } catch {
    return null
  }
}

import { describe, expect, it } from 'vitest'
import { maintenanceFrom } from '@/lib/maintenance'
import { noticeHeader, readNoticeHeader } from '@/lib/server/maintenance-header'

const body = (detail: unknown, code = 'maintenance') => ({ detail, code, request_id: 'req-1' })

describe('maintenanceFrom', () => {
  it("reads the operator's message and Retry-After from the API's 503 maintenance answer", () => {
    expect(maintenanceFrom(503, body('  DB restore until 10:30 JST  '), '120')).toEqual({
      message: 'DB restore until 10:30 JST',
      retryAfter: 120,
    })
  })

  it('accepts Retry-After as an HTTP date, and no Retry-After at all', () => {
    const now = Date.parse('2026-12-06T10:00:00Z')
    expect(maintenanceFrom(503, body('x'), 'Sun, 06 Dec 2026 10:05:00 GMT', now)?.retryAfter).toBe(300)
    expect(maintenanceFrom(503, body('x'), null)).toEqual({ message: 'x', retryAfter: null })
  })

  it('keeps an answer without a usable message as maintenance (the page has its own text)', () => {
    expect(maintenanceFrom(503, body(['not', 'a', 'string']), '60')).toEqual({ message: '', retryAfter: 60 })
  })

  it('is null for every other answer: another 503, another status, a body that is not JSON', () => {
    expect(maintenanceFrom(503, body('down', 'service_unavailable'), '60')).toBeNull()
    expect(maintenanceFrom(429, body('slow down'), '60')).toBeNull()
    expect(maintenanceFrom(503, null, '60')).toBeNull()
    expect(maintenanceFrom(503, 'maintenance', '60')).toBeNull()
  })
})

describe('the notice the proxy hands to the maintenance page', () => {
  it("survives the header round trip, the operator's Japanese included", () => {
    const notice = { message: 'データベース復旧中 / restoring', retryAfter: 300 }
    const value = noticeHeader(notice)
    expect(value).toMatch(/^[\x20-\x7e]+$/)
    expect(readNoticeHeader(value)).toEqual(notice)
  })

  it('shows nothing for a missing or malformed header', () => {
    expect(readNoticeHeader(null)).toBeNull()
    expect(readNoticeHeader('%E0%A4%A')).toBeNull()
    expect(readNoticeHeader(encodeURIComponent('{"retryAfter": 5}'))).toBeNull()
  })
})

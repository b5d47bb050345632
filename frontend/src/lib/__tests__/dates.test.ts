import { describe, expect, it } from 'vitest'
import { apiToDateInput, dateInputToApi, dueState } from '@/lib/dates'

describe('due dates', () => {
  it('round-trip a picked day through the API format', () => {
    const iso = dateInputToApi('2026-03-15')
    expect(iso).toMatch(/Z$/)
    expect(apiToDateInput(iso)).toBe('2026-03-15')
    expect(dateInputToApi('15/03/2026')).toBeNull()
  })

  it('tell overdue, today and upcoming apart', () => {
    const now = new Date(2026, 2, 15, 12, 0, 0)
    expect(dueState(new Date(2026, 2, 14, 23, 59).toISOString(), now)).toBe('overdue')
    expect(dueState(new Date(2026, 2, 15, 23, 59).toISOString(), now)).toBe('today')
    expect(dueState(new Date(2026, 2, 16, 23, 59).toISOString(), now)).toBe('upcoming')
  })
})

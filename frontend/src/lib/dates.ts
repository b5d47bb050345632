import type { Locale } from '@/i18n'

function pad(value: number): string {
  return String(value).padStart(2, '0')
}

/** A date picked in the UI (YYYY-MM-DD) means "by the end of that day" where the user is. */
export function dateInputToApi(value: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
  if (!match) return null
  const [, y, m, d] = match
  return new Date(Number(y), Number(m) - 1, Number(d), 23, 59, 59).toISOString()
}

export function apiToDateInput(iso: string | null | undefined): string {
  if (!iso) return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

export type DueState = 'overdue' | 'today' | 'upcoming'

export function dueState(iso: string, now: Date = new Date()): DueState {
  const due = new Date(iso)
  if (due.getTime() < now.getTime()) return 'overdue'
  const sameDay =
    due.getFullYear() === now.getFullYear() && due.getMonth() === now.getMonth() && due.getDate() === now.getDate()
  return sameDay ? 'today' : 'upcoming'
}

const tag = (locale: Locale) => (locale === 'ja' ? 'ja-JP' : 'en-US')

export function formatDate(iso: string, locale: Locale): string {
  return new Intl.DateTimeFormat(tag(locale), { year: 'numeric', month: 'short', day: 'numeric' }).format(new Date(iso))
}

export function formatDateTime(iso: string, locale: Locale): string {
  return new Intl.DateTimeFormat(tag(locale), {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(iso))
}

import { en } from './en'
import { ja, type Messages } from './ja'

export type Locale = 'ja' | 'en'
export type { Messages }

export const LOCALES: readonly Locale[] = ['ja', 'en']
export const DEFAULT_LOCALE: Locale = 'ja'
export const LOCALE_COOKIE = 'koiki_locale'

const dictionaries: Record<Locale, Messages> = { ja, en }

export function isLocale(value: unknown): value is Locale {
  return value === 'ja' || value === 'en'
}

/**
 * The best of our languages for an Accept-Language header ("en-US,en;q=0.9,ja;q=0.8"): the
 * highest q whose primary tag we have, the earlier one on a tie; null when none matches.
 */
export function negotiateLocale(header: string | null | undefined): Locale | null {
  let best: { locale: Locale; q: number } | null = null
  for (const part of (header ?? '').split(',')) {
    const [range, ...params] = part.trim().split(';')
    const primary = range?.trim().toLowerCase().split('-')[0]
    if (!isLocale(primary)) continue
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    if (!Number.isFinite(q) || q <= 0) continue
    if (!best || q > best.q) best = { locale: primary, q }
  }
  return best?.locale ?? null
}

export function messagesFor(locale: Locale): Messages {
  return dictionaries[locale]
}

/** Fill `{name}` placeholders. Unknown placeholders stay visible rather than vanish. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  )
}

/** A role's name as shown: the built-in ones translated, any other as it was named. */
export function roleName(role: string, m: Messages): string {
  return m.roles.names[role] ?? role
}

/** A role's description: the built-in ones translated, any other as the API gives it. */
export function roleDescription(role: { name: string; description?: string | null }, m: Messages): string | null {
  return m.roles.descriptions[role.name] ?? role.description ?? null
}

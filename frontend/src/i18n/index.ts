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

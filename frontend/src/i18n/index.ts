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

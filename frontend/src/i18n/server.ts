import { cookies, headers } from 'next/headers'
import { DEFAULT_LOCALE, isLocale, LOCALE_COOKIE, messagesFor, negotiateLocale, type Locale, type Messages } from '.'

/**
 * The visitor's language: the one chosen in the switcher (cookie), else the best match of the
 * browser's Accept-Language, else Japanese.
 */
export async function getLocale(): Promise<Locale> {
  const value = (await cookies()).get(LOCALE_COOKIE)?.value
  if (isLocale(value)) return value
  return negotiateLocale((await headers()).get('accept-language')) ?? DEFAULT_LOCALE
}

export async function getMessages(): Promise<Messages> {
  return messagesFor(await getLocale())
}

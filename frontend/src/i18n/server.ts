import { cookies } from 'next/headers'
import { DEFAULT_LOCALE, isLocale, LOCALE_COOKIE, messagesFor, type Locale, type Messages } from '.'

/** The visitor's language: the cookie set by the switcher, Japanese otherwise. */
export async function getLocale(): Promise<Locale> {
  const value = (await cookies()).get(LOCALE_COOKIE)?.value
  return isLocale(value) ? value : DEFAULT_LOCALE
}

export async function getMessages(): Promise<Messages> {
  return messagesFor(await getLocale())
}

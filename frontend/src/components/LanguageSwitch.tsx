'use client'

import { useRouter } from 'next/navigation'
import { useId, useTransition } from 'react'
import { LOCALE_COOKIE, LOCALES, isLocale } from '@/i18n'
import { useI18n } from '@/i18n/client'

/** Stores the choice in a plain cookie (not a secret) and re-renders on the server. */
export function LanguageSwitch() {
  const { locale, m } = useI18n()
  const router = useRouter()
  const id = useId()
  const [pending, startTransition] = useTransition()
  return (
    <>
      <label htmlFor={id} className="visually-hidden">
        {m.language.label}
      </label>
      <select
        id={id}
        className="select lang-switch"
        value={locale}
        disabled={pending}
        data-testid="language-switch"
        onChange={(event) => {
          const next = event.target.value
          if (!isLocale(next)) return
          document.cookie = `${LOCALE_COOKIE}=${next}; Path=/; Max-Age=31536000; SameSite=Lax`
          document.documentElement.lang = next
          startTransition(() => router.refresh())
        }}
      >
        {LOCALES.map((value) => (
          <option key={value} value={value} lang={value}>
            {m.language[value]}
          </option>
        ))}
      </select>
    </>
  )
}

'use client'

import { useRouter } from 'next/navigation'
import { useTransition } from 'react'
import { LOCALE_COOKIE, LOCALES, type Locale } from '@/i18n'
import { useI18n } from '@/i18n/client'

function storeLocale(next: Locale) {
  document.cookie = `${LOCALE_COOKIE}=${next}; Path=/; Max-Age=31536000; SameSite=Lax`
  document.documentElement.lang = next
}

/**
 * One button per language, so the language changes only when the user picks one (WCAG 3.2.2:
 * a <select> switched on the first arrow key). Stores the choice in a plain cookie (not a
 * secret) and re-renders on the server.
 */
export function LanguageSwitch() {
  const { locale, m } = useI18n()
  const router = useRouter()
  const [pending, startTransition] = useTransition()

  function choose(next: Locale) {
    if (next === locale) return
    storeLocale(next)
    startTransition(() => router.refresh())
  }

  return (
    <div role="group" aria-label={m.language.label} className="segmented lang-switch" data-testid="language-switch">
      {LOCALES.map((value) => (
        <button
          key={value}
          type="button"
          lang={value}
          aria-pressed={value === locale}
          aria-busy={pending && value !== locale ? true : undefined}
          onClick={() => choose(value)}
        >
          {m.language[value]}
        </button>
      ))}
    </div>
  )
}

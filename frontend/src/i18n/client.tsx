'use client'

import { createContext, useContext, useEffect, type ReactNode } from 'react'
import { messagesFor, type Locale, type Messages } from '.'

interface I18n {
  locale: Locale
  m: Messages
}

const I18nContext = createContext<I18n | null>(null)

export function I18nProvider({ locale, children }: { locale: Locale; children: ReactNode }) {
  // Marks the document once React is in charge of it; the e2e suite waits for this before
  // typing, since input typed into server-rendered HTML before hydration can be lost.
  useEffect(() => {
    document.documentElement.dataset.hydrated = 'true'
  }, [])
  return <I18nContext value={{ locale, m: messagesFor(locale) }}>{children}</I18nContext>
}

export function useI18n(): I18n {
  const value = useContext(I18nContext)
  if (!value) throw new Error('useI18n must be used inside I18nProvider')
  return value
}

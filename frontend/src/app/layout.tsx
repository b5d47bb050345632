import type { Metadata, Viewport } from 'next'
import type { ReactNode } from 'react'
import { I18nProvider } from '@/i18n/client'
import { getLocale, getMessages } from '@/i18n/server'
import './globals.css'

export async function generateMetadata(): Promise<Metadata> {
  const m = await getMessages()
  return {
    title: { default: m.app.name, template: `%s | ${m.app.name}` },
    description: m.app.tagline,
  }
}

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  themeColor: [
    { media: '(prefers-color-scheme: light)', color: '#ffffff' },
    { media: '(prefers-color-scheme: dark)', color: '#171b24' },
  ],
}

export default async function RootLayout({ children }: { children: ReactNode }) {
  const locale = await getLocale()
  return (
    <html lang={locale}>
      <body>
        <I18nProvider locale={locale}>{children}</I18nProvider>
      </body>
    </html>
  )
}

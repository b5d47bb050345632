import type { Metadata, Viewport } from 'next'
import { headers } from 'next/headers'
import type { ReactNode } from 'react'
import { MaintenancePage } from '@/components/MaintenancePage'
import { I18nProvider } from '@/i18n/client'
import { messagesFor } from '@/i18n'
import { getLocale, getMessages } from '@/i18n/server'
import { PATH_HEADER } from '@/lib/server/auth-header'
import { MAINTENANCE_HEADER, readNoticeHeader } from '@/lib/server/maintenance-header'
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
  const incoming = await headers()
  // The proxy saw `ops maintenance` on (and answers 503): no route renders, whatever it was.
  const notice = readNoticeHeader(incoming.get(MAINTENANCE_HEADER))
  const here = incoming.get(PATH_HEADER) ?? '/todos'
  return (
    <html lang={locale}>
      <body>
        <I18nProvider locale={locale}>
          {notice ? <MaintenancePage notice={notice} m={messagesFor(locale)} here={here} /> : children}
        </I18nProvider>
      </body>
    </html>
  )
}

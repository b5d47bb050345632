import Link from 'next/link'
import type { ReactNode } from 'react'
import { LanguageSwitch } from '@/components/LanguageSwitch'
import { getMessages } from '@/i18n/server'

export const dynamic = 'force-dynamic'

export default async function AuthLayout({ children }: { children: ReactNode }) {
  const m = await getMessages()
  return (
    <div className="auth-wrap">
      <main className="auth-card" id="main">
        <div className="auth-top">
          <Link href="/login" className="brand">
            <span className="brand-mark" aria-hidden="true">
              K
            </span>
            {m.app.name}
          </Link>
          <LanguageSwitch />
        </div>
        <div className="card">{children}</div>
      </main>
    </div>
  )
}

'use client'

import Link from 'next/link'
import { usePathname } from 'next/navigation'
import { useState } from 'react'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import { signOut } from '@/lib/client/bff'
import { LanguageSwitch } from './LanguageSwitch'
import { clearDraft } from './todos/draft'
import { can, useUserIfKnown } from './UserContext'

export function AppHeader() {
  const { m } = useI18n()
  const user = useUserIfKnown()
  const pathname = usePathname()
  const [leaving, setLeaving] = useState(false)

  const links = [
    { href: '/todos', label: m.nav.todos, show: true },
    { href: '/profile', label: m.nav.profile, show: true },
    { href: '/admin/users', label: m.nav.users, show: user !== null && can(user, 'users:read') },
    { href: '/admin/audit', label: m.nav.audit, show: user !== null && can(user, 'audit:read') },
  ]

  async function logout() {
    setLeaving(true)
    // Logging out on purpose ends the draft too: the next person at this tab must not find it.
    clearDraft()
    await signOut()
  }

  return (
    <header className="header">
      <div className="header-inner">
        <Link href="/todos" className="brand">
          <span className="brand-mark" aria-hidden="true">
            K
          </span>
          <span className="brand-name">{m.app.name}</span>
        </Link>
        <nav className="nav" aria-label={m.nav.main}>
          {links
            .filter((link) => link.show)
            .map((link) => (
              <Link
                key={link.href}
                href={link.href}
                aria-current={pathname === link.href || pathname.startsWith(`${link.href}/`) ? 'page' : undefined}
              >
                {link.label}
              </Link>
            ))}
        </nav>
        <div className="header-actions">
          {user ? (
            <span className="user-chip" title={format(m.nav.signedInAs, { email: user.email })}>
              {user.full_name || user.email}
            </span>
          ) : null}
          <LanguageSwitch />
          <button type="button" className="btn btn-secondary btn-sm" onClick={logout} disabled={leaving}>
            {leaving ? m.nav.loggingOut : m.nav.logout}
          </button>
        </div>
      </div>
    </header>
  )
}

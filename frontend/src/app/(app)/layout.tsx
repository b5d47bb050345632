import type { ReactNode } from 'react'
import { AppHeader } from '@/components/AppHeader'
import { UserProvider } from '@/components/UserContext'
import { getMessages } from '@/i18n/server'
import { requireUser } from '@/lib/server/auth'

// Every page in this group is personal: rendered per request, after asking the API who this is.
export const dynamic = 'force-dynamic'

export default async function AppLayout({ children }: { children: ReactNode }) {
  const user = await requireUser()
  const m = await getMessages()
  return (
    <UserProvider user={user}>
      <a href="#main" className="skip-link">
        {m.app.skipToContent}
      </a>
      <AppHeader />
      <main className="main" id="main" tabIndex={-1}>
        {children}
      </main>
    </UserProvider>
  )
}

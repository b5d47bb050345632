import type { ReactNode } from 'react'
import { AppHeader } from '@/components/AppHeader'
import { ApiOutage } from '@/components/ApiOutage'
import { UserProvider } from '@/components/UserContext'
import { getMessages } from '@/i18n/server'
import type { UserMe } from '@/lib/api/types'
import { requireUser } from '@/lib/server/auth'
import { ApiUnreachable } from '@/lib/server/api'

// Every page in this group is personal: rendered per request, after asking the API who this is.
export const dynamic = 'force-dynamic'

/** The signed-in user, or null when the API cannot answer (not a reason to send anyone to log in). */
async function userUnlessApiDown(): Promise<UserMe | null> {
  try {
    return await requireUser()
  } catch (error) {
    if (error instanceof ApiUnreachable) return null
    throw error
  }
}

export default async function AppLayout({ children }: { children: ReactNode }) {
  const user = await userUnlessApiDown()
  const m = await getMessages()
  return (
    <UserProvider user={user}>
      <a href="#main" className="skip-link">
        {m.app.skipToContent}
      </a>
      <AppHeader />
      <main className="main" id="main" tabIndex={-1}>
        {/* With the API down no page here can load its data: say so in the page's place. */}
        {user ? children : <ApiOutage />}
      </main>
    </UserProvider>
  )
}

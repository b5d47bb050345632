import type { ReactNode } from 'react'
import { headers } from 'next/headers'
import { AppHeader } from '@/components/AppHeader'
import { ApiOutage } from '@/components/ApiOutage'
import { MaintenancePage } from '@/components/MaintenancePage'
import { MaintenanceWatch } from '@/components/MaintenanceWatch'
import { UserProvider } from '@/components/UserContext'
import { getMessages } from '@/i18n/server'
import type { UserMe } from '@/lib/api/types'
import { UnderMaintenance } from '@/lib/maintenance'
import { requireUser } from '@/lib/server/auth'
import { ApiUnreachable } from '@/lib/server/api'
import { PATH_HEADER } from '@/lib/server/auth-header'

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
  const m = await getMessages()
  let user: UserMe | null
  try {
    user = await userUnlessApiDown()
  } catch (error) {
    if (!(error instanceof UnderMaintenance)) throw error
    // The proxy had not seen the switch yet (it looks about once a second): the page in place,
    // with status 200, as a render cannot set one.
    const here = (await headers()).get(PATH_HEADER) ?? '/todos'
    return <MaintenancePage notice={error.notice} m={m} here={here} />
  }
  return (
    <UserProvider user={user}>
      <MaintenanceWatch />
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

import type { ReactNode } from 'react'
import { headers } from 'next/headers'
import { AppHeader } from '@/components/AppHeader'
import { MaintenancePage } from '@/components/MaintenancePage'
import { MaintenanceWatch } from '@/components/MaintenanceWatch'
import { UserProvider } from '@/components/UserContext'
import { getMessages } from '@/i18n/server'
import { UnderMaintenance } from '@/lib/maintenance'
import { requireUser } from '@/lib/server/auth'
import { PATH_HEADER } from '@/lib/server/auth-header'

// Every page in this group is personal: rendered per request, after asking the API who this is.
export const dynamic = 'force-dynamic'

export default async function AppLayout({ children }: { children: ReactNode }) {
  const m = await getMessages()
  let user
  try {
    user = await requireUser()
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
        {children}
      </main>
    </UserProvider>
  )
}

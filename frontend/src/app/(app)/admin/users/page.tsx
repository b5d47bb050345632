import type { Metadata } from 'next'
import { UsersAdmin } from '@/components/admin/UsersAdmin'
import { StatusPage } from '@/components/StatusPage'
import { getMessages } from '@/i18n/server'
import { hasPermission, requireUser } from '@/lib/server/auth'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).admin.usersTitle }
}

export default async function AdminUsersPage() {
  const user = await requireUser()
  const m = await getMessages()
  if (!hasPermission(user, 'users:read')) {
    return (
      <StatusPage
        title={m.pages.forbiddenTitle}
        body={m.pages.forbiddenBody}
        action={{ href: '/todos', label: m.pages.backToTodos }}
      />
    )
  }
  return (
    <UsersAdmin canWrite={hasPermission(user, 'users:write')} canListRoles={hasPermission(user, 'roles:manage')} />
  )
}

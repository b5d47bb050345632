import type { Metadata } from 'next'
import { AuditLog } from '@/components/admin/AuditLog'
import { StatusPage } from '@/components/StatusPage'
import { getMessages } from '@/i18n/server'
import { hasPermission, requireUser } from '@/lib/server/auth'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).admin.auditTitle }
}

export default async function AdminAuditPage() {
  const user = await requireUser()
  const m = await getMessages()
  if (!hasPermission(user, 'audit:read')) {
    return (
      <StatusPage
        title={m.pages.forbiddenTitle}
        body={m.pages.forbiddenBody}
        action={{ href: '/todos', label: m.pages.backToTodos }}
      />
    )
  }
  return <AuditLog />
}

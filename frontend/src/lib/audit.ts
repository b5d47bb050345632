import { format, roleName, type Messages } from '@/i18n'
import type { AuditEvent } from '@/lib/api/types'

/** What the event acted on, by name: the API resolves the label, the UI translates the kind. */
export function describeTarget(event: AuditEvent, m: Messages): string {
  if (!event.target_type) return '—'
  const label = event.target_label ?? event.target_id
  if (!label) return m.admin.targetTypes[event.target_type] ?? event.target_type
  switch (event.target_type) {
    case 'user':
      return label
    case 'role':
      return format(m.admin.targetRole, { name: roleName(label, m) })
    case 'session':
      return format(m.admin.targetSession, { device: label })
    default:
      return `${m.admin.targetTypes[event.target_type] ?? event.target_type} ${label}`
  }
}

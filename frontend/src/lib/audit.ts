import { format, roleName, type Messages } from '@/i18n'
import type { AuditEvent } from '@/lib/api/types'

export interface TargetText {
  text: string
  /** The part of `text` that is data (an address, a device, a role's own name), not UI wording. */
  data: string | null
}

/** What the event acted on, by name: the API resolves the label, the UI translates the kind. */
export function describeTarget(event: AuditEvent, m: Messages): TargetText {
  if (!event.target_type) return { text: '—', data: null }
  const kind = m.admin.targetTypes[event.target_type] ?? event.target_type
  const label = event.target_label ?? event.target_id
  if (!label) return { text: kind, data: null }
  switch (event.target_type) {
    case 'user':
      return { text: label, data: label }
    case 'role': {
      const name = roleName(label, m)
      return { text: format(m.admin.targetRole, { name }), data: name === label ? label : null }
    }
    case 'session':
      return { text: format(m.admin.targetSession, { device: label }), data: label }
    default:
      return { text: `${kind} ${label}`, data: label }
  }
}

/**
 * The event's action by name. Before reset requests had an action of their own they were
 * written as `auth.password_reset` with `stage: "requested"`: such rows read as requests too.
 */
export function eventActionName(event: AuditEvent, m: Messages): string {
  const code =
    event.action === 'auth.password_reset' && event.details.stage === 'requested'
      ? 'auth.password_reset_requested'
      : event.action
  return m.admin.actionNames[code] ?? event.action
}

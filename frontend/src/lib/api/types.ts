// Provisional: replaced by aliases of the generated schema once the API serves openapi.json.
export interface User {
  id: number
  email: string
  full_name: string | null
  is_active: boolean
  is_superuser: boolean
  created_at: string
  updated_at: string
  roles: string[]
}
export interface UserMe extends User {
  permissions: string[]
}
export interface Todo {
  id: number
  title: string
  description: string | null
  is_completed: boolean
  due_date: string | null
  owner_id: number
  created_at: string
  updated_at: string
}
export interface Session {
  id: string
  created_at: string
  last_used_at: string | null
  expires_at: string
  user_agent: string | null
  ip: string | null
  current: boolean
}
export interface Role {
  id: number
  name: string
  description: string | null
  permissions: string[]
  is_builtin: boolean
}
export interface AuditEvent {
  id: number
  occurred_at: string
  actor_id: number | null
  actor_email: string | null
  action: string
  outcome: 'success' | 'failure'
  target_type: string | null
  target_id: string | null
  ip: string | null
  user_agent: string | null
  request_id: string | null
  details: Record<string, unknown>
}
export interface Page<T> {
  items: T[]
  total: number
  skip: number
  limit: number
}

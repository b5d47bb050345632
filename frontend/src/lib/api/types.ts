// Names for the API's schemas, all taken from the generated schema.d.ts (npm run gen:api),
// so a change in the backend shows up here as a type error, not as a runtime surprise.
import type { components } from './schema'

type Schemas = components['schemas']

export type User = Schemas['UserRead']
export type UserMe = Schemas['UserMe']
export type Todo = Schemas['TodoRead']
export type TodoCreate = Schemas['TodoCreate']
export type TodoUpdate = Schemas['TodoUpdate']
export type Session = Schemas['SessionRead']
export type Role = Schemas['RoleRead']
export type AuditEvent = Schemas['AuditEventRead']
export type TokenPair = Schemas['TokenPair']
export type ErrorBody = Schemas['ErrorBody']
export type LinkedIdentity = Schemas['IdentityRead']
export type SsoProvider = Schemas['ProviderRead']

/** The API's list envelope; every Page_X_ schema has this shape. */
export interface Page<T> {
  items: T[]
  total: number
  skip: number
  limit: number
}

'use client'

import { createContext, useContext, type ReactNode } from 'react'
import type { UserMe } from '@/lib/api/types'

const UserContext = createContext<UserMe | null>(null)

export function UserProvider({ user, children }: { user: UserMe; children: ReactNode }) {
  return <UserContext value={user}>{children}</UserContext>
}

/** The signed-in user as the server layout fetched it from the API. */
export function useUser(): UserMe {
  const user = useContext(UserContext)
  if (!user) throw new Error('useUser must be used inside UserProvider')
  return user
}

export function can(user: UserMe, permission: string): boolean {
  return user.is_superuser || user.permissions.includes(permission)
}

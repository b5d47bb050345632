'use client'

import { createContext, useContext, type ReactNode } from 'react'
import type { UserMe } from '@/lib/api/types'

const UserContext = createContext<UserMe | null>(null)

/** `user` is null only while the API cannot say who is signed in (the layout shows the outage). */
export function UserProvider({ user, children }: { user: UserMe | null; children: ReactNode }) {
  return <UserContext value={user}>{children}</UserContext>
}

/** The signed-in user as the server layout fetched it from the API. */
export function useUser(): UserMe {
  const user = useContext(UserContext)
  if (!user) throw new Error('useUser must be used inside UserProvider')
  return user
}

/** The signed-in user, or null while the API is unreachable (for the header, which shows either way). */
export function useUserIfKnown(): UserMe | null {
  return useContext(UserContext)
}

export function can(user: UserMe, permission: string): boolean {
  return user.is_superuser || user.permissions.includes(permission)
}

import { cache } from 'react'
import { cookies, headers } from 'next/headers'
import { redirect } from 'next/navigation'
import type { UserMe } from '@/lib/api/types'
import { maintenanceFrom, UnderMaintenance } from '@/lib/maintenance'
import { loginPath } from '@/lib/redirect'
import { ApiUnreachable, callApi } from './api'
import { PATH_HEADER } from './auth-header'
import { cookieNames } from './cookies'

/**
 * The signed-in user according to the API (GET /auth/me), or null. Pages are protected by
 * this answer, never by the mere presence or shape of a cookie. The proxy has already
 * refreshed an expired access token before the page renders. Throws ApiUnreachable when the
 * API cannot answer, UnderMaintenance while `ops maintenance` is on (every signed-in page asks
 * this first, so it is the one place to notice).
 */
export const getCurrentUser = cache(async (): Promise<UserMe | null> => {
  const jar = await cookies()
  const token = jar.get(cookieNames.access)?.value
  if (!token) return null
  const response = await callApi('/auth/me', { token, from: { headers: await headers() } })
  if (response.status === 401 || response.status === 403) return null
  if (response.status === 503) {
    const notice = maintenanceFrom(503, await response.json().catch(() => null), response.headers.get('retry-after'))
    if (notice) throw new UnderMaintenance(notice)
  }
  // A server error says nothing about the session either: the layout shows an outage, not a login.
  if (response.status >= 500) throw new ApiUnreachable(`GET /auth/me failed with ${response.status}`)
  if (!response.ok) throw new Error(`GET /auth/me failed with ${response.status}`)
  return (await response.json()) as UserMe
})

/** The current user, or a redirect to the login page that comes back here afterwards. */
export async function requireUser(): Promise<UserMe> {
  const user = await getCurrentUser()
  if (user) return user
  const jar = await cookies()
  const hadSession = jar.has(cookieNames.access) || jar.has(cookieNames.refresh)
  const here = (await headers()).get(PATH_HEADER) ?? '/todos'
  redirect(loginPath(here, hadSession))
}

export function hasPermission(user: UserMe, permission: string): boolean {
  return user.is_superuser || user.permissions.includes(permission)
}

'use client'

import { ApiError, NetworkError, parseRetryAfter, type ApiErrorBody } from '@/lib/errors'
import { maintenanceFrom } from '@/lib/maintenance'
import { loginPath } from '@/lib/redirect'

const CSRF_COOKIE = /(?:^|;\s*)(?:__Host-)?koiki_csrf=([^;]+)/

/** The double-submit token: the one cookie that is readable by page JavaScript on purpose. */
export function csrfToken(): string {
  const match = CSRF_COOKIE.exec(document.cookie)
  return match?.[1] ? decodeURIComponent(match[1]) : ''
}

export type Query = Record<string, string | number | boolean | null | undefined>

export function queryString(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

interface Options {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  json?: unknown
  query?: Query
  /** Leave a 401 to the caller instead of sending the browser to the login page. */
  keep401?: boolean
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204) return null
  const text = await response.text()
  if (!text) return null
  try {
    return JSON.parse(text)
  } catch {
    return { detail: text }
  }
}

/**
 * A full page load rather than a client-side transition: used whenever the session changes
 * (login, logout, expiry), so nothing rendered for the previous session stays in memory.
 */
export function hardNavigate(path: string): void {
  window.location.assign(new URL(path, window.location.origin))
}

/**
 * Log out, then go to the login page; a session from an identity provider goes through the
 * provider's sign-out page first (it sends the browser back to the login page).
 */
export async function signOut(): Promise<void> {
  let target = '/login?reason=logged_out'
  try {
    const result = await request<{ end_session_url?: string } | null>('/api/auth/logout', {
      method: 'POST',
      keep401: true,
    })
    if (result?.end_session_url) target = result.end_session_url
  } finally {
    hardNavigate(target)
  }
}

/** Send the browser to log in, coming back to where it is now afterwards. */
export function goToLogin(expired: boolean): void {
  hardNavigate(loginPath(`${window.location.pathname}${window.location.search}`, expired))
}

let onMaintenance: (() => void) | null = null

/**
 * What a call that meets `ops maintenance` does besides throwing: the app shell sets this to show
 * the maintenance page; elsewhere (the sign-in forms) the form shows the message in place.
 */
export function setMaintenanceHandler(handler: (() => void) | null): void {
  onMaintenance = handler
}

/**
 * Call a Next.js route handler (`/api/...`). Mutating calls carry the CSRF header; an
 * ended session sends the browser to the login page and back here after signing in.
 */
export async function request<T>(url: string, options: Options = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken()
  if (options.json !== undefined) headers['Content-Type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(`${url}${queryString(options.query)}`, {
      method,
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
      credentials: 'same-origin',
      cache: 'no-store',
    })
  } catch (error) {
    throw new NetworkError((error as Error).message)
  }
  const body = await readBody(response)
  if (response.ok) return body as T
  const error = new ApiError(
    response.status,
    (typeof body === 'object' && body !== null ? body : {}) as ApiErrorBody,
    parseRetryAfter(response.headers.get('retry-after')),
  )
  if (response.status === 401 && error.code === 'session_expired' && !options.keep401) {
    goToLogin(true)
  }
  if (onMaintenance && maintenanceFrom(response.status, body, null)) onMaintenance()
  throw error
}

/** Call the API through the BFF proxy, e.g. `api('/todos', {query: {limit: 20}})`. */
export function api<T>(path: string, options: Options = {}): Promise<T> {
  return request<T>(`/api/bff${path}`, options)
}

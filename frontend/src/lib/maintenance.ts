import { parseRetryAfter } from './errors'

/**
 * `ops maintenance on` makes every API route answer 503 `{"code": "maintenance", "detail":
 * <the operator's message>}` with `Retry-After`. The frontend shows a maintenance page for it
 * instead of an error: this is what that page needs to know.
 */
export interface Maintenance {
  message: string
  /** Seconds until the operators expect to be back, or null when the API did not say. */
  retryAfter: number | null
}

export const MAINTENANCE_CODE = 'maintenance'

/** The maintenance notice in an API answer, or null when the answer is anything else. */
export function maintenanceFrom(status: number, body: unknown, retryAfter: string | null, now: number = Date.now()): Maintenance | null {
  if (status !== 503 || typeof body !== 'object' || body === null) return null
  const { code, detail } = body as Record<string, unknown>
  if (code !== MAINTENANCE_CODE) return null
  return {
    message: typeof detail === 'string' ? detail.trim() : '',
    retryAfter: parseRetryAfter(retryAfter, now),
  }
}

/** Thrown by server-side data loads that met maintenance; the app layout renders the page. */
export class UnderMaintenance extends Error {
  constructor(readonly notice: Maintenance) {
    super('The API is under maintenance')
    this.name = 'UnderMaintenance'
  }
}

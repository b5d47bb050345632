import { maintenanceFrom, type Maintenance } from '@/lib/maintenance'
import { apiBaseUrl } from './config'

// The proxy answers page requests with 503 and the maintenance page while `ops maintenance` is
// on, which needs to know before the page renders. It asks the API's GET /maintenance at most
// once a second per process (503 `maintenance` while on, 200 otherwise; answered before rate
// limiting, authentication and the database, and kept out of the access log). Under traffic no request waits for it: each uses the last answer and at
// most one look runs in the background. Only an answer older than STALE_MS (an idle process)
// is waited for, so the first visitor after a quiet spell is not shown a state long gone. A page
// that still renders during maintenance is caught by the layout (lib/server/auth.ts).
const PROBE_EVERY_MS = 1000
const STALE_MS = 5000
const PROBE_TIMEOUT_MS = 2000
const registryKey = Symbol.for('koiki.frontend.maintenance')

interface Probe {
  notice: Maintenance | null
  nextAt: number
  running: Promise<void> | null
}

function probe(): Probe {
  const holder = globalThis as unknown as Record<symbol, Probe | undefined>
  let state = holder[registryKey]
  if (!state) {
    state = { notice: null, nextAt: 0, running: null }
    holder[registryKey] = state
  }
  return state
}

async function ask(state: Probe): Promise<void> {
  try {
    const response = await fetch(`${apiBaseUrl()}/maintenance`, {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      redirect: 'manual',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    })
    const body: unknown = response.status === 503 ? await response.json().catch(() => null) : null
    state.notice = maintenanceFrom(response.status, body, response.headers.get('retry-after'))
  } catch {
    // Unreachable: not maintenance as far as we know; the page reports the outage itself.
    state.notice = null
  } finally {
    state.running = null
  }
}

/** Maintenance as last seen (null when off or unknown); looks again when due, see above. */
export async function maintenanceNow(now: number = Date.now()): Promise<Maintenance | null> {
  const state = probe()
  const stale = now >= state.nextAt - PROBE_EVERY_MS + STALE_MS
  if (now >= state.nextAt && !state.running) {
    state.nextAt = now + PROBE_EVERY_MS
    state.running = ask(state)
  }
  if (stale && state.running) await state.running
  return state.notice
}

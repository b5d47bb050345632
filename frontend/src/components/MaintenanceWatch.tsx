'use client'

import { useEffect } from 'react'
import { hardNavigate, setMaintenanceHandler } from '@/lib/client/bff'

/**
 * Mounted in the app shell: a client-side call that meets maintenance reloads the page, and the
 * server then renders the maintenance page instead of the view (no generic error in a toast).
 * On the maintenance page itself (`showing`) nothing reloads, so nothing can loop.
 */
export function MaintenanceWatch({ showing = false }: { showing?: boolean }) {
  useEffect(() => {
    if (showing) return
    setMaintenanceHandler(() => hardNavigate(`${window.location.pathname}${window.location.search}`))
    return () => setMaintenanceHandler(null)
  }, [showing])
  return null
}

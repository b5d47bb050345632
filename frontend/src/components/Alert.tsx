'use client'

import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'

/** An error for the whole form, announced immediately, with the request id for support. */
export function FormError({ message, requestId }: { message: string | null; requestId?: string | null }) {
  const { m } = useI18n()
  if (!message) return null
  return (
    <div className="alert alert-error" role="alert">
      {message}
      {requestId ? <small className="mono">{format(m.errors.requestId, { id: requestId })}</small> : null}
    </div>
  )
}

export function Notice({ message, tone = 'success' }: { message: string | null; tone?: 'success' | 'info' }) {
  if (!message) return null
  return (
    <div className={`alert alert-${tone}`} role="status">
      {message}
    </div>
  )
}

'use client'

import { useCallback, useEffect, useState } from 'react'

/** A short confirmation ("Task added.") in a polite live region; it fades after a while. */
export function useToast(): [string | null, (message: string) => void] {
  const [message, setMessage] = useState<string | null>(null)
  useEffect(() => {
    if (!message) return
    const timer = window.setTimeout(() => setMessage(null), 3500)
    return () => window.clearTimeout(timer)
  }, [message])
  const show = useCallback((text: string) => setMessage(text), [])
  return [message, show]
}

export function Toast({ message }: { message: string | null }) {
  return (
    <div className="toast-region" role="status" aria-live="polite">
      {message ? <div className="toast">{message}</div> : null}
    </div>
  )
}

'use client'

import { useCallback, useEffect, useState } from 'react'
import type { Messages } from '@/i18n'
import { useI18n } from '@/i18n/client'

/** A toast's text, picked from the dictionary when shown: a language switch re-translates it. */
export type ToastText = (m: Messages) => string

/** A short confirmation ("Task added.") in a polite live region; it fades after a while. */
export function useToast(): [ToastText | null, (text: ToastText) => void] {
  const [message, setMessage] = useState<{ text: ToastText } | null>(null)
  useEffect(() => {
    if (!message) return
    const timer = window.setTimeout(() => setMessage(null), 3500)
    return () => window.clearTimeout(timer)
  }, [message])
  const show = useCallback((text: ToastText) => setMessage({ text }), [])
  return [message?.text ?? null, show]
}

export function Toast({ message }: { message: ToastText | null }) {
  const { m } = useI18n()
  return (
    <div className="toast-region" role="status" aria-live="polite">
      {message ? <div className="toast">{message(m)}</div> : null}
    </div>
  )
}

'use client'

import { useEffect, useRef, type SyntheticEvent } from 'react'

/**
 * Props for a native <dialog> shown as a modal while `open`: the browser traps focus, and
 * returns it to the opener on close. Escape asks `onClose` instead of closing behind React's
 * back, so `open` stays the one truth.
 */
export function useModal(open: boolean, onClose: () => void) {
  const ref = useRef<HTMLDialogElement>(null)

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    if (!open && dialog.open) dialog.close()
  }, [open])

  return {
    ref,
    onCancel: (event: SyntheticEvent<HTMLDialogElement>) => {
      event.preventDefault()
      onClose()
    },
  }
}

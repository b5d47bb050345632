'use client'

import { useId } from 'react'
import { useModal } from '@/components/useModal'
import { useI18n } from '@/i18n/client'

interface Props {
  open: boolean
  title: string
  body: string
  confirmLabel: string
  busy?: boolean
  onConfirm: () => void
  onCancel: () => void
}

/**
 * A modal confirmation on the native <dialog>: it traps focus, closes on Escape and returns
 * focus to the button that opened it. The safe choice (cancel) has the initial focus.
 */
export function ConfirmDialog({ open, title, body, confirmLabel, busy, onConfirm, onCancel }: Props) {
  const { m } = useI18n()
  const modal = useModal(open, onCancel)
  const titleId = useId()
  const bodyId = useId()

  return (
    <dialog {...modal} className="dialog" aria-labelledby={titleId} aria-describedby={bodyId}>
      <div className="dialog-body">
        <h2 id={titleId}>{title}</h2>
        <p id={bodyId}>{body}</p>
      </div>
      <div className="dialog-actions">
        <button type="button" className="btn btn-secondary" onClick={onCancel} autoFocus>
          {m.common.cancel}
        </button>
        <button type="button" className="btn btn-danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  )
}

'use client'

import { useEffect, useRef } from 'react'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { Page } from '@/lib/api/types'

interface Props {
  /** The page on screen (the API's answer), not the one being asked for; nothing while none is. */
  page: Pick<Page<unknown>, 'skip' | 'total'> | null
  limit: number
  onChange: (skip: number) => void
}

export function Pagination({ page, limit, onChange }: Props) {
  const { m } = useI18n()
  const skip = page?.skip ?? 0
  const total = page?.total ?? 0
  const previous = useRef<HTMLButtonElement>(null)
  const next = useRef<HTMLButtonElement>(null)
  const pressed = useRef<'previous' | 'next' | null>(null)
  const from = skip + 1
  const to = Math.min(skip + limit, total)
  const atStart = skip === 0
  const atEnd = to >= total

  // Reaching the first or last page disables the button just pressed, and the browser would drop
  // its focus to the page body: hand it to the other button once the new page is on screen.
  useEffect(() => {
    const button = pressed.current
    pressed.current = null
    if (button === 'next' && atEnd && !atStart) previous.current?.focus()
    if (button === 'previous' && atStart && !atEnd) next.current?.focus()
    // Only a new page on screen settles a press, not a change of the total.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [skip])

  if (total === 0) return null
  return (
    <nav className="pagination" aria-label={m.common.pagination}>
      <span aria-live="polite">{format(m.common.pageInfo, { from, to, total })}</span>
      {total > limit ? (
        <div className="buttons">
          <button
            ref={previous}
            type="button"
            className="btn btn-secondary btn-sm"
            disabled={atStart}
            onClick={() => {
              pressed.current = 'previous'
              onChange(Math.max(0, skip - limit))
            }}
          >
            {m.common.previous}
          </button>
          <button
            ref={next}
            type="button"
            className="btn btn-secondary btn-sm"
            disabled={atEnd}
            onClick={() => {
              pressed.current = 'next'
              onChange(skip + limit)
            }}
          >
            {m.common.next}
          </button>
        </div>
      ) : null}
    </nav>
  )
}

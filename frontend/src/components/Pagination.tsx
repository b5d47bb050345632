'use client'

import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'

interface Props {
  skip: number
  limit: number
  total: number
  onChange: (skip: number) => void
}

export function Pagination({ skip, limit, total, onChange }: Props) {
  const { m } = useI18n()
  if (total === 0) return null
  const from = skip + 1
  const to = Math.min(skip + limit, total)
  return (
    <nav className="pagination" aria-label={m.common.pagination}>
      <span aria-live="polite">{format(m.common.pageInfo, { from, to, total })}</span>
      {total > limit ? (
        <div className="buttons">
          <button
            type="button"
            className="btn btn-secondary btn-sm"
            disabled={skip === 0}
            onClick={() => onChange(Math.max(0, skip - limit))}
          >
            {m.common.previous}
          </button>
          <button
            type="button"
            className="btn btn-secondary btn-sm"
            disabled={to >= total}
            onClick={() => onChange(skip + limit)}
          >
            {m.common.next}
          </button>
        </div>
      ) : null}
    </nav>
  )
}

'use client'

import { useRouter } from 'next/navigation'
import { useTransition } from 'react'
import { useI18n } from '@/i18n/client'

/** The app's pages while the API cannot be reached: what happened, and a way to try again. */
export function ApiOutage() {
  const { m } = useI18n()
  const router = useRouter()
  const [pending, startTransition] = useTransition()
  return (
    <section className="card status-card" role="alert" aria-labelledby="outage-title">
      <h1 id="outage-title" className="status-title">
        {m.pages.outageTitle}
      </h1>
      <p className="status-body">{m.pages.outageBody}</p>
      <button
        type="button"
        className="btn btn-primary"
        disabled={pending}
        onClick={() => startTransition(() => router.refresh())}
      >
        {m.pages.retry}
      </button>
    </section>
  )
}

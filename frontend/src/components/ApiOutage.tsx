'use client'

import { useRouter } from 'next/navigation'
import { useEffect, useState, useTransition } from 'react'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'

/** The app's pages while the API cannot be reached: what happened, and a way to try again. */
export function ApiOutage() {
  const { m } = useI18n()
  const router = useRouter()
  const [pending, startTransition] = useTransition()
  const [tries, setTries] = useState(0)

  // A retry that works replaces this with the page: the button that had the focus is gone, so the
  // focus goes to the page's heading rather than back to the top of the document.
  useEffect(
    () => () => {
      window.requestAnimationFrame(() => {
        if (document.activeElement && document.activeElement !== document.body) return
        // Mounted again (React's development double mount): still down, nothing to hand over.
        if (document.getElementById('outage-title')) return
        const heading = document.querySelector<HTMLElement>('#main h1')
        if (!heading) return
        if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1')
        heading.focus()
      })
    },
    [],
  )

  return (
    <section className="card status-card" role="alert" aria-labelledby="outage-title">
      <h1 id="outage-title" className="status-title">
        {m.pages.outageTitle}
      </h1>
      <p className="status-body">{m.pages.outageBody}</p>
      {/* Announced after each retry that still failed: the page itself looks the same. */}
      <p className="status-body" role="status">
        {tries > 0 && !pending ? format(m.pages.outageStill, { n: tries }) : ''}
      </p>
      {/* aria-disabled, not disabled: a disabled button drops the keyboard focus to the page's top. */}
      <button
        type="button"
        className="btn btn-primary"
        aria-disabled={pending}
        onClick={() => {
          if (pending) return
          setTries((n) => n + 1)
          startTransition(() => router.refresh())
        }}
      >
        {m.pages.retry}
      </button>
    </section>
  )
}

'use client'

import { useI18n } from '@/i18n/client'

// Catches render errors below the root layout, including the API being unreachable while the
// (app) layout asks who is signed in.
export default function AppError({ reset }: { error: Error; reset: () => void }) {
  const { m } = useI18n()
  return (
    <main className="main" id="main">
      <section className="card status-card" role="alert">
        <h1 className="status-title">{m.pages.errorTitle}</h1>
        <p className="status-body">{m.pages.errorBody}</p>
        <button type="button" className="btn btn-primary" onClick={reset}>
          {m.pages.retry}
        </button>
      </section>
    </main>
  )
}

'use client'

import { useI18n } from '@/i18n/client'

// Catches render errors below the root layout, including the API being unreachable while the
// (app) layout asks who is signed in.
export default function AppError({ reset }: { error: Error; reset: () => void }) {
  const { m } = useI18n()
  return (
    <main className="main" id="main">
      <section className="card" role="alert" style={{ maxWidth: 560, margin: '40px auto', textAlign: 'center' }}>
        <h1 style={{ fontSize: '1.35rem', marginBottom: 8 }}>{m.pages.errorTitle}</h1>
        <p style={{ color: 'var(--muted)', marginBottom: 18 }}>{m.pages.errorBody}</p>
        <button type="button" className="btn btn-primary" onClick={reset}>
          {m.pages.retry}
        </button>
      </section>
    </main>
  )
}

import Link from 'next/link'
import { format, type Messages } from '@/i18n'
import { formatRetry } from '@/lib/errors'
import type { Maintenance } from '@/lib/maintenance'
import { LanguageSwitch } from './LanguageSwitch'
import { MaintenanceWatch } from './MaintenanceWatch'

/**
 * Shown instead of any page while `ops maintenance` is on (root layout, (app) layout). The app's
 * header needs the user, whom the API cannot name right now, so this uses the sign-in frame.
 */
export function MaintenancePage({ notice, m, here }: { notice: Maintenance; m: Messages; here: string }) {
  return (
    <div className="auth-wrap">
      <MaintenanceWatch showing />
      <main className="auth-card" id="main">
        <div className="auth-top">
          <Link href="/todos" className="brand">
            <span className="brand-mark" aria-hidden="true">
              K
            </span>
            {m.app.name}
          </Link>
          <LanguageSwitch />
        </div>
        <section className="card maintenance" data-testid="maintenance" aria-labelledby="maintenance-title">
          <h1 id="maintenance-title">{m.maintenance.title}</h1>
          <p className="intro">{m.maintenance.body}</p>
          {notice.message && (
            <figure className="maintenance-message">
              <figcaption>{m.maintenance.operatorMessage}</figcaption>
              <blockquote data-testid="maintenance-message">{notice.message}</blockquote>
            </figure>
          )}
          <p className="maintenance-retry" data-testid="maintenance-retry">
            {format(m.maintenance.retryIn, { retry: formatRetry(notice.retryAfter ?? 60, m) })}
          </p>
          {/* A full page load, not a client transition: the server asks the API afresh. */}
          <a href={here} className="btn btn-primary">
            {m.maintenance.retry}
          </a>
        </section>
      </main>
    </div>
  )
}

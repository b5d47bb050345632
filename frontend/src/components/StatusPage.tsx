import Link from 'next/link'

/** Full-width message for 403/404/errors inside the app shell. */
export function StatusPage({ title, body, action }: { title: string; body: string; action: { href: string; label: string } }) {
  return (
    <section className="card status-card">
      <h1 className="status-title">{title}</h1>
      <p className="status-body">{body}</p>
      <Link href={action.href} className="btn btn-primary">
        {action.label}
      </Link>
    </section>
  )
}

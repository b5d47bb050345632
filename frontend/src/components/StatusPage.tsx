import Link from 'next/link'

/** Full-width message for 403/404/errors inside the app shell. */
export function StatusPage({ title, body, action }: { title: string; body: string; action: { href: string; label: string } }) {
  return (
    <section className="card" style={{ maxWidth: 560, margin: '40px auto', textAlign: 'center' }}>
      <h1 style={{ fontSize: '1.35rem', marginBottom: 8 }}>{title}</h1>
      <p style={{ color: 'var(--muted)', marginBottom: 18 }}>{body}</p>
      <Link href={action.href} className="btn btn-primary">
        {action.label}
      </Link>
    </section>
  )
}

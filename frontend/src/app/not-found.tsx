import { StatusPage } from '@/components/StatusPage'
import { getMessages } from '@/i18n/server'

export default async function NotFound() {
  const m = await getMessages()
  return (
    <main className="main" id="main">
      <StatusPage
        title={m.pages.notFoundTitle}
        body={m.pages.notFoundBody}
        action={{ href: '/todos', label: m.pages.backToTodos }}
      />
    </main>
  )
}

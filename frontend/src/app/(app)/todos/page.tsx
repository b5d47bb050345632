import type { Metadata } from 'next'
import { TodosView, type Filter, type Sort, type TodoQuery } from '@/components/todos/TodosView'
import { getMessages } from '@/i18n/server'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).todos.title }
}

const FILTERS: readonly Filter[] = ['all', 'open', 'done']
const SORTS: readonly Sort[] = ['-created_at', 'created_at', 'due_date', 'title']

function one(value: string | string[] | undefined): string {
  return typeof value === 'string' ? value : ''
}

export default async function TodosPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>
}) {
  const params = await searchParams
  const filter = one(params.filter) as Filter
  const sort = one(params.sort) as Sort
  const skip = Number.parseInt(one(params.skip), 10)
  const initial: TodoQuery = {
    filter: FILTERS.includes(filter) ? filter : 'all',
    q: one(params.q).slice(0, 200),
    sort: SORTS.includes(sort) ? sort : '-created_at',
    skip: Number.isFinite(skip) && skip > 0 ? skip : 0,
  }
  return <TodosView initial={initial} />
}

'use client'

import { useCallback, useEffect, useId, useRef, useState } from 'react'
import { FormError } from '@/components/Alert'
import { ConfirmDialog } from '@/components/ConfirmDialog'
import { Pagination } from '@/components/Pagination'
import { SearchField } from '@/components/SearchField'
import { Toast, useToast } from '@/components/Toast'
import { useLoader } from '@/components/useLoader'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { Page, Todo } from '@/lib/api/types'
import { api } from '@/lib/client/bff'
import { ApiError, errorMessage } from '@/lib/errors'
import { NewTodoForm } from './NewTodoForm'
import { TodoItem, type TodoChanges } from './TodoItem'

export type Filter = 'all' | 'open' | 'done'
export type Sort = '-created_at' | 'created_at' | 'due_date' | 'title'

export interface TodoQuery {
  filter: Filter
  q: string
  sort: Sort
  skip: number
}

const LIMIT = 10

function completedParam(filter: Filter): boolean | undefined {
  return filter === 'all' ? undefined : filter === 'done'
}

/** Keep the list state in the address bar, so reload, back and "log in and come back" keep it. */
function writeUrl(query: TodoQuery) {
  const params = new URLSearchParams()
  if (query.filter !== 'all') params.set('filter', query.filter)
  if (query.q) params.set('q', query.q)
  if (query.sort !== '-created_at') params.set('sort', query.sort)
  if (query.skip > 0) params.set('skip', String(query.skip))
  const search = params.toString()
  const { pathname, hash } = window.location
  // The hash stays: the skip link's #main is the user's, not the list's.
  const url = `${pathname}${search ? `?${search}` : ''}${hash}`
  if (url !== `${pathname}${window.location.search}${hash}`) window.history.replaceState(null, '', url)
}

export function TodosView({ initial }: { initial: TodoQuery }) {
  const { m } = useI18n()
  const sortId = useId()
  const [query, setQuery] = useState<TodoQuery>(initial)
  const [searchText, setSearchText] = useState(initial.q)
  const [toDelete, setToDelete] = useState<Todo | null>(null)
  const [deleting, setDeleting] = useState(false)
  const [toast, showToast] = useToast()

  const fetchTodos = useCallback(async () => {
    const [list, open] = await Promise.all([
      api<Page<Todo>>('/todos', {
        query: {
          skip: query.skip,
          limit: LIMIT,
          is_completed: completedParam(query.filter),
          q: query.q || undefined,
          sort: query.sort,
        },
      }),
      api<Page<Todo>>('/todos', { query: { is_completed: false, limit: 1 } }),
    ])
    return { list, openCount: open.total, query }
  }, [query])
  const { data, problem: loadError, reload, update, loads } = useLoader(fetchTodos)
  const page = data?.list ?? null
  const openCount = data?.openCount ?? null
  // What the screen shows is the last answer, not the last request: a page that failed to load
  // leaves the old page, its footer, its filter and its address in place.
  const shown = data?.query ?? null
  const heading = useRef<HTMLHeadingElement>(null)
  const list = useRef<HTMLUListElement>(null)
  // A row an action may take off the list (deleted, or no longer matching the filter): once the
  // next answer is on screen, focus goes to the row now in its place, or to the heading.
  const focusNear = useRef<{ id: number; index: number } | null>(null)

  useEffect(() => {
    if (shown) writeUrl(shown)
  }, [shown])

  useEffect(() => {
    const near = focusNear.current
    focusNear.current = null
    const active = document.activeElement
    // Only focus that was lost with its row is moved; anywhere else the user put it stays.
    if (!near || (active !== null && active !== document.body)) return
    const rows = Array.from(list.current?.querySelectorAll<HTMLElement>('[data-testid="todo-item"]') ?? [])
    const row =
      rows.find((item) => item.dataset.todoId === String(near.id)) ?? rows[Math.min(near.index, rows.length - 1)]
    const control = row?.querySelector<HTMLElement>('input, button')
    if (control) control.focus()
    else heading.current?.focus()
  }, [loads])

  function keepFocusNear(todo: Todo) {
    const index = page?.items.findIndex((item) => item.id === todo.id) ?? -1
    focusNear.current = { id: todo.id, index: Math.max(0, index) }
  }

  // Search as you type, once typing pauses.
  useEffect(() => {
    const timer = window.setTimeout(() => {
      setQuery((current) => (current.q === searchText.trim() ? current : { ...current, q: searchText.trim(), skip: 0 }))
    }, 300)
    return () => window.clearTimeout(timer)
  }, [searchText])

  async function create(values: TodoChanges) {
    await api<Todo>('/todos', { method: 'POST', json: values })
    showToast((t) => t.todos.created)
    reload()
  }

  function showCompleted(todo: Todo, isCompleted: boolean) {
    update((current) => ({
      ...current,
      list: {
        ...current.list,
        items: current.list.items.map((item) => (item.id === todo.id ? { ...item, is_completed: isCompleted } : item)),
      },
    }))
  }

  async function toggle(todo: Todo) {
    // Tick the box at once; the reload that follows brings the list and counts in line.
    showCompleted(todo, !todo.is_completed)
    if (query.filter !== 'all') keepFocusNear(todo)
    try {
      await api<Todo>(`/todos/${todo.id}`, { method: 'PATCH', json: { is_completed: !todo.is_completed } })
      showToast((t) => (todo.is_completed ? t.todos.reopened : t.todos.completed))
    } catch (error) {
      // The change did not happen: the box goes back to what the server holds, even if the
      // reload below cannot reach it either.
      showCompleted(todo, todo.is_completed)
      showToast((t) => (error instanceof ApiError ? errorMessage(error, t) : t.errors.network))
    } finally {
      reload()
    }
  }

  async function save(todo: Todo, changes: TodoChanges) {
    await api<Todo>(`/todos/${todo.id}`, { method: 'PATCH', json: changes })
    showToast((t) => t.todos.updated)
    reload()
  }

  async function confirmDelete() {
    if (!toDelete) return
    setDeleting(true)
    try {
      await api(`/todos/${toDelete.id}`, { method: 'DELETE' })
      keepFocusNear(toDelete)
      showToast((t) => t.todos.deleted)
      setToDelete(null)
      // Deleting the last task of a later page steps back a page instead of showing it empty.
      if (page && page.items.length === 1 && page.skip > 0) {
        setQuery((current) => ({ ...current, skip: Math.max(0, page.skip - LIMIT) }))
      } else {
        reload()
      }
    } catch (error) {
      setToDelete(null)
      showToast((t) => (error instanceof ApiError ? errorMessage(error, t) : t.errors.network))
    } finally {
      setDeleting(false)
    }
  }

  const filters: { value: Filter; label: string }[] = [
    { value: 'all', label: m.todos.all },
    { value: 'open', label: m.todos.open },
    { value: 'done', label: m.todos.done },
  ]
  const filtered = shown !== null && (shown.filter !== 'all' || shown.q !== '')

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            {m.todos.title}
          </h1>
          <p>{openCount === null ? '\u00a0' : format(m.todos.intro, { open: openCount })}</p>
        </div>
      </div>

      <NewTodoForm onCreate={create} />

      <section className="card card-flush" aria-label={m.todos.list}>
        <div className="toolbar">
          <div role="group" aria-label={m.todos.filter} className="segmented">
            {filters.map((item) => (
              <button
                key={item.value}
                type="button"
                aria-pressed={(shown ?? query).filter === item.value}
                onClick={() => setQuery((current) => ({ ...current, filter: item.value, skip: 0 }))}
              >
                {item.label}
              </button>
            ))}
          </div>
          <SearchField label={m.todos.search} placeholder={m.todos.searchPlaceholder} value={searchText} onChange={setSearchText} />
          <div>
            <label htmlFor={sortId} className="visually-hidden">
              {m.todos.sort}
            </label>
            <select
              id={sortId}
              className="select"
              value={query.sort}
              onChange={(event) => setQuery((current) => ({ ...current, sort: event.target.value as Sort, skip: 0 }))}
            >
              <option value="-created_at">{m.todos.sortNewest}</option>
              <option value="created_at">{m.todos.sortOldest}</option>
              <option value="due_date">{m.todos.sortDue}</option>
              <option value="title">{m.todos.sortTitle}</option>
            </select>
          </div>
        </div>

        {loadError.message ? (
          <div className="card-message">
            <FormError message={loadError.message} requestId={loadError.requestId} />
          </div>
        ) : null}

        {page === null && !loadError.message ? (
          <p className="empty" aria-busy="true">
            {m.app.loading}
          </p>
        ) : null}

        {page && page.items.length === 0 ? (
          <p className="empty">{filtered ? m.todos.emptyFiltered : m.todos.empty}</p>
        ) : null}

        {page && page.items.length > 0 ? (
          <ul className="todo-list" ref={list}>
            {page.items.map((todo) => (
              <TodoItem key={todo.id} todo={todo} onToggle={toggle} onSave={save} onDelete={setToDelete} />
            ))}
          </ul>
        ) : null}

        <Pagination page={page} limit={LIMIT} onChange={(skip) => setQuery((current) => ({ ...current, skip }))} />
      </section>

      <ConfirmDialog
        open={toDelete !== null}
        title={m.todos.confirmDeleteTitle}
        body={format(m.todos.confirmDeleteBody, { title: toDelete?.title ?? '' })}
        confirmLabel={m.common.delete}
        busy={deleting}
        onConfirm={confirmDelete}
        onCancel={() => setToDelete(null)}
      />
      <Toast message={toast} />
    </div>
  )
}

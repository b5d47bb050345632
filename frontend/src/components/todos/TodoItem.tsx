'use client'

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { Field, TextArea } from '@/components/Field'
import { useFormErrors } from '@/components/useForm'
import { format } from '@/i18n'
import { useI18n } from '@/i18n/client'
import type { Todo } from '@/lib/api/types'
import { apiToDateInput, dateInputToApi, dueState, formatDate } from '@/lib/dates'
import { TASK_TITLE_MAX, validateTodo } from '@/lib/validation'

export interface TodoChanges {
  title: string
  description: string | null
  due_date: string | null
}

interface Props {
  todo: Todo
  onToggle: (todo: Todo) => Promise<void>
  onSave: (todo: Todo, changes: TodoChanges) => Promise<void>
  onDelete: (todo: Todo) => void
}

export function TodoItem({ todo, onToggle, onSave, onDelete }: Props) {
  const { m, locale } = useI18n()
  const [editing, setEditing] = useState(false)
  const [busy, setBusy] = useState(false)
  const editButton = useRef<HTMLButtonElement>(null)
  // Not `disabled` while the change is under way: that would drop the keyboard focus to the page.
  const toggling = useRef(false)
  const wasEditing = useRef(false)
  const { formRef, fields, problem, check, fail, reset } = useFormErrors(['title', 'description', 'due_date'])

  useEffect(() => {
    if (editing) formRef.current?.querySelector<HTMLInputElement>('input[name="title"]')?.focus()
    else if (wasEditing.current) editButton.current?.focus()
    wasEditing.current = editing
  }, [editing, formRef])

  function cancel() {
    reset()
    setEditing(false)
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const data = new FormData(event.currentTarget)
    const values = {
      title: String(data.get('title') ?? ''),
      description: String(data.get('description') ?? ''),
      due_date: String(data.get('due_date') ?? ''),
    }
    if (!check(validateTodo(values, m))) return
    setBusy(true)
    try {
      await onSave(todo, {
        title: values.title.trim(),
        description: values.description.trim() || null,
        due_date: values.due_date ? dateInputToApi(values.due_date) : null,
      })
      setEditing(false)
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLFormElement>) {
    if (event.key === 'Escape') {
      event.preventDefault()
      cancel()
    }
  }

  if (editing) {
    return (
      <li className="todo" data-testid="todo-item">
        <span aria-hidden="true" />
        <form ref={formRef} className="todo-edit" onSubmit={submit} onKeyDown={onKeyDown} noValidate aria-label={m.todos.editing}>
          {problem.message ? (
            <p className="field-error" role="alert">
              {problem.message}
            </p>
          ) : null}
          <Field label={m.todos.taskTitle} name="title" defaultValue={todo.title} error={fields.title} maxLength={TASK_TITLE_MAX} />
          <TextArea
            label={m.todos.description}
            name="description"
            defaultValue={todo.description ?? ''}
            error={fields.description}
            optional
            rows={2}
          />
          <Field
            label={m.todos.dueDate}
            name="due_date"
            type="date"
            defaultValue={apiToDateInput(todo.due_date)}
            error={fields.due_date}
            optional
          />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary btn-sm" disabled={busy}>
              {busy ? m.common.saving : m.common.save}
            </button>
            <button type="button" className="btn btn-secondary btn-sm" onClick={cancel}>
              {m.common.cancel}
            </button>
          </div>
        </form>
      </li>
    )
  }

  const due = todo.due_date ? dueState(todo.due_date) : null
  return (
    <li className={`todo${todo.is_completed ? ' is-done' : ''}`} data-testid="todo-item" data-todo-id={todo.id}>
      <input
        type="checkbox"
        className="check"
        checked={todo.is_completed}
        aria-label={format(todo.is_completed ? m.todos.markOpen : m.todos.markDone, { title: todo.title })}
        onChange={async () => {
          if (toggling.current) return
          toggling.current = true
          try {
            await onToggle(todo)
          } finally {
            toggling.current = false
          }
        }}
      />
      <div>
        {/* translate="no": the user's own words, not the UI's (browser translators skip them too) */}
        <div className="todo-title" translate="no">
          {todo.title}
        </div>
        {todo.description ? (
          <p className="todo-desc" translate="no">
            {todo.description}
          </p>
        ) : null}
        {todo.due_date ? (
          <div className="todo-meta">
            <span
              className={`badge${
                todo.is_completed ? '' : due === 'overdue' ? ' badge-danger' : due === 'today' ? ' badge-warning' : ''
              }`}
            >
              <CalendarIcon />
              {format(m.todos.due, { date: formatDate(todo.due_date, locale) })}
              {!todo.is_completed && due === 'overdue' ? ` · ${m.todos.overdue}` : null}
              {!todo.is_completed && due === 'today' ? ` · ${m.todos.dueToday}` : null}
            </span>
          </div>
        ) : null}
      </div>
      <div className="todo-actions">
        <button
          ref={editButton}
          type="button"
          className="btn btn-ghost btn-sm"
          aria-label={format(m.todos.editTask, { title: todo.title })}
          onClick={() => setEditing(true)}
        >
          {m.common.edit}
        </button>
        <button
          type="button"
          className="btn btn-danger-ghost btn-sm"
          aria-label={format(m.todos.deleteTask, { title: todo.title })}
          onClick={() => onDelete(todo)}
        >
          {m.common.delete}
        </button>
      </div>
    </li>
  )
}

function CalendarIcon() {
  return (
    <svg width="12" height="12" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2.2" aria-hidden="true">
      <rect x="3" y="5" width="18" height="16" rx="2" />
      <path d="M3 10h18M8 3v4M16 3v4" />
    </svg>
  )
}

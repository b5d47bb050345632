'use client'

import { useEffect, useState, type FormEvent } from 'react'
import { FormError } from '@/components/Alert'
import { Field, TextArea } from '@/components/Field'
import { useFormErrors } from '@/components/useForm'
import { useUser } from '@/components/UserContext'
import { useI18n } from '@/i18n/client'
import { dateInputToApi } from '@/lib/dates'
import { TASK_TITLE_MAX, validateTodo } from '@/lib/validation'
import { clearDraft, loadDraft, saveDraft, type Draft } from './draft'
import type { TodoChanges } from './TodoItem'

function readDraft(form: HTMLFormElement): Draft {
  const data = new FormData(form)
  return {
    title: String(data.get('title') ?? ''),
    description: String(data.get('description') ?? ''),
    due_date: String(data.get('due_date') ?? ''),
  }
}

export function NewTodoForm({ onCreate }: { onCreate: (values: TodoChanges) => Promise<void> }) {
  const { m } = useI18n()
  const { formRef, fields, problem, check, fail } = useFormErrors(['title', 'description', 'due_date'])
  const [busy, setBusy] = useState(false)
  const user = useUser()

  // A draft kept across an expired session's trip to the login page fills the form again.
  useEffect(() => {
    const form = formRef.current
    const draft = loadDraft(user.id)
    if (!form || !draft) return
    for (const [name, value] of Object.entries(draft)) {
      const field = form.elements.namedItem(name)
      if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) field.value = value
    }
  }, [formRef, user.id])

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const form = event.currentTarget
    const values = readDraft(form)
    if (!check(validateTodo(values, m))) return
    setBusy(true)
    try {
      await onCreate({
        title: values.title.trim(),
        description: values.description.trim() || null,
        due_date: values.due_date ? dateInputToApi(values.due_date) : null,
      })
      form.reset()
      clearDraft()
      form.querySelector<HTMLInputElement>('input[name="title"]')?.focus()
    } catch (error) {
      fail(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card new-task" aria-labelledby="new-task-heading">
      <h2 id="new-task-heading" className="card-heading">
        {m.todos.newTask}
      </h2>
      <form
        ref={formRef}
        className="form"
        onSubmit={submit}
        onInput={(event) => saveDraft(user.id, readDraft(event.currentTarget))}
        noValidate
      >
        <FormError message={problem.message} requestId={problem.requestId} />
        <div className="row row-top">
          <div className="grow">
            <Field
              label={m.todos.taskTitle}
              name="title"
              placeholder={m.todos.titlePlaceholder}
              error={fields.title}
              maxLength={TASK_TITLE_MAX}
              autoComplete="off"
              required
            />
          </div>
          <div className="filter-date on-demand">
            <Field label={m.todos.dueDate} name="due_date" type="date" error={fields.due_date} optional />
          </div>
        </div>
        <div className="on-demand">
          <TextArea
            label={m.todos.description}
            name="description"
            placeholder={m.todos.descriptionPlaceholder}
            error={fields.description}
            optional
            rows={2}
          />
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? m.todos.adding : m.todos.add}
          </button>
        </div>
      </form>
    </section>
  )
}

'use client'

// The new-task form's unsent text, kept in this tab's sessionStorage: a session that expires
// while the user writes sends the browser to log in, and the draft comes back afterwards.
// Stored with the user's id, so another account signing in on the same tab never sees it;
// logging out deletes it.

const KEY = 'koiki.todo-draft'

export interface Draft {
  title: string
  description: string
  due_date: string
}

interface Stored extends Draft {
  user: number
}

/** sessionStorage can be switched off or full; a lost draft is not worth an error. */
function storage(): Storage | null {
  try {
    return window.sessionStorage
  } catch (error) {
    if (error instanceof DOMException) return null
    throw error
  }
}

export function saveDraft(user: number, draft: Draft): void {
  const store = storage()
  if (!store) return
  if (!draft.title && !draft.description && !draft.due_date) {
    store.removeItem(KEY)
    return
  }
  try {
    store.setItem(KEY, JSON.stringify({ user, ...draft } satisfies Stored))
  } catch (error) {
    if (!(error instanceof DOMException)) throw error
  }
}

export function loadDraft(user: number): Draft | null {
  const text = storage()?.getItem(KEY)
  if (!text) return null
  let stored: Partial<Stored>
  try {
    stored = JSON.parse(text) as Partial<Stored>
  } catch (error) {
    if (error instanceof SyntaxError) return null
    throw error
  }
  if (stored.user !== user) return null
  return {
    title: String(stored.title ?? ''),
    description: String(stored.description ?? ''),
    due_date: String(stored.due_date ?? ''),
  }
}

export function clearDraft(): void {
  storage()?.removeItem(KEY)
}

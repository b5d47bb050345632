'use client'

import { useCallback, useEffect, useState } from 'react'
import { useI18n } from '@/i18n/client'
import { mapApiError } from '@/lib/errors'

export interface Problem {
  message: string | null
  requestId: string | null
}

export const NO_PROBLEM: Problem = { message: null, requestId: null }

/**
 * Load data for a view and reload it on demand. A response that arrives after a newer
 * request started (fast typing in a search box) is dropped instead of overwriting it. A failed
 * load keeps the data already shown (with `problem` set): the old page stays true to itself.
 */
export function useLoader<T>(load: () => Promise<T>) {
  const { m } = useI18n()
  const [data, setData] = useState<T | null>(null)
  const [problem, setProblem] = useState<Problem>(NO_PROBLEM)
  const [version, setVersion] = useState(0)
  // Counts answers from the API (not optimistic updates): views settle focus after one lands.
  const [loads, setLoads] = useState(0)

  useEffect(() => {
    let current = true
    load().then(
      (result) => {
        if (!current) return
        setData(result)
        setProblem(NO_PROBLEM)
        setLoads((n) => n + 1)
      },
      (error: unknown) => {
        if (!current) return
        const mapped = mapApiError(error, m)
        setProblem({ message: mapped.form, requestId: mapped.requestId })
      },
    )
    return () => {
      current = false
    }
  }, [load, version, m])

  const reload = useCallback(() => setVersion((v) => v + 1), [])
  /** Change the loaded data in place (an optimistic update) until the next reload. */
  const update = useCallback((change: (current: T) => T) => setData((current) => (current === null ? current : change(current))), [])
  return { data, problem, reload, update, loads }
}

'use client'

import { useCallback, useEffect, useRef, useState } from 'react'
import { useI18n } from '@/i18n/client'
import { mapApiError } from '@/lib/errors'
import type { FieldErrors } from '@/lib/validation'

interface FormProblem {
  message: string | null
  requestId: string | null
}

/**
 * Error state of one form: field messages beside the fields, one message for the rest.
 * After a failed submit the first invalid field gets the focus, for keyboard and screen
 * reader users alike.
 */
export function useFormErrors(fieldNames: readonly string[], aliases: Record<string, string> = {}) {
  const { m } = useI18n()
  const formRef = useRef<HTMLFormElement>(null)
  const [fields, setFields] = useState<FieldErrors>({})
  const [problem, setProblem] = useState<FormProblem>({ message: null, requestId: null })
  const [attempt, setAttempt] = useState(0)

  useEffect(() => {
    if (attempt === 0) return
    formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus()
  }, [attempt])

  const reset = useCallback(() => {
    setFields({})
    setProblem({ message: null, requestId: null })
  }, [])

  /** Show client-side validation errors; returns true when there were none. */
  const check = useCallback((errors: FieldErrors) => {
    setFields(errors)
    setProblem({ message: null, requestId: null })
    if (Object.keys(errors).length === 0) return true
    setAttempt((n) => n + 1)
    return false
  }, [])

  const fail = useCallback(
    (error: unknown) => {
      const mapped = mapApiError(error, m, fieldNames, aliases)
      setFields(mapped.fields)
      setProblem({ message: mapped.form, requestId: mapped.requestId })
      setAttempt((n) => n + 1)
    },
    // fieldNames and aliases are constant per form
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [m],
  )

  return { formRef, fields, problem, reset, check, fail }
}

'use client'

import { useId, useState, type InputHTMLAttributes, type TextareaHTMLAttributes } from 'react'
import { useI18n } from '@/i18n/client'

interface Common {
  label: string
  name: string
  error?: string | null
  hint?: string
  optional?: boolean
}

function describedBy(hintId: string, errorId: string, hint?: string, error?: string | null) {
  const ids = [hint ? hintId : null, error ? errorId : null].filter(Boolean)
  return ids.length > 0 ? ids.join(' ') : undefined
}

function Label({ htmlFor, label, optional }: { htmlFor: string; label: string; optional?: boolean }) {
  const { m } = useI18n()
  return (
    <label className="label" htmlFor={htmlFor}>
      {label}
      {optional ? <span className="optional">{m.common.optional}</span> : null}
    </label>
  )
}

/** A labelled input whose hint and error are announced with it (aria-describedby). */
export function Field({
  label,
  name,
  error,
  hint,
  optional,
  type = 'text',
  ...rest
}: Common & Omit<InputHTMLAttributes<HTMLInputElement>, 'name'>) {
  const { m } = useI18n()
  const id = useId()
  const [visible, setVisible] = useState(false)
  const isPassword = type === 'password'
  const input = (
    <input
      id={id}
      name={name}
      type={isPassword && visible ? 'text' : type}
      className="input"
      aria-invalid={error ? true : undefined}
      aria-describedby={describedBy(`${id}-hint`, `${id}-error`, hint, error)}
      {...rest}
    />
  )
  return (
    <div className="field">
      <Label htmlFor={id} label={label} optional={optional} />
      {isPassword ? (
        <div className="password-wrap">
          {input}
          <button
            type="button"
            className="btn btn-ghost btn-sm password-toggle"
            aria-pressed={visible}
            aria-label={visible ? m.common.hidePassword : m.common.showPassword}
            onClick={() => setVisible((v) => !v)}
          >
            <EyeIcon open={!visible} />
          </button>
        </div>
      ) : (
        input
      )}
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  )
}

export function TextArea({
  label,
  name,
  error,
  hint,
  optional,
  ...rest
}: Common & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'name'>) {
  const id = useId()
  return (
    <div className="field">
      <Label htmlFor={id} label={label} optional={optional} />
      <textarea
        id={id}
        name={name}
        className="textarea"
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(`${id}-hint`, `${id}-error`, hint, error)}
        {...rest}
      />
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  )
}

function EyeIcon({ open }: { open: boolean }) {
  return (
    <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
      <path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z" />
      <circle cx="12" cy="12" r="3" />
      {open ? null : <path d="M3 3l18 18" />}
    </svg>
  )
}

import { describe, expect, it } from 'vitest'
import { en } from '@/i18n/en'
import { ja } from '@/i18n/ja'
import type { AuditEvent } from '@/lib/api/types'
import { describeTarget, eventActionName } from '@/lib/audit'

function event(target_type: string | null, target_id: string | null, target_label: string | null): AuditEvent {
  return {
    id: 1,
    occurred_at: '2026-12-06T00:00:00Z',
    actor_id: 1,
    actor_email: 'root@example.com',
    action: 'user.update',
    outcome: 'success',
    target_type,
    target_id,
    target_label,
    ip: null,
    user_agent: null,
    request_id: null,
    details: {},
  }
}

describe('audit targets', () => {
  it('names a user by address, a session by device, in the reader’s language', () => {
    expect(describeTarget(event('user', '7', 'ann@example.com'), ja).text).toBe('ann@example.com')
    expect(describeTarget(event('session', 'f3c1…', 'Firefox/Windows'), en).text).toBe('Session on Firefox/Windows')
    expect(describeTarget(event('session', 'f3c1…', 'Firefox/Windows'), ja).text).toBe('Firefox/Windows のセッション')
  })

  it('translates the built-in roles and shows any other role as it is named', () => {
    expect(describeTarget(event('role', '1', 'admin'), ja).text).toBe('ロール「管理者」')
    expect(describeTarget(event('role', '9', 'auditors'), ja).text).toBe('ロール「auditors」')
    expect(describeTarget(event('role', '1', 'admin'), en).text).toBe('Role “Administrator”')
  })

  it('marks the data in the text, not the wording around it', () => {
    expect(describeTarget(event('session', 'f3c1…', 'Firefox/Windows'), ja).data).toBe('Firefox/Windows')
    expect(describeTarget(event('role', '1', 'admin'), ja).data).toBeNull()
    expect(describeTarget(event('role', '9', 'auditors'), ja).data).toBe('auditors')
  })

  it('falls back on the id, then on the kind alone, then on a dash', () => {
    expect(describeTarget(event('user', '#42', '#42'), en).text).toBe('#42')
    expect(describeTarget(event('user', null, null), ja).text).toBe('ユーザー')
    expect(describeTarget(event(null, null, null), en).text).toBe('—')
  })
})

describe('audit actions', () => {
  it('tells a reset request from a completed reset, old rows included', () => {
    const completed = { ...event('user', '7', 'ann@example.com'), action: 'auth.password_reset', details: { stage: 'completed' } }
    const requested = { ...completed, action: 'auth.password_reset_requested', details: {} }
    const older = { ...completed, details: { stage: 'requested' } }
    expect(eventActionName(completed, en)).toBe('Password reset completed')
    expect(eventActionName(requested, en)).toBe('Password reset requested')
    expect(eventActionName(older, ja)).toBe('パスワード再設定の依頼')
    expect(eventActionName({ ...completed, action: 'sso.new_thing' }, en)).toBe('sso.new_thing')
  })
})

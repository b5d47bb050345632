import { readFileSync } from 'node:fs'
import { expect, type Locator } from '@playwright/test'
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  BASE_URL,
  hydrated,
  login,
  newVisitor,
  registerViaApi,
  test,
  uniqueEmail,
  useEnglish,
} from './helpers'

test('an audit date range that ends before it starts is an error on the To field', async ({ page, context }) => {
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/audit')
  await hydrated(page)
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
  await page.getByLabel('From', { exact: true }).fill('2026-12-10')
  await page.getByLabel('To', { exact: true }).fill('2026-12-01')
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page.getByText('Choose a date on or after the From date.')).toBeVisible()
  await expect(page.getByLabel('To', { exact: true })).toHaveAttribute('aria-invalid', 'true')
  // The old results stay; no "No events match" for a range that cannot match.
  await expect(page.getByText('No events match')).toHaveCount(0)
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
})

/** The lines a text of this element is laid out on (one rect per line of its text). */
async function lines(cell: Locator): Promise<number> {
  return cell.evaluate((element) => {
    const range = document.createRange()
    range.selectNodeContents(element)
    const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)))
    return tops.size
  })
}

test('the audit log names people and targets, tells a reset request from a reset, and exports CSV', async ({
  page,
  context,
  browser,
}) => {
  const member = uniqueEmail('audited')
  const password = 'Koiki-audited-pass-1'
  await registerViaApi(member, password)
  // The member signs in and out in a browser of their own, then asks for a password reset.
  const other = await newVisitor(browser)
  await useEnglish(other)
  const memberPage = await other.newPage()
  await login(memberPage, member, password)
  await memberPage.getByRole('button', { name: 'Log out' }).click()
  await expect(memberPage).toHaveURL(/\/login/)
  await memberPage.goto('/reset-password')
  await hydrated(memberPage)
  await memberPage.getByLabel('Email').fill(member)
  await memberPage.getByRole('button', { name: 'Send reset link' }).click()
  await other.close()

  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/audit')
  await hydrated(page)
  // Part of the address, any case.
  await page.getByLabel('Actor email').fill(member.replace(/@.*/, '').toUpperCase())
  await page.getByRole('button', { name: 'Apply' }).click()
  const rows = page.getByTestId('audit-row')
  await expect(rows.filter({ hasText: 'Password reset requested' })).toHaveCount(1)
  await expect(rows.filter({ hasNotText: member })).toHaveCount(0)
  // A request is not a completed reset.
  await expect(rows.filter({ hasText: 'Password reset completed' })).toHaveCount(0)
  const request = rows.filter({ hasText: 'Password reset requested' })
  await expect(request.getByTestId('audit-target')).toHaveText(member)
  const logout = rows.filter({ hasText: 'auth.logout' })
  await expect(logout.getByTestId('audit-target')).toHaveText(/^Session on [\w ]+\/[\w ]+$/)
  await expect(page.getByText(/[0-9a-f]{8}-[0-9a-f]{4}-/)).toHaveCount(0)

  // The same events as a file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download CSV' }).click(),
  ])
  expect(download.suggestedFilename()).toMatch(/^audit-events-\d{8}T\d{6}Z\.csv$/)
  const csv = readFileSync((await download.path())!, 'utf8').replace(/^\uFEFF/, '')
  const [header, ...records] = csv.trim().split('\r\n')
  expect(header?.split(',').slice(0, 4)).toEqual(['occurred_at', 'actor_email', 'actor_id', 'action'])
  expect(records).toHaveLength(await rows.count())
  for (const record of records) expect(record).toContain(member)
  expect(csv).toContain('auth.password_reset_requested')

  // In Japanese: translated targets, and a header that is one word stays on one line.
  await context.addCookies([{ name: 'koiki_locale', value: 'ja', url: BASE_URL }])
  await page.reload()
  await hydrated(page)
  await page.getByLabel('実行者のメールアドレス').fill(member)
  await page.getByRole('button', { name: '絞り込む' }).click()
  await expect(rows.filter({ hasText: 'パスワード再設定の依頼' }).getByTestId('audit-target')).toHaveText(member)
  await expect(rows.filter({ hasText: 'auth.logout' }).getByTestId('audit-target')).toHaveText(/ のセッション$/)
  expect(await lines(page.getByRole('columnheader', { name: 'IPアドレス' }))).toBe(1)
})

import { expect, type Locator, type Page } from '@playwright/test'
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  BASE_URL,
  addTodos,
  hydrated,
  login,
  registerViaApi,
  test,
  uniqueEmail,
  useEnglish,
} from './helpers'

// At 390 px (a phone) tables become stacked rows: every cell and every action stays on screen.
test.use({ viewport: { width: 390, height: 844 } })

async function onScreen(page: Page, element: Locator): Promise<void> {
  await expect(element).toBeVisible()
  const box = await element.boundingBox()
  const width = page.viewportSize()?.width ?? 0
  expect(box, await element.innerText()).not.toBeNull()
  expect(box!.x).toBeGreaterThanOrEqual(0)
  expect(box!.x + box!.width, `${await element.innerText()} ends at ${box!.x + box!.width}`).toBeLessThanOrEqual(width)
}

/** Lines the element's text takes on screen (a Range's boxes, one row per line). */
function lines(element: Locator): Promise<number> {
  return element.evaluate((node) => {
    const range = document.createRange()
    range.selectNodeContents(node)
    const tops = Array.from(range.getClientRects())
      .filter((rect) => rect.width > 0)
      .map((rect) => Math.round(rect.top))
    return new Set(tops).size
  })
}

/**
 * Words on the page that the screen splits over two lines: dates (「2026年12月7日 06:37」) and
 * katakana words (「ロ / グイン」).
 */
function splitWords(page: Page): Promise<string[]> {
  return page.locator('#main').evaluate((main) => {
    const split: string[] = []
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of (node.textContent ?? '').matchAll(/\d{4}年\d{1,2}月\d{1,2}日(?: \d{1,2}:\d{2})?|[ァ-ヺー]{2,}/g)) {
        const range = document.createRange()
        range.setStart(node, match.index)
        range.setEnd(node, match.index + match[0].length)
        const tops = Array.from(range.getClientRects())
          .filter((rect) => rect.width > 0)
          .map((rect) => Math.round(rect.top))
        if (new Set(tops).size > 1) split.push(match[0])
      }
    }
    return split
  })
}

/**
 * The page as a Japanese phone user sees it: nothing wider than the screen, every button and
 * link inside it with its label on one line, and no date or word split over two lines.
 */
async function fitsInJapanese(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('lang', 'ja')
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
  for (const control of await page.locator('#main').locator('button:visible, a.btn:visible').all()) {
    await onScreen(page, control)
    expect(await lines(control), `${await control.innerText()} on one line`).toBe(1)
  }
  expect(await page.locator('#main').innerText()).toMatch(/\d{4}年\d{1,2}月\d{1,2}日/)
  expect(await splitWords(page)).toEqual([])
}

// The single sign-on pair of .ci/frontend.sh: an identity provider, and a frontend whose profile
// shows the linked accounts card.
const SSO_BASE_URL = process.env.E2E_SSO_BASE_URL ?? ''
const OP_URL = process.env.E2E_OP_URL ?? ''

test('in Japanese, the profile with a linked account and the admin pages fit a phone', async ({ page, context }) => {
  test.skip(!SSO_BASE_URL || !OP_URL, 'needs E2E_SSO_BASE_URL and E2E_OP_URL: the identity provider of .ci/frontend.sh')
  // A long address, as real ones are: it has to wrap somewhere.
  const email = uniqueEmail('phone-profile-with-a-long-address')
  const id = email.slice(0, email.indexOf('@'))
  const created = await fetch(`${OP_URL}/__test/accounts/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'op-phone-password-1', email, email_verified: true, name: '山田 太郎' }),
  })
  expect(created.status).toBe(204)
  await registerViaApi(email, 'Koiki-phone-pass-3', '山田 太郎')
  await useEnglish(context)
  await login(page, email, 'Koiki-phone-pass-3')
  await context.addCookies([{ name: 'koiki_locale', value: 'ja', url: SSO_BASE_URL }])
  await page.goto(`${SSO_BASE_URL}/profile`)
  await hydrated(page)
  await page.getByRole('button', { name: 'Test OP と連携' }).click()
  await page.getByLabel('Login').fill(id)
  await page.getByLabel('Password').fill('op-phone-password-1')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page).toHaveURL(/\/profile\?sso_linked=1/)
  await hydrated(page)
  await expect(page.getByTestId('linked-list')).toContainText(email)
  await expect(page.getByTestId('session-list')).toBeVisible()
  await fitsInJapanese(page)

  await context.clearCookies()
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await context.addCookies([{ name: 'koiki_locale', value: 'ja', url: BASE_URL }])
  await page.goto('/admin/users')
  await hydrated(page)
  await page.getByLabel('ユーザーを検索').fill(email)
  await expect(page.getByTestId('user-row')).toHaveCount(1)
  await fitsInJapanese(page)
  await page.goto('/admin/audit')
  await hydrated(page)
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
  await fitsInJapanese(page)
})

test('the admin tables fit a phone with every action reachable', async ({ page, context }) => {
  const other = uniqueEmail('phone-user')
  await registerViaApi(other, 'Koiki-phone-pass-1')
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)

  await page.goto('/admin/users')
  await hydrated(page)
  await page.getByLabel('Search users').fill(other)
  const row = page.getByTestId('user-row').filter({ hasText: other })
  await expect(page.getByTestId('user-row')).toHaveCount(1)
  for (const name of [`Deactivate ${other}`, `Edit roles of ${other}`]) {
    await onScreen(page, row.getByRole('button', { name }))
  }
  await onScreen(page, row.locator('[data-role="user"]'))
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)

  await page.goto('/admin/audit')
  await hydrated(page)
  const event = page.getByTestId('audit-row').first()
  await expect(event).toBeVisible()
  for (const cell of await event.locator('td').all()) await onScreen(page, cell)
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
})

test('on a phone the task list shows in the first screen', async ({ page, context }) => {
  const email = uniqueEmail('phone-tasks')
  const password = 'Koiki-phone-pass-2'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await addTodos(page, ['Phone task 1', 'Phone task 2', 'Phone task 3', 'Phone task 4', 'Phone task 5'])
  await page.reload()
  await hydrated(page)
  const rows = page.getByTestId('todo-item')
  await expect(rows).toHaveCount(5)
  // Three whole tasks above the fold, under the header, the form and the filters.
  const bottom = await rows.nth(2).evaluate((row) => row.getBoundingClientRect().bottom)
  expect(bottom).toBeLessThanOrEqual(844)

  // Using the form brings its other fields; they stay while they hold something.
  const description = page.getByLabel('Description')
  await expect(description).toBeHidden()
  await page.getByLabel('Title').focus()
  await expect(description).toBeVisible()
  await expect(page.getByLabel('Due date')).toBeVisible()
  await description.fill('Notes typed first')
  await page.getByLabel('Search tasks').focus()
  await expect(description).toBeVisible()
})

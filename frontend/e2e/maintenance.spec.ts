import { execFileSync } from 'node:child_process'
import { expect, type Page } from '@playwright/test'
import { API_URL, axeViolations, hydrated, login, registerViaApi, screenshot, test, uniqueEmail, useEnglish, visitorIp } from './helpers'

// `ops maintenance on|off` run exactly as an operator would, with the e2e API's settings:
// .ci/frontend.sh writes that command to E2E_OPS.
const OPS = process.env.E2E_OPS ?? ''
const MESSAGE = 'データベースを復旧しています / Restoring the database until 10:30 JST'

function ops(...args: string[]): string {
  return execFileSync(OPS, ['maintenance', ...args], { encoding: 'utf8' })
}

/** The API polls the switch about once a second: wait until it answers the way we expect. */
async function apiMaintenance(on: boolean): Promise<void> {
  await expect(async () => {
    const response = await fetch(`${API_URL}/api/v1/todos`, { headers: { 'X-Forwarded-For': visitorIp() } })
    const body = (await response.json()) as { code?: string }
    expect(body.code === 'maintenance').toBe(on)
  }).toPass({ timeout: 15_000 })
}

/** axe-core finds nothing on the page at a desktop and a phone width; the viewport is restored. */
async function noAxeViolation(page: Page): Promise<void> {
  const before = page.viewportSize()
  const found: Record<string, string[]> = {}
  for (const [width, viewport] of Object.entries({ desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } })) {
    await page.setViewportSize(viewport)
    const violations = await axeViolations(page)
    if (violations.length > 0) found[width] = violations
  }
  if (before) await page.setViewportSize(before)
  expect(found).toEqual({})
}

test.describe('maintenance mode', () => {
  test.skip(!OPS, 'needs E2E_OPS, the ops command bound to the e2e API (set by .ci/frontend.sh)')
  test.afterEach(() => {
    if (OPS) ops('off', '--reason', 'e2e cleanup')
  })

  test('a maintenance page in English and Japanese instead of errors, then the app again', async ({ page, context }) => {
    await apiMaintenance(false)
    const email = uniqueEmail('maintenance')
    const password = 'Koiki-maintenance-pass-1'
    await registerViaApi(email, password)
    await useEnglish(context)
    await login(page, email, password)

    // A client-side action that meets maintenance leads to the maintenance page, not a toast.
    expect(ops('on', '--message', MESSAGE, '--retry-after', '300', '--reason', 'e2e')).toContain('maintenance: on')
    await apiMaintenance(true)
    await page.getByLabel('Title').fill('Written during maintenance')
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    const notice = page.getByTestId('maintenance')
    await expect(notice.getByRole('heading', { name: 'Under maintenance', level: 1 })).toBeVisible()
    await expect(page.getByTestId('maintenance-message')).toHaveText(MESSAGE)
    await expect(page.getByTestId('maintenance-retry')).toHaveText('Please try again in about 5 minutes.')
    await expect(page.locator('html')).toHaveAttribute('lang', 'en')
    await expect(page).toHaveURL(/\/todos/)
    await noAxeViolation(page)

    // Loaded by the server, in Japanese: the page itself answers 503 with Retry-After.
    await context.addCookies([{ name: 'koiki_locale', value: 'ja', url: page.url() }])
    const response = await page.goto('/todos')
    expect(response?.status()).toBe(503)
    expect(response?.headers()['retry-after']).toBe('300')
    await hydrated(page)
    await expect(notice.getByRole('heading', { name: 'メンテナンス中です', level: 1 })).toBeVisible()
    await expect(page.getByTestId('maintenance-message')).toHaveText(MESSAGE)
    await expect(page.getByTestId('maintenance-retry')).toHaveText('約5分後に再度お試しください。')
    await expect(page.locator('html')).toHaveAttribute('lang', 'ja')
    await screenshot(page, 'maintenance-ja')
    await noAxeViolation(page)
    // From the top of the page, the keyboard reaches the way back past the brand and the languages.
    const reload = page.getByRole('link', { name: '再読み込み' })
    for (let presses = 0; presses < 5 && !(await reload.evaluate((link) => link === document.activeElement)); presses++) {
      await page.keyboard.press('Tab')
    }
    await expect(reload).toBeFocused()

    // The language switch works on the maintenance page too.
    await page.getByRole('group', { name: '表示言語' }).getByRole('button', { name: 'English' }).click()
    await expect(notice.getByRole('heading', { name: 'Under maintenance', level: 1 })).toBeVisible()
    await expect(page.locator('html')).toHaveAttribute('lang', 'en')
    await screenshot(page, 'maintenance-en')
    await noAxeViolation(page)

    // Visitors who are not signed in see it too, instead of the sign-in form.
    const visitor = await page.context().browser()!.newContext({ locale: 'ja-JP' })
    const anonymous = await visitor.newPage()
    const loginPage = await anonymous.goto('/login')
    expect(loginPage?.status()).toBe(503)
    await expect(anonymous.getByRole('heading', { name: 'メンテナンス中です', level: 1 })).toBeVisible()
    await expect(anonymous.getByTestId('maintenance-message')).toHaveText(MESSAGE)
    await noAxeViolation(anonymous)
    await visitor.close()

    // Maintenance off: the retry link brings the signed-in page back, session intact.
    expect(ops('off', '--reason', 'e2e')).toContain('maintenance: off')
    await apiMaintenance(false)
    await expect(page.getByRole('link', { name: 'Reload' })).toHaveAttribute('href', '/todos')
    await page.getByRole('link', { name: 'Reload' }).click()
    // The frontend looks at the switch about once a second: a reload or two may still see it on.
    await expect(async () => {
      if ((await page.getByTestId('maintenance').count()) > 0) await page.reload()
      await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible({ timeout: 2000 })
    }).toPass({ timeout: 15_000 })
    await expect(page.getByTestId('maintenance')).toHaveCount(0)
    await expect(page.getByText('Loading…')).toHaveCount(0)
    await expect(page.getByTestId('todo-item')).toHaveCount(0)
  })
})

import { expect, type Page } from '@playwright/test'
import { ADMIN_EMAIL, ADMIN_PASSWORD, hydrated, login, test, useEnglish } from './helpers'

// The browser console stays empty on every page: no CSP violation, no failed request, no error.
// CI runs this spec twice: against the production build with the rest of the suite, and against
// `next dev` (E2E_DEV=1), where the Next.js dev tools add inline styles the policy must allow.
const DEV = process.env.E2E_DEV === '1'

function consoleErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`))
  return errors
}

test('the pages log no console error', async ({ page, context }) => {
  // next dev compiles each page on its first visit: minutes on two busy cores.
  if (DEV) test.setTimeout(300_000)
  const errors = consoleErrors(page)
  const response = await page.goto('/login')
  const policy = response?.headers()['content-security-policy'] ?? ''
  const styles = policy.split(';').find((part) => part.trim().startsWith('style-src')) ?? ''
  if (DEV) {
    expect(styles.trim()).toBe("style-src 'self' 'unsafe-inline'")
  } else {
    expect(styles).toMatch(/^\s*style-src 'self' 'nonce-[^']+'$/)
    expect(policy).not.toContain('unsafe-inline')
    expect(policy).not.toContain('unsafe-eval')
  }
  await hydrated(page)
  for (const path of ['/register', '/reset-password']) {
    await page.goto(path)
    await hydrated(page)
  }
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  for (const path of ['/profile', '/admin/users', '/admin/audit', '/todos']) {
    await page.goto(path)
    await hydrated(page)
    await expect(page.getByText('Loading…')).toHaveCount(0)
  }
  await page.waitForLoadState('networkidle')
  expect(errors).toEqual([])
})

test('the site has a favicon', async ({ request }) => {
  const icon = await request.get('/favicon.ico')
  expect(icon.status()).toBe(200)
  expect(icon.headers()['content-type']).toMatch(/^image\//)
  expect((await icon.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0])) // an ICO file
})

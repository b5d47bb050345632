import { createServer, connect, type Server, type Socket } from 'node:net'
import { expect, type Page } from '@playwright/test'
import { format } from '../src/i18n'
import { en } from '../src/i18n/en'
import { ja } from '../src/i18n/ja'
import {
  API_URL,
  BASE_URL,
  addTodos,
  axeViolations,
  formError,
  hydrated,
  login,
  newVisitor,
  registerViaApi,
  sessionCookies,
  test,
  uniqueEmail,
  useEnglish,
} from './helpers'

// The screen tells the truth when the API cannot be reached: what failed is not shown as done.

// A frontend whose API address has nothing listening (started by .ci/frontend.sh); it shares the
// session cookies of the main frontend, both being on localhost.
const DOWN_BASE_URL = process.env.E2E_DOWN_BASE_URL ?? ''
// The address that frontend calls the API at, where nothing listens.
const DOWN_API_URL = process.env.E2E_DOWN_API_URL ?? ''

/**
 * The API comes back: a TCP relay on the down frontend's API address to the running e2e API,
 * until the returned function takes it away again (and every connection through it).
 */
async function bringApiBack(): Promise<() => Promise<void>> {
  const target = new URL(API_URL)
  const sockets = new Set<Socket>()
  const relay: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  const address = new URL(DOWN_API_URL)
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject)
    relay.listen(Number(address.port), address.hostname, resolve)
  })
  return async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => relay.close(resolve))
  }
}

const LANGUAGES = { ja, en }
const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } }

async function noAxeViolation(page: Page, name: string, found: Record<string, string[]>): Promise<void> {
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    await page.setViewportSize(viewport)
    const violations = await axeViolations(page)
    if (violations.length > 0) found[`${name} (${width})`] = violations
  }
}

test('a change that fails is rolled back, and a page that fails to load leaves the old one', async ({ page, context }) => {
  const email = uniqueEmail('outage')
  const password = 'Koiki-outage-pass-1'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await addTodos(
    page,
    Array.from({ length: 12 }, (_, n) => `Outage task ${String(n + 1).padStart(2, '0')}`),
  )
  await page.reload()
  await hydrated(page)
  await expect(page.getByText('1–10 of 12')).toBeVisible()
  const rows = page.getByTestId('todo-item')

  // The API goes away: every call through the BFF fails as a network error.
  await page.route('**/api/bff/**', (route) => route.abort('connectionrefused'))

  await page.getByRole('checkbox', { name: 'Mark “Outage task 12” as done' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Network error. Check your connection.' })).toBeVisible()
  const box = page.getByRole('checkbox', { name: 'Mark “Outage task 12” as done' })
  await expect(box).not.toBeChecked()
  await expect(rows.first()).not.toHaveClass(/is-done/)
  await expect(page.getByText('12 open tasks')).toBeVisible()

  await page.getByRole('button', { name: 'Next' }).click()
  await expect(formError(page)).toContainText('Network error. Check your connection.')
  await expect(page.getByText('1–10 of 12')).toBeVisible()
  await expect(page.getByText('11–12 of 12')).toHaveCount(0)
  await expect(rows).toHaveCount(10)
  await expect(rows.first()).toContainText('Outage task 12')
  await expect(page).not.toHaveURL(/skip=/)

  // Back up: the same button tries again.
  await page.unroute('**/api/bff/**')
  await page.getByRole('button', { name: 'Next' }).click()
  await expect(page.getByText('11–12 of 12')).toBeVisible()
  await expect(rows).toHaveCount(2)
  await expect(formError(page)).toHaveCount(0)
  await expect(page).toHaveURL(/skip=10/)
})

test('a page that cannot load its data says so inside the app, with a retry', async ({ page, context }) => {
  test.skip(!DOWN_BASE_URL, 'needs E2E_DOWN_BASE_URL: a frontend without a reachable API (.ci/frontend.sh starts one)')
  const email = uniqueEmail('outage-profile')
  const password = 'Koiki-outage-pass-2'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  expect(new URL(DOWN_BASE_URL).hostname).toBe(new URL(BASE_URL).hostname)

  const response = await page.goto(`${DOWN_BASE_URL}/profile`)
  expect(response?.status()).toBeLessThan(500)
  await hydrated(page)
  // The normal layout: header, navigation and the language picker are all there.
  await expect(page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Tasks' })).toBeVisible()
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible()
  const outage = page.getByRole('alert').filter({ hasText: 'The service is unavailable' })
  await expect(outage).toContainText('The server is not responding')
  // Still down: trying again keeps the same page, not an error page or a trip to the login form.
  await outage.getByRole('button', { name: 'Try again' }).click()
  await expect(outage.getByRole('button', { name: 'Try again' })).toBeEnabled()
  await expect(page).toHaveURL(`${DOWN_BASE_URL}/profile`)
  await expect(page.getByRole('heading', { name: 'Something went wrong' })).toHaveCount(0)
})

test('a task being written survives its session expiring, and leaves with a log-out', async ({ page, context }) => {
  const email = uniqueEmail('draft')
  const password = 'Koiki-outage-pass-3'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await page.getByLabel('Title').fill('Send the signed contract')
  await page.getByLabel('Description').fill('Two copies, one for legal')
  await page.getByLabel('Due date').fill('2031-03-14')

  // The session ends while the user writes: Add sends them to log in...
  const cookies = await sessionCookies(context)
  await context.clearCookies({ name: cookies.access?.name })
  await context.clearCookies({ name: cookies.refresh?.name })
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page).toHaveURL(/\/login\?next=%2Ftodos&reason=expired/)
  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()

  // ...and the draft is back where they left it.
  await expect(page).toHaveURL(/\/todos/)
  await hydrated(page)
  await expect(page.getByLabel('Title')).toHaveValue('Send the signed contract')
  await expect(page.getByLabel('Description')).toHaveValue('Two copies, one for legal')
  await expect(page.getByLabel('Due date')).toHaveValue('2031-03-14')
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page.getByTestId('todo-item').filter({ hasText: 'Send the signed contract' })).toBeVisible()
  await page.reload()
  await hydrated(page)
  await expect(page.getByLabel('Title')).toHaveValue('')

  // A deliberate log-out takes an unsent draft with it.
  await page.getByLabel('Title').fill('Private note')
  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page).toHaveURL(/\/login\?reason=logged_out/)
  await login(page, email, password)
  await expect(page.getByLabel('Title')).toHaveValue('')
})

test('the pages shown while the API is down pass axe in both languages at both widths', async ({ page, context, browser }) => {
  test.skip(!DOWN_BASE_URL, 'needs E2E_DOWN_BASE_URL: a frontend without a reachable API (.ci/frontend.sh starts one)')
  test.setTimeout(150_000)
  const email = uniqueEmail('outage-axe')
  const password = 'Koiki-outage-pass-4'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  const visitor = await newVisitor(browser)
  const anonymous = await visitor.newPage()
  const found: Record<string, string[]> = {}

  for (const [locale, m] of Object.entries(LANGUAGES)) {
    for (const ctx of [context, visitor]) {
      await ctx.addCookies([{ name: 'koiki_locale', value: locale, url: DOWN_BASE_URL }])
    }
    for (const path of ['/todos', '/profile', '/admin/users']) {
      await page.goto(`${DOWN_BASE_URL}${path}`)
      await hydrated(page)
      const outage = page.getByRole('alert').filter({ hasText: m.pages.outageTitle })
      await expect(outage).toBeVisible()
      await noAxeViolation(page, `${locale} ${path}`, found)
    }
    // After a retry that failed too: the page says so.
    await page.getByRole('button', { name: m.pages.retry }).click()
    await expect(page.getByRole('status').filter({ hasText: format(m.pages.outageStill, { n: 1 }) })).toBeVisible()
    // A refresh remounts Next's streamed metadata: the title can follow the page by a moment.
    await expect(page).toHaveTitle(`${m.admin.usersTitle} | ${m.app.name}`)
    await noAxeViolation(page, `${locale} /admin/users after a failed retry`, found)

    // Signing in while the API is down: the form, then what its submission says.
    await anonymous.goto(`${DOWN_BASE_URL}/login`)
    await hydrated(anonymous)
    await noAxeViolation(anonymous, `${locale} /login`, found)
    await anonymous.getByLabel(m.auth.email).fill(email)
    await anonymous.getByLabel(m.auth.password, { exact: true }).fill(password)
    await anonymous.getByRole('button', { name: m.auth.login, exact: true }).click()
    await expect(formError(anonymous)).toBeVisible()
    await noAxeViolation(anonymous, `${locale} /login after a failed sign-in`, found)
  }
  await visitor.close()
  expect(found).toEqual({})
})

test('with the API down the retry is one Tab from the content, keeps the focus, and hands it to the page', async ({ page, context }) => {
  test.skip(!DOWN_BASE_URL || !DOWN_API_URL, 'needs E2E_DOWN_BASE_URL and E2E_DOWN_API_URL (.ci/frontend.sh sets both)')
  const email = uniqueEmail('outage-keys')
  const password = 'Koiki-outage-pass-5'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await context.addCookies([{ name: 'koiki_locale', value: 'en', url: DOWN_BASE_URL }])

  for (const [path, heading] of [
    ['/profile', 'Profile'],
    ['/todos', 'Tasks'],
  ]) {
    await page.goto(`${DOWN_BASE_URL}${path}`)
    await hydrated(page)
    const retry = page.getByRole('button', { name: 'Try again' })
    await expect(retry).toBeVisible()
    // The skip link first, then straight past the header to the retry.
    await page.keyboard.press('Tab')
    await expect(page.getByRole('link', { name: 'Skip to main content' })).toBeFocused()
    await page.keyboard.press('Enter')
    await page.keyboard.press('Tab')
    await expect(retry).toBeFocused()

    // Still down: the focus stays on the button, and the page says the retry failed.
    await page.keyboard.press('Enter')
    await expect(page.getByRole('status').filter({ hasText: 'Still no answer from the server (attempt 1).' })).toBeVisible()
    await expect(retry).toBeFocused()

    // Back up: the same key loads the page, and the focus is on its heading.
    const takeAway = await bringApiBack()
    try {
      await page.keyboard.press('Enter')
      const title = page.getByRole('heading', { name: heading, level: 1 })
      await expect(title).toBeVisible()
      await expect(title).toBeFocused()
      await expect(page.getByRole('alert').filter({ hasText: 'The service is unavailable' })).toHaveCount(0)
      await expect(page).toHaveURL(`${DOWN_BASE_URL}${path}`)
    } finally {
      await takeAway()
    }
  }
})

import { expect, type BrowserContext, type Locator, type Page } from '@playwright/test'
import { format } from '../src/i18n'
import { en } from '../src/i18n/en'
import { ja } from '../src/i18n/ja'
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  API_URL,
  BASE_URL,
  addTodos,
  axeViolations,
  hydrated,
  login,
  newVisitor,
  registerViaApi,
  test,
  uniqueEmail,
  useEnglish,
  visitorIp,
} from './helpers'

// axe-core on every page and every dialog, in both languages, at a desktop and a phone width:
// any violation of any rule fails, and the failure lists them all (page, rule, elements).

const LANGUAGES = { ja, en }
const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } }

type Step = { name: string; open: (page: Page) => Promise<void>; dialog?: (page: Page) => Locator }

async function visit(page: Page, path: string): Promise<void> {
  await page.goto(path)
  await hydrated(page)
  await expect(page.locator('.empty', { hasText: /Loading|読み込み中/ })).toHaveCount(0)
}

function steps(m: typeof ja, member: string, task: string): { anonymous: Step[]; signedIn: Step[] } {
  return {
    anonymous: [
      { name: '/login', open: (page) => visit(page, '/login') },
      { name: '/register', open: (page) => visit(page, '/register') },
      { name: '/reset-password', open: (page) => visit(page, '/reset-password') },
      { name: '/reset-password/confirm', open: (page) => visit(page, '/reset-password/confirm?token=not-a-token') },
      { name: '/verify-email', open: (page) => visit(page, '/verify-email?token=not-a-token') },
      { name: 'not found', open: (page) => visit(page, '/no-such-page') },
    ],
    signedIn: [
      { name: '/todos', open: (page) => visit(page, '/todos') },
      {
        name: '/todos delete dialog',
        open: async (page) => {
          await visit(page, '/todos')
          await page.getByRole('button', { name: format(m.todos.deleteTask, { title: task }) }).click()
        },
        dialog: (page) => page.getByRole('dialog', { name: m.todos.confirmDeleteTitle }),
      },
      { name: '/profile', open: (page) => visit(page, '/profile') },
      {
        name: '/profile sign out everywhere dialog',
        open: async (page) => {
          await visit(page, '/profile')
          await page.getByRole('button', { name: m.profile.signOutEverywhere }).click()
        },
        dialog: (page) => page.getByRole('dialog', { name: m.profile.confirmEverywhereTitle }),
      },
      {
        name: '/admin/users',
        open: async (page) => {
          await visit(page, '/admin/users')
          await page.getByLabel(m.admin.searchUsers).fill(member)
          await expect(page.getByTestId('user-row')).toHaveCount(1)
        },
      },
      {
        name: '/admin/users new user dialog',
        open: async (page) => {
          await visit(page, '/admin/users')
          await page.getByRole('button', { name: m.admin.newUser }).click()
        },
        dialog: (page) => page.getByRole('dialog', { name: m.admin.newUserTitle }),
      },
      {
        name: '/admin/users roles dialog',
        open: async (page) => {
          await visit(page, '/admin/users')
          await page.getByLabel(m.admin.searchUsers).fill(member)
          await expect(page.getByTestId('user-row')).toHaveCount(1)
          await page.getByRole('button', { name: format(m.admin.editRolesFor, { email: member }) }).click()
        },
        dialog: (page) => page.getByRole('dialog', { name: format(m.admin.rolesTitle, { email: member }) }),
      },
      {
        name: '/admin/users deactivate dialog',
        open: async (page) => {
          await visit(page, '/admin/users')
          await page.getByLabel(m.admin.searchUsers).fill(member)
          await expect(page.getByTestId('user-row')).toHaveCount(1)
          await page.getByRole('button', { name: format(m.admin.deactivateUser, { email: member }) }).click()
        },
        dialog: (page) => page.getByRole('dialog', { name: m.admin.confirmDeactivateTitle }),
      },
      {
        name: '/admin/audit',
        open: async (page) => {
          await visit(page, '/admin/audit')
          await expect(page.getByTestId('audit-row').first()).toBeVisible()
        },
      },
    ],
  }
}

async function check(page: Page, step: Step, found: Record<string, string[]>): Promise<void> {
  await step.open(page)
  if (step.dialog) await expect(step.dialog(page)).toBeVisible()
  const violations = await axeViolations(page)
  if (violations.length > 0) found[step.name] = violations
  if (step.dialog) {
    await page.keyboard.press('Escape')
    await expect(step.dialog(page)).toBeHidden()
  }
}

/**
 * An administrator of its own (the admin role, made by the e2e superuser through the API): the
 * pages this spec loads would spend the shared account's per-user rate limit.
 */
async function newAdmin(password: string): Promise<string> {
  const ip = { 'X-Forwarded-For': visitorIp() }
  const signedIn = await fetch(`${API_URL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...ip },
    body: new URLSearchParams({ username: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  })
  expect(signedIn.status).toBe(200)
  const { access_token: token } = (await signedIn.json()) as { access_token: string }
  const email = uniqueEmail('axe-admin')
  const created = await fetch(`${API_URL}/api/v1/users`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...ip },
    body: JSON.stringify({ email, password, roles: ['admin', 'user'], email_verified: true }),
  })
  expect(created.status, await created.clone().text()).toBe(201)
  return email
}

async function chooseLanguage(context: BrowserContext, locale: keyof typeof LANGUAGES): Promise<void> {
  await context.addCookies([{ name: 'koiki_locale', value: locale, url: BASE_URL }])
}

for (const [locale, m] of Object.entries(LANGUAGES) as [keyof typeof LANGUAGES, typeof ja][]) {
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    test(`no axe violation on any page or dialog (${locale}, ${width})`, async ({ page, context, browser }) => {
      test.setTimeout(180_000)
      const member = uniqueEmail(`axe-${locale}-${width}`)
      await registerViaApi(member, 'Koiki-axe-pass-1')
      const task = `Axe task ${Date.now().toString(36)}`
      const found: Record<string, string[]> = {}

      const visitor = await newVisitor(browser)
      await chooseLanguage(visitor, locale)
      const anonymous = await visitor.newPage()
      await anonymous.setViewportSize(viewport)
      for (const step of steps(m, member, task).anonymous) await check(anonymous, step, found)
      // A signed-in user without the permission: the access-denied page.
      await useEnglish(visitor)
      await login(anonymous, member, 'Koiki-axe-pass-1')
      await chooseLanguage(visitor, locale)
      await check(anonymous, { name: 'access denied', open: (page) => visit(page, '/admin/users') }, found)
      await expect(anonymous.getByRole('heading', { name: m.pages.forbiddenTitle })).toBeVisible()
      await visitor.close()

      await useEnglish(context)
      const password = 'Koiki-axe-admin-pass-1'
      await login(page, await newAdmin(password), password)
      await addTodos(page, [task])
      await chooseLanguage(context, locale)
      await page.setViewportSize(viewport)
      for (const step of steps(m, member, task).signedIn) await check(page, step, found)

      expect(found).toEqual({})
    })
  }
}

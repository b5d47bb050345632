import { readFileSync } from 'node:fs'
import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test'

export const API_URL = process.env.E2E_API_URL ?? 'http://127.0.0.1:8000'
export const BASE_URL = process.env.E2E_BASE_URL ?? 'http://localhost:3000'
export const ADMIN_EMAIL = process.env.E2E_ADMIN_EMAIL ?? 'admin@example.com'
export const ADMIN_PASSWORD = process.env.E2E_ADMIN_PASSWORD ?? 'change-me-admin-password'
export const SCREENSHOTS = 'e2e/screenshots'

/** A full-page screenshot for the docs: from the top, without passing toasts. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0))
  // Hidden through the DOM, not the screenshot's `style` option: that injects a <style> element,
  // which the pages' Content-Security-Policy rightly refuses.
  const toasts = page.locator('.toast-region')
  await toasts.evaluateAll((regions) => regions.forEach((region) => ((region as HTMLElement).style.display = 'none')))
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true })
  await toasts.evaluateAll((regions) => regions.forEach((region) => ((region as HTMLElement).style.display = '')))
}

/**
 * Each browser context plays a different visitor behind the reverse proxy: a client address
 * of its own in X-Forwarded-For, which the BFF passes on and the API (trusting loopback as a
 * proxy) uses for its per-IP rate limits and the session list. Without it, every test would
 * share one address and trip the login and register limits meant for a single client.
 */
export function visitorIp(): string {
  const part = () => 1 + Math.floor(Math.random() * 250)
  return `10.${part()}.${part()}.${part()}`
}

export const test = base.extend<{ cspViolations: string[] }>({
  context: async ({ context }, provide) => {
    await context.setExtraHTTPHeaders({ 'X-Forwarded-For': visitorIp() })
    await provide(context)
  },
  // Every spec doubles as a check of the pages' Content-Security-Policy: anything the browser
  // refused (a script without the nonce, a style attribute) fails the test that loaded it.
  cspViolations: [
    async ({ context }, provide) => {
      const violations: string[] = []
      context.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/.test(message.text())) violations.push(message.text())
      })
      await provide(violations)
      expect(violations).toEqual([])
    },
    { auto: true },
  ],
})

type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>

export async function newVisitor(browser: Browser, storageState?: StorageState): Promise<BrowserContext> {
  return browser.newContext({ storageState, extraHTTPHeaders: { 'X-Forwarded-For': visitorIp() } })
}

let counter = 0
/** A fresh address per test run, so the suite can run twice against one database. */
export function uniqueEmail(label: string): string {
  counter += 1
  return `${label}-${Date.now().toString(36)}-${counter}@example.com`
}

/** Show the UI in English (the default is Japanese; the i18n spec covers that). */
export async function useEnglish(context: BrowserContext): Promise<void> {
  await context.addCookies([{ name: 'koiki_locale', value: 'en', url: BASE_URL }])
}

/** Create an account straight through the API (setup for tests about something else). */
export async function registerViaApi(email: string, password: string, fullName?: string): Promise<void> {
  const response = await fetch(`${API_URL}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': visitorIp() },
    body: JSON.stringify({ email, password, full_name: fullName ?? null }),
  })
  expect(response.status, await response.clone().text()).toBe(201)
}

// The API sends real mail over SMTP to a local aiosmtpd started by .ci/frontend.sh, which
// writes every message to this file.
export const MAIL_LOG = process.env.E2E_MAIL_LOG ?? ''

function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

/** The latest link to `path` mailed to `email`, read from the SMTP sink's log. */
export async function mailedLink(email: string, path: string): Promise<URL> {
  const pattern = new RegExp(`https?://\\S+${path.replace(/\//g, '\\/')}\\?token=[\\w.~-]+`)
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const mail = decodeQuotedPrintable(readFileSync(MAIL_LOG, 'utf8'))
    const messages = mail.split('---------- MESSAGE FOLLOWS ----------').filter((m) => m.includes(email))
    const link = messages.at(-1)?.match(pattern)
    if (link) return new URL(link[0])
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`no mail with ${path} for ${email} in ${MAIL_LOG}`)
}

/** Wait until React has hydrated the page (see I18nProvider). */
export async function hydrated(page: Page): Promise<void> {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' })
}

/** The error message of a form (Next.js adds an empty role=alert route announcer of its own). */
export function formError(page: Page) {
  return page.locator('.alert[role="alert"]')
}

export async function login(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login')
  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page).toHaveURL(/\/todos/)
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible()
  // The list is fetched by the hydrated page: once it shows, buttons react to clicks.
  await expect(page.getByText('Loading…')).toHaveCount(0)
}

export async function sessionCookies(context: BrowserContext) {
  const cookies = await context.cookies()
  return {
    access: cookies.find((c) => c.name.endsWith('koiki_at')),
    refresh: cookies.find((c) => c.name.endsWith('koiki_rt')),
    csrf: cookies.find((c) => c.name.endsWith('koiki_csrf')),
  }
}

/** Add tasks through the BFF as the signed-in page (setup for tests about the list). */
export async function addTodos(page: Page, titles: string[]): Promise<void> {
  await page.evaluate(async (list) => {
    const token = decodeURIComponent(/(?:^|;\s*)(?:__Host-)?koiki_csrf=([^;]+)/.exec(document.cookie)?.[1] ?? '')
    for (const title of list) {
      const response = await fetch('/api/bff/todos', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
        body: JSON.stringify({ title }),
      })
      if (!response.ok) throw new Error(`POST /todos: ${response.status} ${await response.text()}`)
    }
  }, titles)
}

const AXE_SOURCE = readFileSync('node_modules/axe-core/axe.min.js', 'utf8')

/** axe-core's violations on the page as it is now (rules: only these, when given). */
export async function axeViolations(page: Page, rules?: string[]): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not
  // govern: no <script> is added to the page.
  await page.evaluate(AXE_SOURCE)
  return page.evaluate(async (only) => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<AxeResults> } }).axe
    interface AxeResults {
      violations: { id: string; nodes: { target: string[] }[] }[]
    }
    const results = await axe.run(document, only ? { runOnly: { type: 'rule', values: only } } : {})
    return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  }, rules ?? null)
}

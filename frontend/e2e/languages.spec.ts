import { expect, type BrowserContext, type Page } from '@playwright/test'
import { roleName } from '../src/i18n'
import { en } from '../src/i18n/en'
import { ja } from '../src/i18n/ja'
import { ADMIN_EMAIL, ADMIN_PASSWORD, BASE_URL, hydrated, login, newVisitor, test, useEnglish } from './helpers'

// Every page, in both languages, shows no string of the other one: what a page says goes
// through the dictionaries, toasts and role names included.

type Locale = 'ja' | 'en'
const dictionaries = { ja, en }

function leaves(value: unknown, path = '', found = new Map<string, string>()): Map<string, string> {
  if (typeof value === 'string') found.set(path, value)
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) leaves(inner, `${path}.${key}`, found)
  }
  return found
}

/** Literal parts (placeholders cut out) of the strings one language does not share with the other. */
function onlyIn(locale: Locale): string[] {
  const mine = leaves(dictionaries[locale])
  const theirs = leaves(dictionaries[locale === 'ja' ? 'en' : 'ja'])
  const fragments = new Set<string>()
  for (const [key, text] of mine) {
    if (theirs.get(key) === text) continue
    for (const part of text.split(/\{\w+\}/)) {
      const fragment = part.trim()
      // Short fragments ("Due", "件") also occur inside unrelated words.
      if (fragment.length >= 5) fragments.add(fragment)
    }
  }
  return [...fragments]
}

const JAPANESE = /[\u3040-\u30ff\u3400-\u9fff]/
// Words a Japanese page may show in Latin letters: the product's name, the switch's "English" and
// the file format the audit log downloads ("CSVをダウンロード", as Japanese software says it).
const LATIN_ALLOWED = new Set(['KOIKI', 'Todo', 'English', 'CSV'])

/**
 * What a visitor sees: the visible text outside the user's own words (marked translate="no":
 * task titles, names, devices), and what they hear: labels, titles and placeholders.
 */
async function shown(page: Page): Promise<{ text: string; labels: string }> {
  return page.evaluate(() => {
    const parts: string[] = [document.title]
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement
      if (!element || element.closest('[translate="no"], script, style')) continue
      if (element.tagName !== 'OPTION' && !element.checkVisibility()) continue
      parts.push(node.textContent ?? '')
    }
    const labels = [...document.querySelectorAll('[aria-label], [placeholder], [title], [alt]')].flatMap((node) =>
      ['aria-label', 'placeholder', 'title', 'alt'].map((name) => node.getAttribute(name) ?? ''),
    )
    return { text: parts.join('\n'), labels: labels.join('\n') }
  })
}

async function expectOnly(page: Page, locale: Locale): Promise<void> {
  const where = `${page.url()} (${locale})`
  const seen = await shown(page)
  // Addresses, ids ("#3f2a…") and the audit log's action codes (shown beside their names) are
  // data, not UI text; labels may quote the user's words ("Delete “Buy milk”"), so only the
  // dictionary check applies to them.
  // Longest first: 'auth.login' must not eat the start of 'auth.login_locked'.
  const codes = Object.keys(ja.admin.actionNames).sort((a, b) => b.length - a.length)
  const text = codes.reduce((all, code) => all.replaceAll(code, ' '), seen.text.replace(/\S+@\S+|#\S+/g, ' '))
  const all = `${text}\n${seen.labels}`
  const foreign = onlyIn(locale === 'ja' ? 'en' : 'ja').filter((fragment) => all.includes(fragment))
  expect(foreign, where).toEqual([])
  if (locale === 'ja') {
    const latin = (text.match(/[A-Za-z]{3,}/g) ?? []).filter((word) => !LATIN_ALLOWED.has(word))
    expect(latin, where).toEqual([])
  } else {
    // The language switch names Japanese in Japanese; nothing else may be.
    expect(JAPANESE.test(text.replaceAll(ja.language.ja, '')), `${where}: ${text}`).toBe(false)
  }
}

async function visit(page: Page, context: BrowserContext, path: string, locale: Locale): Promise<void> {
  await context.addCookies([{ name: 'koiki_locale', value: locale, url: BASE_URL }])
  await page.goto(path)
  await hydrated(page)
  await expect(page.locator('html')).toHaveAttribute('lang', locale)
  await expect(page.getByText(dictionaries[locale].app.loading)).toHaveCount(0)
  await expectOnly(page, locale)
}

const PUBLIC_PAGES = ['/login', '/register', '/reset-password', '/reset-password/confirm?token=not-a-real-token', '/no-such-page']
const SIGNED_IN_PAGES = ['/todos', '/profile', '/admin/users', '/admin/audit']

test('every page speaks one language at a time', async ({ page, context, browser }) => {
  const visitor = await newVisitor(browser)
  const anonymous = await visitor.newPage()
  for (const locale of ['ja', 'en'] as const) {
    for (const path of PUBLIC_PAGES) await visit(anonymous, visitor, path, locale)
  }
  await visitor.close()

  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  for (const locale of ['ja', 'en'] as const) {
    for (const path of SIGNED_IN_PAGES) await visit(page, context, path, locale)
  }
  // The dialogs too: the built-in roles' names and descriptions among them.
  for (const locale of ['ja', 'en'] as const) {
    const m = dictionaries[locale]
    await visit(page, context, '/admin/users', locale)
    await page.getByRole('button', { name: m.admin.newUser }).click()
    const dialog = page.getByRole('dialog', { name: m.admin.newUserTitle })
    await expect(dialog.getByRole('checkbox').first()).toBeVisible()
    await expectOnly(page, locale)
    await page.keyboard.press('Escape')
    await expect(dialog).toBeHidden()
  }
  // The administrator holds both built-in roles: their names are translated.
  await visit(page, context, '/profile', 'ja')
  await expect(page.locator('[data-role="admin"]')).toHaveText(roleName('admin', ja))
  await expect(page.locator('[data-role="user"]')).toHaveText(roleName('user', ja))
})

test('a toast shown before a language switch is shown in the new language', async ({ page, context }) => {
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.getByLabel(en.todos.taskTitle).fill('A task before the switch')
  await page.getByRole('button', { name: en.todos.add, exact: true }).click()
  const toast = page.locator('.toast')
  await expect(toast).toHaveText(en.todos.created)
  await page.getByRole('group', { name: en.language.label }).getByRole('button', { name: ja.language.ja }).click()
  await expect(page.getByRole('heading', { name: ja.todos.title, level: 1 })).toBeVisible()
  await expect(toast).toHaveText(ja.todos.created)
})

import { expect } from '@playwright/test'
import { hydrated, registerViaApi, screenshot, test, uniqueEmail } from './helpers'

test('Japanese by default, English on request, and the choice sticks', async ({ page }) => {
  const email = uniqueEmail('lang')
  const password = 'Koiki-language-pass-1'
  await registerViaApi(email, password)

  await page.goto('/login')

  await hydrated(page)
  await expect(page.locator('html')).toHaveAttribute('lang', 'ja')
  await expect(page.getByRole('heading', { name: 'ログイン' })).toBeVisible()
  await page.getByLabel('メールアドレス').fill('bad')
  await page.getByRole('button', { name: 'ログイン' }).click()
  await expect(page.getByText('有効なメールアドレスを入力してください。')).toBeVisible()
  await screenshot(page, 'login-ja')

  await page.getByRole('group', { name: '表示言語' }).getByRole('button', { name: 'English' }).click()
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible()
  await expect(page.locator('html')).toHaveAttribute('lang', 'en')
  await page.reload()
  await hydrated(page)
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible()

  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible()

  await page.getByRole('group', { name: 'Language' }).getByRole('button', { name: '日本語' }).click()
  await expect(page.getByRole('heading', { name: 'タスク', level: 1 })).toBeVisible()
  await expect(page.getByRole('navigation', { name: 'メインメニュー' }).getByRole('link', { name: 'プロフィール' })).toBeVisible()
  await page.getByLabel('タイトル').fill('日本語のタスク')
  await page.getByRole('button', { name: '追加', exact: true }).click()
  await expect(page.getByTestId('todo-item')).toContainText('日本語のタスク')
  await expect(page.getByText('1 件の未完了タスク')).toBeVisible()
  await screenshot(page, 'todos-ja')
})

test('a browser that asks for English gets English until a language is chosen', async ({ browser }) => {
  const english = await browser.newContext({ locale: 'en-US' })
  const page = await english.newPage()
  await page.goto('/login')
  await hydrated(page)
  await expect(page.locator('html')).toHaveAttribute('lang', 'en')
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible()
  // An explicit choice outranks the browser's wish.
  await page.getByRole('group', { name: 'Language' }).getByRole('button', { name: '日本語' }).click()
  await expect(page.getByRole('heading', { name: 'ログイン' })).toBeVisible()
  await page.reload()
  await hydrated(page)
  await expect(page.locator('html')).toHaveAttribute('lang', 'ja')
  await english.close()
})

import { expect, type Page } from '@playwright/test'
import { formError, hydrated, login, registerViaApi, test, uniqueEmail, useEnglish } from './helpers'

// An API configured with a real OpenID Provider (oidc-provider on loopback, from
// tests/support/oidc_provider) and a frontend in front of it, started by .ci/frontend.sh.
const SSO_BASE_URL = process.env.E2E_SSO_BASE_URL ?? ''
const OP_URL = process.env.E2E_OP_URL ?? ''
test.use({ baseURL: SSO_BASE_URL || undefined })

const OP_PASSWORD = 'op-e2e-password-1'

/** An account at the identity provider, made through its test-only endpoint. */
async function providerAccount(label: string): Promise<{ id: string; email: string }> {
  const email = uniqueEmail(label)
  const id = email.slice(0, email.indexOf('@'))
  const response = await fetch(`${OP_URL}/__test/accounts/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: OP_PASSWORD, email, email_verified: true, name: 'SSO Person' }),
  })
  expect(response.status).toBe(204)
  return { id, email }
}

async function signInAtProvider(page: Page, id: string): Promise<void> {
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible()
  await page.getByLabel('Login').fill(id)
  await page.getByLabel('Password').fill(OP_PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

test('sign in with the identity provider, see the link on the profile, sign out of both', async ({ page }) => {
  test.skip(!SSO_BASE_URL || !OP_URL, 'E2E_SSO_BASE_URL and E2E_OP_URL come from .ci/frontend.sh')
  const account = await providerAccount('sso')
  await page.goto('/login')
  await hydrated(page)
  // Japanese by default: the button names the provider.
  await page.getByRole('link', { name: 'Test OP でログイン' }).click()
  await signInAtProvider(page, account.id)
  await expect(page).toHaveURL(/\/todos$/)
  await expect(page.getByRole('heading', { name: 'タスク', level: 1, exact: true })).toBeVisible()

  await page.goto('/profile')
  await hydrated(page)
  const linked = page.getByTestId('linked-list')
  await expect(linked).toContainText('Test OP')
  await expect(linked).toContainText(account.email)
  // No password to change, and the only way to sign in cannot be unlinked.
  await expect(page.getByRole('heading', { name: 'パスワードの変更' })).toHaveCount(0)
  await expect(page.getByRole('button', { name: '連携を解除' })).toHaveCount(0)

  await page.getByRole('button', { name: 'ログアウト', exact: true }).click()
  // The provider's own sign-out page, then back to our login page.
  await page.getByRole('button', { name: /Yes, sign me out/ }).click()
  await expect(page).toHaveURL(/\/login\?reason=logged_out/)
  await page.getByRole('link', { name: 'Test OP でログイン' }).click()
  // Signed out at the provider too: it asks for the password again.
  await expect(page.getByLabel('Login')).toBeVisible()
})

test('cancelling at the provider comes back with a clear message, in English too', async ({ page, context }) => {
  test.skip(!SSO_BASE_URL || !OP_URL, 'E2E_SSO_BASE_URL and E2E_OP_URL come from .ci/frontend.sh')
  await useEnglish(context)
  await page.goto('/login')
  await hydrated(page)
  await page.getByRole('link', { name: 'Sign in with Test OP' }).click()
  await page.getByRole('button', { name: 'Cancel' }).click()
  await expect(page).toHaveURL(/\/login\?sso_error=sso_access_denied/)
  await expect(formError(page)).toContainText('The sign-in was cancelled or refused by your organisation account.')
})

test('an expired or replayed answer from the provider is refused with a clear message', async ({ page, context }) => {
  test.skip(!SSO_BASE_URL, 'E2E_SSO_BASE_URL comes from .ci/frontend.sh')
  await useEnglish(context)
  await page.goto('/api/auth/sso/callback?state=made-up&code=made-up')
  await expect(page).toHaveURL(/\/login\?sso_error=sso_invalid_state/)
  await expect(formError(page)).toContainText('The sign-in expired or was already used.')
})

test('the same address at the provider does not take a password account over; its owner links it on the profile and unlinks it', async ({ page, context }) => {
  test.skip(!SSO_BASE_URL || !OP_URL, 'E2E_SSO_BASE_URL and E2E_OP_URL come from .ci/frontend.sh')
  await useEnglish(context)
  const account = await providerAccount('link')
  const password = 'Koiki-linked-pass-8'
  await page.goto('/register')
  await hydrated(page)
  await page.getByLabel('Email').fill(account.email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByLabel('Confirm password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page).toHaveURL(/\/login\?reason=registered/)

  // The same address at the provider does not sign into the password account by itself.
  await page.getByRole('link', { name: 'Sign in with Test OP' }).click()
  await signInAtProvider(page, account.id)
  await expect(page).toHaveURL(/\/login\?sso_error=sso_link_required/)
  // Offered, not forced: the owner may sign in as usual and link on the profile instead.
  await expect(page.getByRole('heading', { name: 'Link Test OP to your account' })).toBeVisible()

  await login(page, account.email, password)
  await page.goto('/profile')
  await hydrated(page)
  await expect(page.getByText('No linked accounts.')).toBeVisible()
  await page.getByRole('button', { name: 'Link Test OP' }).click()
  // Signed in at the provider a moment ago: it answers without asking again.
  await expect(page).toHaveURL(/\/profile\?sso_linked=1/)
  await expect(page.getByText('The account was linked.')).toBeVisible()
  await expect(page.getByTestId('linked-list')).toContainText(account.email)

  await page.getByRole('button', { name: 'Unlink Test OP' }).click()
  await expect(page.getByText('The account was unlinked.')).toBeVisible()
  await expect(page.getByText('No linked accounts.')).toBeVisible()
})

test('a first sign-in onto a password account links it with the password once', async ({ page }) => {
  test.skip(!SSO_BASE_URL || !OP_URL, 'E2E_SSO_BASE_URL and E2E_OP_URL come from .ci/frontend.sh')
  const account = await providerAccount('linkpw')
  const password = 'Koiki-linked-pass-9'
  await registerViaApi(account.email, password)
  await page.goto('/login')
  await hydrated(page)
  // Japanese by default.
  await page.getByRole('link', { name: 'Test OP でログイン' }).click()
  await signInAtProvider(page, account.id)
  await expect(page).toHaveURL(/\/login\?sso_error=sso_link_required/)
  await hydrated(page)
  const form = page.getByTestId('sso-link-form')
  await expect(form).toContainText('KOIKI のパスワードを一度入力してください')
  await form.getByLabel('KOIKI のパスワード').fill('not-the-password-1')
  await form.getByRole('button', { name: 'Test OP を連携してログイン' }).click()
  await expect(form.getByRole('alert')).toContainText('メールアドレスまたはパスワードが正しくありません。')
  // A typo keeps the offer: the right password links and signs in.
  await form.getByLabel('KOIKI のパスワード').fill(password)
  await form.getByRole('button', { name: 'Test OP を連携してログイン' }).click()
  await expect(page).toHaveURL(/\/todos$/)

  await page.goto('/profile')
  await hydrated(page)
  await expect(page.getByTestId('linked-list')).toContainText(account.email)
})

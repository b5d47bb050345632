import { readFileSync } from 'node:fs'
import { expect } from '@playwright/test'
import { formError, hydrated, login, MAIL_LOG, mailedLink, test, uniqueEmail, useEnglish } from './helpers'

// A second API with REQUIRE_EMAIL_VERIFICATION=true (as in staging and production) and a
// frontend in front of it, both started by .ci/frontend.sh beside the main pair.
const VERIFY_BASE_URL = process.env.E2E_VERIFY_BASE_URL ?? ''
test.use({ baseURL: VERIFY_BASE_URL || undefined })

const password = 'Koiki-verified-pass-4'

test('register, confirm the address from the mail, then log in', async ({ page, context }) => {
  test.skip(!VERIFY_BASE_URL || !MAIL_LOG, 'E2E_VERIFY_BASE_URL and E2E_MAIL_LOG come from .ci/frontend.sh')
  const email = uniqueEmail('verify')
  await useEnglish(context)
  await page.goto('/register')
  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByLabel('Confirm password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible()
  await expect(page.getByText(`We have sent a confirmation link to ${email}.`)).toBeVisible()
  const first = await mailedLink(email, '/verify-email')

  // Not yet: the login says why and offers a new link, which replaces the first.
  await page.goto('/login')
  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(formError(page)).toContainText('Please confirm your email address first')
  await page.getByRole('button', { name: 'Send the confirmation link again' }).click()
  await expect(page.getByText('If your account still needs confirming, a new link is on its way.')).toBeVisible()
  await expect.poll(async () => (await mailedLink(email, '/verify-email')).href).not.toBe(first.href)
  const link = await mailedLink(email, '/verify-email')

  await page.goto(`${first.pathname}${first.search}`)
  await hydrated(page)
  await page.getByRole('button', { name: 'Confirm my address' }).click()
  await expect(formError(page)).toContainText('This confirmation link is invalid, already used or expired.')

  await page.goto(`${link.pathname}${link.search}`)
  await hydrated(page)
  await expect(page.getByRole('heading', { name: 'Confirm your email address' })).toBeVisible()
  await page.getByRole('button', { name: 'Confirm my address' }).click()
  await expect(page).toHaveURL(/\/login\?reason=verified/)
  await expect(page.getByText('Your email address is confirmed. Please log in.')).toBeVisible()
  await login(page, email, password)
})

test('registering a taken address looks the same as a new one', async ({ page, context }) => {
  test.skip(!VERIFY_BASE_URL || !MAIL_LOG, 'E2E_VERIFY_BASE_URL and E2E_MAIL_LOG come from .ci/frontend.sh')
  const email = uniqueEmail('taken')
  await useEnglish(context)
  for (let attempt = 0; attempt < 2; attempt += 1) {
    await page.goto('/register')
    await hydrated(page)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password', { exact: true }).fill(password)
    await page.getByLabel('Confirm password').fill(password)
    await page.getByRole('button', { name: 'Create account' }).click()
    await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible()
    await expect(formError(page)).toHaveCount(0)
  }
  // The owner is told instead (the log holds every message the SMTP sink received).
  await expect
    .poll(() =>
      readFileSync(MAIL_LOG, 'utf8')
        .split('---------- MESSAGE FOLLOWS ----------')
        .some((message) => message.includes(email) && message.includes('Someone tried to register with your email address')),
    )
    .toBe(true)
})

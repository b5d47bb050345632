import { expect } from '@playwright/test'
import { formError, hydrated, login, MAIL_LOG, mailedLink, registerViaApi, test, uniqueEmail, useEnglish } from './helpers'

test('reset a forgotten password through the emailed link', async ({ page, context }) => {
  test.skip(!MAIL_LOG, 'E2E_MAIL_LOG (the SMTP sink of .ci/frontend.sh) is not set')
  const email = uniqueEmail('reset')
  await registerViaApi(email, 'Koiki-forgotten-pass-1')
  await useEnglish(context)

  await page.goto('/login')

  await hydrated(page)
  await page.getByRole('link', { name: 'Forgot your password?' }).click()
  await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible()
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Send reset link' }).click()
  await expect(page.getByText('If an account exists for that address, a reset link is on its way.')).toBeVisible()

  const link = await mailedLink(email, '/reset-password/confirm')
  await page.goto(`${link.pathname}${link.search}`)
  await hydrated(page)
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible()
  await page.getByLabel('New password', { exact: true }).fill('Koiki-remembered-pass-2')
  await page.getByLabel('Confirm new password').fill('Koiki-remembered-pass-2')
  await page.getByRole('button', { name: 'Set password' }).click()
  await expect(page).toHaveURL(/\/login\?reason=reset/)
  await expect(page.getByText('Your password has been reset.')).toBeVisible()
  await login(page, email, 'Koiki-remembered-pass-2')

  // The link works once. (Leave the task page first: its requests would follow the cleared session.)
  await page.goto('about:blank')
  await context.clearCookies()
  await useEnglish(context)
  await page.goto(`${link.pathname}${link.search}`)
  await hydrated(page)
  await page.getByLabel('New password', { exact: true }).fill('Koiki-third-pass-3')
  await page.getByLabel('Confirm new password').fill('Koiki-third-pass-3')
  await page.getByRole('button', { name: 'Set password' }).click()
  await expect(formError(page)).toContainText('This reset link is invalid or has expired.')
})

test('a reset page without a token says so', async ({ page, context }) => {
  await useEnglish(context)
  await page.goto('/reset-password/confirm')
  await hydrated(page)
  await expect(formError(page)).toContainText('This reset link is not valid.')
  await page.getByRole('link', { name: 'Request a new link' }).click()
  await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible()
})

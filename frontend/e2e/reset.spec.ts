import { readFileSync } from 'node:fs'
import { expect } from '@playwright/test'
import { formError, hydrated, login, registerViaApi, test, uniqueEmail, useEnglish } from './helpers'

// The API sends real mail over SMTP to a local aiosmtpd started by .ci/frontend.sh, which
// writes every message to this file.
const MAIL_LOG = process.env.E2E_MAIL_LOG ?? ''

function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

async function resetLinkFor(email: string): Promise<string> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const mail = decodeQuotedPrintable(readFileSync(MAIL_LOG, 'utf8'))
    const messages = mail.split('---------- MESSAGE FOLLOWS ----------').filter((m) => m.includes(email))
    const link = messages.at(-1)?.match(/https?:\/\/\S+\/reset-password\/confirm\?token=[\w.~-]+/)
    if (link) return link[0]
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`no reset mail for ${email} in ${MAIL_LOG}`)
}

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

  const link = new URL(await resetLinkFor(email))
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

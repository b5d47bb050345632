import { expect, type Locator } from '@playwright/test'
import { ADMIN_EMAIL, ADMIN_PASSWORD, BASE_URL, hydrated, login, registerViaApi, test, uniqueEmail, useEnglish } from './helpers'

// Small things a daily user notices: labels that stay put, messages said once, dates on one
// line, a search box that is not left holding someone else's address.

const VERIFY_BASE_URL = process.env.E2E_VERIFY_BASE_URL ?? ''

async function lineCount(element: Locator): Promise<number> {
  return element.evaluate((node) => {
    const range = document.createRange()
    range.selectNodeContents(node)
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size
  })
}

test('the Due date label stays where it is when the Title error appears', async ({ page, context }) => {
  const email = uniqueEmail('due')
  await registerViaApi(email, 'Koiki-due-pass-1')
  await useEnglish(context)
  await login(page, email, 'Koiki-due-pass-1')
  const label = page.locator('label', { hasText: 'Due date' })
  const before = await label.boundingBox()
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page.getByLabel('Title')).toHaveAttribute('aria-invalid', 'true')
  expect(await label.boundingBox()).toEqual(before)
})

test('in Japanese the password hint and its error are not the same sentence', async ({ page, context }) => {
  await context.addCookies([{ name: 'koiki_locale', value: 'ja', url: BASE_URL }])
  await page.goto('/register')
  await hydrated(page)
  const password = page.getByLabel('パスワード', { exact: true })
  await password.fill('short')
  await page.getByRole('button', { name: '登録する' }).click()
  await expect(password).toHaveAttribute('aria-invalid', 'true')
  const hint = page.locator('.field', { has: password }).locator('.hint')
  const error = page.locator('.field', { has: password }).locator('.field-error')
  await expect(hint).toBeVisible()
  await expect(error).toBeVisible()
  expect((await hint.innerText()).trim()).not.toBe((await error.innerText()).trim())
})

test('after creating a user the search box is empty and the new account is on screen', async ({ page, context }) => {
  const email = uniqueEmail('made')
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/users')
  await hydrated(page)
  await page.getByRole('button', { name: 'New user' }).click()
  const dialog = page.getByRole('dialog', { name: 'New user' })
  // Verification is off on this deployment: there is nothing to vouch for.
  await expect(dialog.getByRole('checkbox', { name: /^Address already confirmed/ })).toHaveCount(0)
  await dialog.getByLabel('Email').fill(email)
  await dialog.getByLabel('Initial password', { exact: true }).fill('Koiki-made-pass-1')
  await dialog.getByLabel('Confirm password', { exact: true }).fill('Koiki-made-pass-1')
  await dialog.getByRole('button', { name: 'Create user' }).click()
  await expect(dialog).toBeHidden()
  await expect(page.getByText(`${email} created.`)).toBeVisible()
  await expect(page.getByTestId('user-row').filter({ hasText: email })).toBeVisible()
  await expect(page.getByLabel('Search users')).toHaveValue('')
  // Nor is any account marked "Email not confirmed".
  await expect(page.getByText('Email not confirmed')).toHaveCount(0)
  await expect(page.getByRole('button', { name: /^Mark the email of .* as confirmed/ })).toHaveCount(0)

  // In Japanese the registration date is one line, however narrow the column.
  await context.addCookies([{ name: 'koiki_locale', value: 'ja', url: BASE_URL }])
  await page.reload()
  await hydrated(page)
  const created = page.getByTestId('user-row').first().locator('td').nth(4)
  await expect(created).toBeVisible()
  expect(await lineCount(created)).toBe(1)
})

test.describe('with e-mail verification required', () => {
  test.use({ baseURL: VERIFY_BASE_URL || undefined })

  test('unconfirmed accounts are marked, and an admin vouches only on purpose', async ({ page, context }) => {
    test.skip(!VERIFY_BASE_URL, 'E2E_VERIFY_BASE_URL comes from .ci/frontend.sh')
    await context.addCookies([{ name: 'koiki_locale', value: 'en', url: VERIFY_BASE_URL }])
    await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    await page.goto('/admin/users')
    await hydrated(page)
    const unvouched = uniqueEmail('unvouched')
    const vouchedFor = uniqueEmail('vouched')
    for (const [email, vouched] of [
      [unvouched, false],
      [vouchedFor, true],
    ] as const) {
      await page.getByRole('button', { name: 'New user' }).click()
      const dialog = page.getByRole('dialog', { name: 'New user' })
      const vouch = dialog.getByRole('checkbox', { name: /^Address already confirmed/ })
      await expect(vouch).not.toBeChecked()
      if (vouched) await vouch.check()
      await dialog.getByLabel('Email').fill(email)
      await dialog.getByLabel('Initial password', { exact: true }).fill('Koiki-vouch-pass-1')
      await dialog.getByLabel('Confirm password', { exact: true }).fill('Koiki-vouch-pass-1')
      await dialog.getByRole('button', { name: 'Create user' }).click()
      await expect(dialog).toBeHidden()
    }
    await page.getByLabel('Search users').fill(unvouched)
    await expect(page.getByTestId('user-row')).toHaveCount(1)
    await expect(page.getByTestId('user-row')).toContainText('Email not confirmed')
    await page.getByLabel('Search users').fill(vouchedFor)
    await expect(page.getByTestId('user-row').filter({ hasText: vouchedFor })).toHaveCount(1)
    await expect(page.getByTestId('user-row')).not.toContainText('Email not confirmed')
  })
})

import { expect } from '@playwright/test'
import { ADMIN_EMAIL, ADMIN_PASSWORD, formError, hydrated, login, newVisitor, registerViaApi, screenshot, test, uniqueEmail, useEnglish } from './helpers'

const password = 'Koiki-member-pass-1'

test('a regular user sees no admin area', async ({ page, context }) => {
  const email = uniqueEmail('member')
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  const nav = page.getByRole('navigation', { name: 'Main menu' })
  await expect(nav.getByRole('link', { name: 'Tasks' })).toBeVisible()
  await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0)
  await expect(nav.getByRole('link', { name: 'Audit log' })).toHaveCount(0)
  await page.goto('/admin/users')
  await hydrated(page)
  await expect(page.getByRole('heading', { name: 'Access denied' })).toBeVisible()
  const api = await page.request.get('/api/bff/users')
  expect(api.status()).toBe(403)
})

test('an administrator manages users and reads the audit log', async ({ page, context, browser }) => {
  const member = uniqueEmail('managed')
  await registerViaApi(member, password, 'Managed Member')
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)

  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Users' }).click()
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible()
  await page.getByLabel('Search users').fill(member)
  const row = page.getByTestId('user-row').filter({ hasText: member })
  await expect(page.getByTestId('user-row')).toHaveCount(1)
  await expect(row).toContainText('Active')
  await screenshot(page, 'admin-users')

  // Deactivate: the member can no longer sign in.
  await row.getByRole('button', { name: `Deactivate ${member}` }).click()
  // It asks first, and says what will happen.
  const confirm = page.getByRole('dialog', { name: 'Deactivate this account?' })
  await expect(confirm).toContainText(`${member} will be signed out of every session at once`)
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused()
  await confirm.getByRole('button', { name: 'Deactivate' }).click()
  await expect(confirm).toBeHidden()
  await expect(row).toContainText('Inactive')
  const other = await newVisitor(browser)
  await useEnglish(other)
  const memberPage = await other.newPage()
  await memberPage.goto('/login')
  await hydrated(memberPage)
  await memberPage.getByLabel('Email').fill(member)
  await memberPage.getByLabel('Password', { exact: true }).fill(password)
  await memberPage.getByRole('button', { name: 'Log in' }).click()
  await expect(formError(memberPage)).toContainText('Incorrect email or password.')

  await row.getByRole('button', { name: `Activate ${member}` }).click()
  await expect(row).toContainText('Active')
  await memberPage.getByRole('button', { name: 'Log in' }).click()
  await expect(memberPage).toHaveURL(/\/todos/)

  // Grant the admin role: after a reload the member sees the admin area.
  await row.getByRole('button', { name: `Edit roles of ${member}` }).click()
  const dialog = page.getByRole('dialog', { name: `Roles of ${member}` })
  await dialog.getByRole('checkbox', { name: /^Administrator/ }).check()
  await dialog.getByRole('button', { name: 'Save roles' }).click()
  await expect(dialog).toBeHidden()
  await expect(row.locator('[data-role="admin"]')).toHaveText('Administrator')
  await memberPage.reload()
  await hydrated(memberPage)
  await expect(memberPage.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Users' })).toBeVisible()
  await other.close()

  // The audit log recorded all of it.
  await page.getByRole('navigation', { name: 'Main menu' }).getByRole('link', { name: 'Audit log' }).click()
  await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible()
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
  await page.getByLabel('Action').selectOption('user.update')
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page.getByTestId('audit-row').filter({ hasNotText: 'user.update' })).toHaveCount(0)
  // Deactivate, activate and the role change: three updates by the administrator, each naming
  // the member it changed.
  const updates = page.getByTestId('audit-row').filter({ has: page.getByTestId('audit-target').getByText(member) })
  await expect(updates).toHaveCount(3)
  await expect(updates.first()).toContainText(ADMIN_EMAIL)
  await page.getByLabel('Action').selectOption('auth.login')
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page.getByTestId('audit-row').filter({ hasNotText: 'auth.login' })).toHaveCount(0)
  // The member's refused sign-in while deactivated is on record.
  await expect(page.getByTestId('audit-row').filter({ hasText: 'Failure' }).first()).toBeVisible()
  await screenshot(page, 'admin-audit')
  // Filtered by who did it, by address: the member's refused sign-ins only.
  await page.getByLabel('Actor email').fill(member.toUpperCase())
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page.getByTestId('audit-row').filter({ hasNotText: member })).toHaveCount(0)
  await expect(page.getByTestId('audit-row').filter({ hasText: 'Failure' }).first()).toBeVisible()
})

test('an administrator creates an account that can sign in at once', async ({ page, context, browser }) => {
  const email = uniqueEmail('created')
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/users')
  await hydrated(page)
  await page.getByRole('button', { name: 'New user' }).click()
  const dialog = page.getByRole('dialog', { name: 'New user' })
  await dialog.getByLabel('Email').fill(email)
  await dialog.getByLabel('Full name').fill('Created Member')
  // The API's password policy speaks through the field it concerns.
  await dialog.getByLabel('Initial password', { exact: true }).fill('password123')
  await dialog.getByLabel('Confirm password', { exact: true }).fill('password123')
  await dialog.getByRole('button', { name: 'Create user' }).click()
  await expect(dialog.getByLabel('Initial password', { exact: true })).toHaveAttribute('aria-invalid', 'true')

  await dialog.getByLabel('Initial password', { exact: true }).fill(password)
  await dialog.getByLabel('Confirm password', { exact: true }).fill(password)
  await expect(dialog.getByRole('checkbox', { name: /^User/ })).toBeChecked()
  await dialog.getByRole('button', { name: 'Create user' }).click()
  await expect(dialog).toBeHidden()
  const row = page.getByTestId('user-row').filter({ hasText: email })
  await expect(row).toContainText('Created Member')
  await expect(row.locator('[data-role="user"]')).toHaveText('User')

  const other = await newVisitor(browser)
  await useEnglish(other)
  const newcomer = await other.newPage()
  await login(newcomer, email, password)
  await other.close()
})

import { expect } from '@playwright/test'
import { ADMIN_EMAIL, ADMIN_PASSWORD, hydrated, login, test, useEnglish } from './helpers'

test('an audit date range that ends before it starts is an error on the To field', async ({ page, context }) => {
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/audit')
  await hydrated(page)
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
  await page.getByLabel('From', { exact: true }).fill('2026-12-10')
  await page.getByLabel('To', { exact: true }).fill('2026-12-01')
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page.getByText('Choose a date on or after the From date.')).toBeVisible()
  await expect(page.getByLabel('To', { exact: true })).toHaveAttribute('aria-invalid', 'true')
  // The old results stay; no "No events match" for a range that cannot match.
  await expect(page.getByText('No events match')).toHaveCount(0)
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
})

import { expect, type Locator, type Page } from '@playwright/test'
import { ADMIN_EMAIL, ADMIN_PASSWORD, addTodos, hydrated, login, registerViaApi, test, uniqueEmail, useEnglish } from './helpers'

// At 390 px (a phone) tables become stacked rows: every cell and every action stays on screen.
test.use({ viewport: { width: 390, height: 844 } })

async function onScreen(page: Page, element: Locator): Promise<void> {
  await expect(element).toBeVisible()
  const box = await element.boundingBox()
  const width = page.viewportSize()?.width ?? 0
  expect(box, await element.innerText()).not.toBeNull()
  expect(box!.x).toBeGreaterThanOrEqual(0)
  expect(box!.x + box!.width, `${await element.innerText()} ends at ${box!.x + box!.width}`).toBeLessThanOrEqual(width)
}

test('the admin tables fit a phone with every action reachable', async ({ page, context }) => {
  const other = uniqueEmail('phone-user')
  await registerViaApi(other, 'Koiki-phone-pass-1')
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)

  await page.goto('/admin/users')
  await hydrated(page)
  await page.getByLabel('Search users').fill(other)
  const row = page.getByTestId('user-row').filter({ hasText: other })
  await expect(page.getByTestId('user-row')).toHaveCount(1)
  for (const name of [`Deactivate ${other}`, `Edit roles of ${other}`]) {
    await onScreen(page, row.getByRole('button', { name }))
  }
  await onScreen(page, row.locator('[data-role="user"]'))
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)

  await page.goto('/admin/audit')
  await hydrated(page)
  const event = page.getByTestId('audit-row').first()
  await expect(event).toBeVisible()
  for (const cell of await event.locator('td').all()) await onScreen(page, cell)
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0)
})

test('on a phone the task list shows in the first screen', async ({ page, context }) => {
  const email = uniqueEmail('phone-tasks')
  const password = 'Koiki-phone-pass-2'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await addTodos(page, ['Phone task 1', 'Phone task 2', 'Phone task 3', 'Phone task 4', 'Phone task 5'])
  await page.reload()
  await hydrated(page)
  const rows = page.getByTestId('todo-item')
  await expect(rows).toHaveCount(5)
  // Three whole tasks above the fold, under the header, the form and the filters.
  const bottom = await rows.nth(2).evaluate((row) => row.getBoundingClientRect().bottom)
  expect(bottom).toBeLessThanOrEqual(844)

  // Using the form brings its other fields; they stay while they hold something.
  const description = page.getByLabel('Description')
  await expect(description).toBeHidden()
  await page.getByLabel('Title').focus()
  await expect(description).toBeVisible()
  await expect(page.getByLabel('Due date')).toBeVisible()
  await description.fill('Notes typed first')
  await page.getByLabel('Search tasks').focus()
  await expect(description).toBeVisible()
})

import { expect } from '@playwright/test'
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  addTodos,
  axeViolations,
  hydrated,
  login,
  registerViaApi,
  test,
  uniqueEmail,
  useEnglish,
} from './helpers'

// After every list action the keyboard focus lands somewhere meaningful, never on the page body
// (where a second Space scrolls the page instead of acting).

test('list actions keep the keyboard focus on the list', async ({ page, context }) => {
  const email = uniqueEmail('focus')
  const password = 'Koiki-focus-pass-1'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await addTodos(
    page,
    Array.from({ length: 12 }, (_, n) => `Task ${String(n + 1).padStart(2, '0')}`),
  )
  await page.reload()
  await hydrated(page)
  await expect(page.getByText('1–10 of 12')).toBeVisible()
  const checkbox = (title: string, to: 'done' | 'open') => page.getByRole('checkbox', { name: `Mark “${title}” as ${to}` })

  // Space ticks the task and the focus stays on that row's checkbox, after the list reloads too.
  await checkbox('Task 12', 'done').focus()
  await page.keyboard.press('Space')
  await expect(page.getByText('11 open tasks')).toBeVisible()
  await expect(checkbox('Task 12', 'open')).toBeChecked()
  await expect(checkbox('Task 12', 'open')).toBeFocused()

  // A task that leaves a filtered list hands the focus to the row now in its place.
  await page.getByRole('button', { name: 'Open', exact: true }).click()
  await expect(page.getByText('1–10 of 11')).toBeVisible()
  await checkbox('Task 11', 'done').focus()
  await page.keyboard.press('Space')
  await expect(page.getByText('10 open tasks')).toBeVisible()
  await expect(checkbox('Task 11', 'open')).toHaveCount(0)
  await expect(checkbox('Task 10', 'done')).toBeFocused()

  // So does a confirmed delete.
  await page.getByRole('button', { name: 'Delete “Task 10”' }).focus()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Delete this task?' })
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused()
  await page.keyboard.press('Tab')
  await page.keyboard.press('Enter')
  await expect(dialog).toBeHidden()
  await expect(page.getByText('9 open tasks')).toBeVisible()
  await expect(checkbox('Task 09', 'done')).toBeFocused()

  // The last row leaving the list hands the focus to the list's heading.
  await page.getByRole('button', { name: 'Done', exact: true }).click()
  await expect(page.getByTestId('todo-item')).toHaveCount(2)
  await checkbox('Task 12', 'open').focus()
  await page.keyboard.press('Space')
  await expect(page.getByTestId('todo-item')).toHaveCount(1)
  await expect(checkbox('Task 11', 'open')).toBeFocused()
  await page.keyboard.press('Space')
  await expect(page.getByText('No tasks match these filters.')).toBeVisible()
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeFocused()

  // Next reaching the last page disables itself: the focus moves to Previous, and back.
  await page.getByRole('button', { name: 'All', exact: true }).click()
  await expect(page.getByText('1–10 of 11')).toBeVisible()
  await page.getByRole('button', { name: 'Next' }).focus()
  await page.keyboard.press('Enter')
  await expect(page.getByText('11–11 of 11')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Previous' })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page.getByText('1–10 of 11')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Next' })).toBeFocused()
})

test('the language changes only on an explicit choice', async ({ page }) => {
  await page.goto('/login')
  await hydrated(page)
  const picker = page.getByRole('group', { name: '表示言語' })
  await picker.getByRole('button', { name: '日本語' }).focus()
  // Arrow keys move nowhere and change nothing (WCAG 3.2.2: no change of context on input).
  for (const key of ['ArrowDown', 'ArrowRight', 'ArrowUp']) await page.keyboard.press(key)
  expect(await page.evaluate(() => document.cookie)).not.toContain('koiki_locale=en')
  await expect(page.locator('html')).toHaveAttribute('lang', 'ja')
  await expect(picker.getByRole('button', { name: '日本語' })).toHaveAttribute('aria-pressed', 'true')

  await page.keyboard.press('Tab')
  await expect(picker.getByRole('button', { name: 'English' })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible()
  const english = page.getByRole('group', { name: 'Language' }).getByRole('button', { name: 'English' })
  await expect(english).toHaveAttribute('aria-pressed', 'true')
  await expect(english).toBeFocused()
})

test('the audit table scrolls sideways from the keyboard', async ({ page, context }) => {
  await useEnglish(context)
  await page.setViewportSize({ width: 720, height: 860 })
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/audit')
  await hydrated(page)
  const region = page.getByRole('region', { name: 'Audit events' })
  await expect(region.getByTestId('audit-row').first()).toBeVisible()
  await expect(region).toHaveAttribute('tabindex', '0')
  expect(await region.evaluate((element) => element.scrollWidth > element.clientWidth)).toBe(true)

  await region.focus()
  await page.keyboard.press('ArrowRight')
  await expect.poll(() => region.evaluate((element) => element.scrollLeft)).toBeGreaterThan(0)
  expect(await axeViolations(page, ['scrollable-region-focusable', 'landmark-unique', 'aria-allowed-role'])).toEqual([])
})

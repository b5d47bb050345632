import { expect } from '@playwright/test'
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  API_URL,
  addTodos,
  axeViolations,
  hydrated,
  login,
  registerViaApi,
  test,
  uniqueEmail,
  useEnglish,
  visitorIp,
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

test('profile and sessions from the keyboard: the focus stays where the user acted', async ({ page, context }) => {
  const email = uniqueEmail('keys-profile')
  const password = 'Koiki-keys-pass-1'
  await registerViaApi(email, password)
  // A second device, signed in straight through the API.
  const other = await fetch(`${API_URL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': visitorIp(), 'User-Agent': 'curl/8.5.0' },
    body: new URLSearchParams({ username: email, password }),
  })
  expect(other.status).toBe(200)
  await useEnglish(context)
  await login(page, email, password)
  await page.goto('/profile')
  await hydrated(page)

  // Save the name with the button, from the keyboard: the button keeps the focus.
  await page.getByLabel('Full name').focus()
  await page.keyboard.type('Keyboard Person')
  await page.keyboard.press('Tab')
  const save = page.getByRole('button', { name: 'Save', exact: true })
  await expect(save).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page.getByText('Your name has been updated.')).toBeVisible()
  await expect(save).toBeFocused()

  // End the other device's session: the focus moves to the next session's button.
  const list = page.getByTestId('session-list')
  await expect(list.getByRole('button')).toHaveCount(2)
  await list.getByRole('button', { name: 'End the session on curl' }).focus()
  await page.keyboard.press('Enter')
  await expect(page.getByText('Session ended.')).toBeVisible()
  await expect(list.getByRole('button')).toHaveCount(1)
  await expect(list.getByRole('button')).toBeFocused()

  // "Log out everywhere" asks first; Escape keeps everything and gives the focus back.
  const everywhere = page.getByRole('button', { name: 'Log out everywhere' })
  await everywhere.focus()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Log out on every device?' })
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  await expect(everywhere).toBeFocused()

  // A wrong current password: the focus goes to that field, to type it again.
  const current = page.getByLabel('Current password')
  await current.focus()
  await page.keyboard.type('Not-my-password-1')
  await page.getByLabel('New password', { exact: true }).fill('Koiki-keys-pass-2')
  await page.getByLabel('Confirm new password').fill('Koiki-keys-pass-2')
  await page.getByRole('button', { name: 'Change password' }).focus()
  await page.keyboard.press('Enter')
  await expect(current).toHaveAttribute('aria-invalid', 'true')
  await expect(current).toBeFocused()
  await page.keyboard.press('ControlOrMeta+A')
  await page.keyboard.type(password)
  await page.keyboard.press('Enter')
  await expect(page.getByText('Password changed. Your other sessions have been signed out.')).toBeVisible()
  await expect(current).toBeFocused()
})

test('user administration from the keyboard: the focus follows each action', async ({ page, context }) => {
  const member = uniqueEmail('keys-admin')
  await registerViaApi(member, 'Koiki-keys-member-1')
  await useEnglish(context)
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
  await page.goto('/admin/users')
  await hydrated(page)
  await page.getByLabel('Search users').focus()
  await page.keyboard.type(member)
  await expect(page.getByTestId('user-row')).toHaveCount(1)
  const row = page.getByTestId('user-row')

  // Deactivate: the dialog starts on Cancel; confirming returns the focus to the row's button.
  await row.getByRole('button', { name: `Deactivate ${member}` }).focus()
  await page.keyboard.press('Enter')
  const confirm = page.getByRole('dialog', { name: 'Deactivate this account?' })
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused()
  await page.keyboard.press('Tab')
  await expect(confirm.getByRole('button', { name: 'Deactivate' })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(confirm).toBeHidden()
  await expect(row).toContainText('Inactive')
  const activate = row.getByRole('button', { name: `Activate ${member}` })
  await expect(activate).toBeFocused()

  // Activate needs no confirmation: the same button keeps the focus, now to deactivate again.
  await page.keyboard.press('Enter')
  await expect(row).toContainText('Active')
  await expect(row.getByRole('button', { name: `Deactivate ${member}` })).toBeFocused()

  // Roles: the dialog opens on its first choice; saving returns the focus to the Roles button.
  const rolesButton = row.getByRole('button', { name: `Edit roles of ${member}` })
  await rolesButton.focus()
  await page.keyboard.press('Enter')
  const roles = page.getByRole('dialog', { name: `Roles of ${member}` })
  await expect(roles.getByRole('checkbox').first()).toBeFocused()
  await roles.getByRole('button', { name: 'Save roles' }).focus()
  await page.keyboard.press('Enter')
  await expect(roles).toBeHidden()
  await expect(rolesButton).toBeFocused()

  // New user: the form starts on the email field; Escape closes it and the opener has the focus.
  const newUser = page.getByRole('button', { name: 'New user' })
  await newUser.focus()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'New user' })
  await expect(dialog.getByLabel('Email')).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  await expect(newUser).toBeFocused()
})

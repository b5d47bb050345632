import { expect } from '@playwright/test'
import { formError, hydrated, login, newVisitor, screenshot, sessionCookies, test, uniqueEmail, useEnglish } from './helpers'

// The whole life of one account, in order: each step needs the state the previous one left.
test.describe.configure({ mode: 'serial' })

const email = uniqueEmail('journey')
const password = 'Koiki-journey-pass-1'
const newPassword = 'Koiki-journey-pass-2'

test('register, then log in', async ({ page, context }) => {
  await useEnglish(context)
  await page.goto('/todos')
  await hydrated(page)
  await expect(page).toHaveURL(/\/login\?next=%2Ftodos/)

  await page.getByRole('link', { name: 'Create an account' }).click()
  await expect(page.getByRole('heading', { name: 'Create an account' })).toBeVisible()

  // Client-side checks come first, each message next to its field.
  await page.getByLabel('Email').fill('not-an-email')
  await page.getByLabel('Password', { exact: true }).fill('short')
  await page.getByLabel('Confirm password').fill('different')
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByText('Enter a valid email address.')).toBeVisible()
  await expect(page.getByText('Use at least 8 characters.')).toBeVisible()
  await expect(page.getByText('The passwords do not match.')).toBeVisible()
  await expect(page.getByLabel('Email')).toBeFocused()

  // The API's own password rule comes back as a field message too.
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill('password123')
  await page.getByLabel('Confirm password').fill('password123')
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByText('This password is too common and easy to guess. Choose another one.')).toBeVisible()

  await page.getByLabel('Full name').fill('Hanako Journey')
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByLabel('Confirm password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page).toHaveURL(/\/login\?reason=registered/)
  await expect(page.getByText('Your account has been created. Please log in.')).toBeVisible()
  // The new address is already in the form: only the password is left to type.
  await expect(page.getByLabel('Email')).toHaveValue(email)
  await expect(page.getByLabel('Password', { exact: true })).toBeFocused()
  // Only once: coming back to the login page later starts empty.
  await page.reload()
  await hydrated(page)
  await expect(page.getByLabel('Email')).toHaveValue('')

  // Registering the same address again is refused with the API's conflict.
  await page.goto('/register')
  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByLabel('Confirm password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(formError(page)).toContainText('This email address is already registered.')

  await page.goto('/login')

  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill('Wrong-password-9')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(formError(page)).toContainText('Incorrect email or password.')

  await login(page, email, password)
  await expect(page.getByText('0 open tasks')).toBeVisible()
})

test('create, edit, complete, search and delete todos', async ({ page, context }) => {
  await useEnglish(context)
  await login(page, email, password)
  const title = page.getByLabel('Title')

  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page.getByText('This field is required.')).toBeVisible()
  await expect(title).toBeFocused()

  const soon = new Date(Date.now() + 3 * 86_400_000)
  const due = soon.toISOString().slice(0, 10)
  const add = async (text: string, description = '', dueDate = '') => {
    await title.fill(text)
    if (description) await page.getByLabel('Description').fill(description)
    if (dueDate) await page.getByLabel('Due date').fill(dueDate)
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await expect(page.getByTestId('todo-item').filter({ hasText: text })).toBeVisible()
  }
  await add('Write the quarterly report', 'Numbers from finance are in the shared folder', due)
  await add('Buy milk')
  await add('Book the team offsite', '', '2020-01-31')
  await add('Review pull requests')
  await expect(page.getByText('4 open tasks')).toBeVisible()
  await expect(page.getByTestId('todo-item').filter({ hasText: 'Book the team offsite' })).toContainText('Overdue')

  // Inline edit, saved with Enter; Escape would cancel.
  await page.getByRole('button', { name: 'Edit “Buy milk”' }).click()
  const editTitle = page.getByRole('form', { name: 'Edit task' }).getByLabel('Title')
  await expect(editTitle).toBeFocused()
  await editTitle.fill('Buy oat milk')
  await editTitle.press('Enter')
  await expect(page.getByTestId('todo-item').filter({ hasText: 'Buy oat milk' })).toBeVisible()
  await page.getByRole('button', { name: 'Edit “Buy oat milk”' }).click()
  await page.getByRole('form', { name: 'Edit task' }).getByLabel('Title').fill('Thrown away')
  await page.keyboard.press('Escape')
  await expect(page.getByRole('button', { name: 'Edit “Buy oat milk”' })).toBeFocused()

  // Complete, then the filters.
  await page.getByRole('checkbox', { name: 'Mark “Review pull requests” as done' }).check()
  await expect(page.getByRole('checkbox', { name: 'Mark “Review pull requests” as open' })).toBeChecked()
  await expect(page.getByText('3 open tasks')).toBeVisible()
  await page.getByRole('button', { name: 'Done', exact: true }).click()
  await expect(page.getByTestId('todo-item')).toHaveCount(1)
  await expect(page).toHaveURL(/filter=done/)
  await page.getByRole('button', { name: 'Open', exact: true }).click()
  await expect(page.getByTestId('todo-item')).toHaveCount(3)
  await page.getByRole('button', { name: 'All', exact: true }).click()
  await expect(page.getByTestId('todo-item')).toHaveCount(4)
  await screenshot(page, 'todos')

  // Search.
  await page.getByLabel('Search tasks').fill('report')
  await expect(page.getByTestId('todo-item')).toHaveCount(1)
  await expect(page.getByTestId('todo-item')).toContainText('Write the quarterly report')
  await page.getByLabel('Search tasks').fill('nothing-matches-this')
  await expect(page.getByText('No tasks match these filters.')).toBeVisible()
  await page.getByLabel('Search tasks').fill('')
  await expect(page.getByTestId('todo-item')).toHaveCount(4)

  // Delete asks first; cancelling keeps the task.
  await page.getByRole('button', { name: 'Delete “Buy oat milk”' }).click()
  const dialog = page.getByRole('dialog', { name: 'Delete this task?' })
  await expect(dialog).toContainText('“Buy oat milk” will be deleted.')
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await expect(dialog).toBeHidden()
  await expect(page.getByTestId('todo-item')).toHaveCount(4)
  await page.getByRole('button', { name: 'Delete “Buy oat milk”' }).click()
  await dialog.getByRole('button', { name: 'Delete' }).click()
  await expect(page.getByTestId('todo-item').filter({ hasText: 'Buy oat milk' })).toHaveCount(0)
  await expect(page.getByTestId('todo-item')).toHaveCount(3)

  // Pagination: 12 tasks make two pages of 10.
  for (let n = 1; n <= 9; n += 1) {
    await title.fill(`Batch task ${n}`)
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await expect(page.getByTestId('todo-item').filter({ hasText: `Batch task ${n}` })).toBeVisible()
  }
  await expect(page.getByText('1–10 of 12')).toBeVisible()
  await page.getByRole('button', { name: 'Next' }).click()
  await expect(page.getByText('11–12 of 12')).toBeVisible()
  await expect(page.getByTestId('todo-item')).toHaveCount(2)
  await page.getByRole('button', { name: 'Previous' }).click()
  await expect(page.getByTestId('todo-item')).toHaveCount(10)
})

test('edit the profile and change the password', async ({ page, context }) => {
  await useEnglish(context)
  await login(page, email, password)
  await page.getByRole('link', { name: 'Profile' }).click()
  await expect(page.getByRole('heading', { name: 'Profile', level: 1 })).toBeVisible()

  await page.getByLabel('Full name').fill('Hanako Yamada')
  await page.getByRole('button', { name: 'Save', exact: true }).click()
  await expect(page.getByText('Your name has been updated.')).toBeVisible()
  await expect(page.getByRole('banner')).toContainText('Hanako Yamada')

  const sessions = page.getByTestId('session-list')
  await expect(sessions).toContainText('This device')

  await page.getByLabel('Current password').fill('Not-my-password-1')
  // The next action retires the confirmation of the previous one.
  await expect(page.getByText('Your name has been updated.')).toBeHidden()
  await page.getByLabel('New password', { exact: true }).fill(newPassword)
  await page.getByLabel('Confirm new password').fill(newPassword)
  await page.getByRole('button', { name: 'Change password' }).click()
  // A wrong current password is that field's error, and the focus goes there to retype it.
  const current = page.getByLabel('Current password')
  await expect(current).toHaveAttribute('aria-invalid', 'true')
  await expect(current).toHaveAccessibleDescription('Your current password is incorrect.')
  await expect(current).toBeFocused()
  await expect(formError(page)).toHaveCount(0)

  await page.getByLabel('Current password').fill(password)
  await page.getByLabel('New password', { exact: true }).fill(newPassword)
  await page.getByLabel('Confirm new password').fill(newPassword)
  await page.getByRole('button', { name: 'Change password' }).click()
  await expect(page.getByText('Password changed. Your other sessions have been signed out.')).toBeVisible()
  // This session survives its own password change.
  await page.reload()
  await hydrated(page)
  await expect(page.getByRole('heading', { name: 'Profile', level: 1 })).toBeVisible()
  await screenshot(page, 'profile')
})

test('log out, and the old session no longer works', async ({ page, context, browser }) => {
  await useEnglish(context)
  await login(page, email, newPassword)
  const before = await sessionCookies(context)
  const stateBefore = await context.storageState()
  expect(before.access?.httpOnly).toBe(true)
  expect(before.refresh?.httpOnly).toBe(true)

  await page.getByRole('button', { name: 'Log out' }).click()
  await expect(page).toHaveURL(/\/login\?reason=logged_out/)
  await expect(page.getByText('You have been logged out.')).toBeVisible()
  const after = await sessionCookies(context)
  expect(after.access).toBeUndefined()
  expect(after.refresh).toBeUndefined()

  // Replay the cookies of the ended session in a fresh browser: the API refuses them.
  const replay = await newVisitor(browser, stateBefore)
  await useEnglish(replay)
  const stale = await replay.newPage()
  await stale.goto('/todos')
  await hydrated(stale)
  await expect(stale).toHaveURL(/\/login\?next=%2Ftodos/)
  const api = await stale.request.get('/api/bff/todos')
  expect(api.status()).toBe(401)
  await replay.close()

  // And the old password is gone for good.
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(formError(page)).toContainText('Incorrect email or password.')
})

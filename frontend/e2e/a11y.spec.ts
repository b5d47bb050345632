import { expect } from '@playwright/test'
import { hydrated, registerViaApi, screenshot, test, uniqueEmail, useEnglish } from './helpers'

test('works with the keyboard alone and fits a phone screen', async ({ page, context }) => {
  const email = uniqueEmail('keyboard')
  const password = 'Koiki-keyboard-pass-1'
  await registerViaApi(email, password)
  await useEnglish(context)

  // Log in without the mouse: the fields come in reading order and Enter submits.
  await page.goto('/login')
  await hydrated(page)
  await page.getByLabel('Email').focus()
  await page.keyboard.type(email)
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('Password', { exact: true })).toBeFocused()
  await page.keyboard.type(password)
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible()

  // The first Tab reaches the skip link, which is shown when focused and jumps to the content.
  await page.keyboard.press('Tab')
  const skip = page.getByRole('link', { name: 'Skip to main content' })
  await expect(skip).toBeFocused()
  await expect(skip).toBeInViewport()
  await page.keyboard.press('Enter')
  await expect(page).toHaveURL(/#main$/)

  // Create with Enter; the title field keeps the focus for the next task.
  await page.getByLabel('Title').focus()
  await page.keyboard.type('Keyboard task')
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('todo-item').filter({ hasText: 'Keyboard task' })).toBeVisible()
  await expect(page.getByLabel('Title')).toBeFocused()

  // The confirmation dialog starts on the safe choice, and Escape closes it.
  const remove = page.getByRole('button', { name: 'Delete “Keyboard task”' })
  await remove.focus()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Delete this task?' })
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  await expect(remove).toBeFocused()

  // Focus is visible: the focused control draws an outline.
  const outline = await remove.evaluate((element) => getComputedStyle(element).outlineStyle)
  expect(outline).toBe('solid')

  // On a phone-sized screen nothing spills sideways.
  await page.setViewportSize({ width: 390, height: 844 })
  await page.reload()
  await hydrated(page)
  await expect(page.getByTestId('todo-item')).toHaveCount(1)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  expect(overflow).toBeLessThanOrEqual(0)
  await screenshot(page, 'todos-mobile')
})

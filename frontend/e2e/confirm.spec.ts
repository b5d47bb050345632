import { expect } from '@playwright/test'
import { hydrated, login, registerViaApi, test, uniqueEmail, useEnglish } from './helpers'

test('ending the session of this device asks first and says it logs you out', async ({ page, context }) => {
  const email = uniqueEmail('this-device')
  const password = 'Koiki-confirm-pass-1'
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await page.goto('/profile')
  await hydrated(page)
  const sessions = page.getByTestId('session-list')
  const here = sessions.getByRole('listitem').filter({ hasText: 'This device' })
  await here.getByRole('button').click()

  const dialog = page.getByRole('dialog', { name: 'End the session on this device?' })
  await expect(dialog).toContainText('you will be logged out at once')
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  await expect(page).toHaveURL(/\/profile$/)

  await here.getByRole('button').click()
  await dialog.getByRole('button', { name: 'End', exact: true }).click()
  await expect(page).toHaveURL(/\/login\?reason=logged_out/)
})

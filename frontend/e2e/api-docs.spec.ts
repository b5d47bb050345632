import { expect, type Page } from '@playwright/test'
import { API_URL, test } from './helpers'

// The API's own documentation pages, as a newcomer opens them: everything they load comes from
// the API itself (offline machines and corporate proxies render them too), and the browser
// reports no error at all.

function record(page: Page): { requests: string[]; errors: string[] } {
  const seen = { requests: [] as string[], errors: [] as string[] }
  page.on('request', (request) => seen.requests.push(request.url()))
  page.on('console', (message) => {
    if (message.type() === 'error') seen.errors.push(message.text())
  })
  page.on('pageerror', (error) => seen.errors.push(error.message))
  return seen
}

function foreign(requests: string[]): string[] {
  const own = new URL(API_URL).origin
  return requests.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== own)
}

test('Swagger UI loads nothing from another host and logs no error', async ({ page }) => {
  const seen = record(page)
  await page.goto(`${API_URL}/docs`)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('KOIKI')
  await expect(page.locator('.opblock-tag').first()).toBeVisible()
  await page.waitForLoadState('networkidle')
  expect(foreign(seen.requests)).toEqual([])
  expect(seen.requests.some((url) => url.endsWith('/openapi.json'))).toBe(true)
  expect(seen.errors).toEqual([])
  // One tag per operation: GET / is listed once.
  await expect(page.locator('.opblock-summary-path[data-path="/"]')).toHaveCount(1)
})

test('ReDoc loads nothing from another host and logs no error', async ({ page }) => {
  const seen = record(page)
  await page.goto(`${API_URL}/redoc`)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('KOIKI')
  // The "API docs by Redocly" mark renders from an inline image, not from Redocly's CDN.
  await expect(page.locator('img[alt="redocly logo"]')).toHaveAttribute('src', /^data:image\/svg\+xml,/)
  await page.waitForLoadState('networkidle')
  expect(foreign(seen.requests)).toEqual([])
  expect(seen.errors).toEqual([])
})

import { expect } from '@playwright/test'
import { BASE_URL, formError, hydrated, login, registerViaApi, sessionCookies, test, uniqueEmail, useEnglish } from './helpers'

const password = 'Koiki-security-pass-1'

test('tokens live only in httpOnly cookies; page JavaScript sees the CSRF token alone', async ({ page, context }) => {
  const email = uniqueEmail('cookies')
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  const { access, refresh, csrf } = await sessionCookies(context)
  for (const cookie of [access, refresh]) {
    expect(cookie?.httpOnly).toBe(true)
    expect(cookie?.sameSite).toBe('Lax')
    // The e2e run uses the production build, where cookies are Secure (and __Host- prefixed).
    expect(cookie?.secure).toBe(true)
    expect(cookie?.name.startsWith('__Host-')).toBe(true)
  }
  expect(csrf?.httpOnly).toBe(false)
  const visible = await page.evaluate(() => document.cookie)
  expect(visible).toContain('koiki_csrf=')
  expect(visible).not.toContain('koiki_at')
  expect(visible).not.toContain('koiki_rt')
  expect(visible).not.toMatch(/eyJ/)
})

test('a mutating BFF call without the CSRF token or from another origin is refused', async ({ page, context }) => {
  const email = uniqueEmail('csrf')
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  const { csrf } = await sessionCookies(context)
  const origin = new URL(BASE_URL).origin

  const noToken = await page.request.post('/api/bff/todos', {
    data: { title: 'Forged without token' },
    headers: { Origin: origin },
  })
  expect(noToken.status()).toBe(403)
  expect((await noToken.json()).code).toBe('csrf_failed')

  const wrongToken = await page.request.post('/api/bff/todos', {
    data: { title: 'Forged with a wrong token' },
    headers: { Origin: origin, 'X-CSRF-Token': 'not-the-token' },
  })
  expect(wrongToken.status()).toBe(403)

  const otherOrigin = await page.request.post('/api/bff/todos', {
    data: { title: 'Forged from elsewhere' },
    headers: { Origin: 'https://evil.example', 'X-CSRF-Token': csrf?.value ?? '' },
  })
  expect(otherOrigin.status()).toBe(403)
  expect((await otherOrigin.json()).code).toBe('origin_mismatch')

  const logout = await page.request.post('/api/auth/logout', { headers: { Origin: origin } })
  expect(logout.status()).toBe(403)

  // The same call with both checks satisfied goes through, so the refusals were the guard.
  const genuine = await page.request.post('/api/bff/todos', {
    data: { title: 'Genuine task' },
    headers: { Origin: origin, 'X-CSRF-Token': csrf?.value ?? '' },
  })
  expect(genuine.status()).toBe(201)
  await page.reload()
  await hydrated(page)
  await expect(page.getByTestId('todo-item')).toHaveCount(1)
  await expect(page.getByTestId('todo-item')).toContainText('Genuine task')
  // Token endpoints are not reachable through the proxy at all.
  const refresh = await page.request.post('/api/bff/auth/refresh', {
    data: {},
    headers: { Origin: origin, 'X-CSRF-Token': csrf?.value ?? '' },
  })
  expect(refresh.status()).toBe(404)
})

test('an expired access token is refreshed once, with rotation', async ({ page, context }) => {
  const email = uniqueEmail('refresh')
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  const first = await sessionCookies(context)

  // Page render: the proxy refreshes before the server asks the API who this is.
  await context.clearCookies({ name: first.access?.name })
  await page.goto('/todos')
  await hydrated(page)
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible()
  const second = await sessionCookies(context)
  expect(second.access?.value).toBeTruthy()
  expect(second.refresh?.value).not.toBe(first.refresh?.value)

  // BFF call from the page: the route handler refreshes, and several parallel calls share it.
  await context.clearCookies({ name: second.access?.name })
  await page.getByLabel('Title').fill('Added after expiry')
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page.getByTestId('todo-item').filter({ hasText: 'Added after expiry' })).toBeVisible()
  const third = await sessionCookies(context)
  expect(third.refresh?.value).not.toBe(second.refresh?.value)
  await page.reload()
  await hydrated(page)
  await expect(page.getByText('1 open tasks')).toBeVisible()
})

test('an ended session sends you to log in and back where you were', async ({ page, context }) => {
  const email = uniqueEmail('expiry')
  await registerViaApi(email, password)
  await useEnglish(context)
  await login(page, email, password)
  await page.getByRole('button', { name: 'Done', exact: true }).click()
  await expect(page).toHaveURL(/\/todos\?filter=done/)

  const cookies = await sessionCookies(context)
  await context.clearCookies({ name: cookies.access?.name })
  await context.clearCookies({ name: cookies.refresh?.name })
  await page.getByRole('button', { name: 'Open', exact: true }).click()
  await expect(page).toHaveURL(/\/login\?next=%2Ftodos%3Ffilter%3D(done|open)&reason=expired/)
  await expect(page.getByText('Your session has expired. Please log in again.')).toBeVisible()

  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page).toHaveURL(/\/todos\?filter=(done|open)/)
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible()
})

test('a locked login shows when to try again', async ({ page, context }) => {
  const email = uniqueEmail('lockout')
  await registerViaApi(email, password)
  await useEnglish(context)
  await page.goto('/login')
  await hydrated(page)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password', { exact: true }).fill('Wrong-password-0')
  const alert = formError(page)
  for (let attempt = 1; attempt <= 8; attempt += 1) {
    await page.getByRole('button', { name: 'Log in' }).click()
    await expect(page.getByRole('button', { name: 'Log in' })).toBeEnabled()
    await expect(alert).toBeVisible()
    if (/Too many/.test(await alert.innerText())) break
  }
  await expect(alert).toContainText(/Too many sign-in attempts\. Please try again in (\d+ seconds|about \d+ minutes)\./)
  await expect(page.getByLabel('Password', { exact: true })).toBeVisible()
})

test('health endpoint answers as the deployment guide says', async ({ request }) => {
  const response = await request.get('/api/health')
  expect(response.status()).toBe(200)
  const body = await response.json()
  expect(body).toMatchObject({ status: 'healthy', service: 'koiki-frontend', version: '0.6.0' })
  expect(new Date(body.timestamp).toString()).not.toBe('Invalid Date')
})

test('pages carry a fresh script nonce and refuse injected markup', async ({ page, context, cspViolations }) => {
  await useEnglish(context)
  const first = await page.goto('/login')
  await hydrated(page)
  const policy = first?.headers()['content-security-policy'] ?? ''
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1]
  expect(nonce).toBeTruthy()
  expect(policy).not.toContain('unsafe-inline')
  // Every script the server rendered carries this response's nonce, so the page could hydrate.
  const scriptNonces = await page.locator('script').evaluateAll((scripts) =>
    scripts.map((script) => (script as HTMLScriptElement).nonce),
  )
  expect(scriptNonces.length).toBeGreaterThan(0)
  expect(new Set(scriptNonces)).toEqual(new Set([nonce]))

  const second = await page.goto('/login')
  expect(/'nonce-([^']+)'/.exec(second?.headers()['content-security-policy'] ?? '')?.[1]).not.toBe(nonce)

  // Markup that slipped into the page cannot run code: its inline handler is refused.
  await hydrated(page)
  await page.evaluate(() => {
    document.body.insertAdjacentHTML('beforeend', '<img src="/missing.png" onerror="window.injected = true">')
  })
  await expect.poll(() => cspViolations.length).toBeGreaterThan(0)
  expect(await page.evaluate(() => 'injected' in window)).toBe(false)
  cspViolations.length = 0
})

import { request as httpRequest } from 'node:http'
import { expect, type APIResponse, type BrowserContext, type Page } from '@playwright/test'
import { BASE_URL, login, registerViaApi, sessionCookies, test, uniqueEmail, useEnglish } from './helpers'

const password = 'Koiki-bff-pass-5'

function setCookies(response: APIResponse): string[] {
  return response
    .headersArray()
    .filter((header) => header.name.toLowerCase() === 'set-cookie')
    .map((header) => header.value)
}

/** A fresh signed-in browser, its cookies, and its access cookie gone (as after expiry). */
/** (The context must already be in English: see useEnglish.) */
async function expiredBrowser(page: Page, context: BrowserContext) {
  const email = uniqueEmail('bff')
  await registerViaApi(email, password)
  await login(page, email, password)
  const cookies = await sessionCookies(context)
  await context.clearCookies({ name: cookies.access?.name })
  return { email, cookies }
}

test('concurrent calls of one browser share one rotation; the old token replayed later ends the session', async ({
  page,
  context,
  playwright,
}) => {
  await useEnglish(context)
  const { email, cookies: before } = await expiredBrowser(page, context)
  const answers = await Promise.all([1, 2, 3, 4].map(() => context.request.get('/api/bff/auth/me')))
  for (const answer of answers) {
    expect(answer.status()).toBe(200)
    expect((await answer.json()).email).toBe(email)
  }
  const rotated = new Set(answers.flatMap(setCookies).filter((value) => /koiki_rt=[^;]/.test(value)).map((v) => v.split(';')[0]))
  expect(rotated.size).toBe(1) // one rotation, the same new pair for every call
  const after = await sessionCookies(context)
  expect(after.refresh?.value).not.toBe(before.refresh?.value)

  // A thief with a copy of the browser's old cookies (the CSRF cookie too), once the browser has
  // moved on: the BFF no longer shares anything, the API sees a reused token and ends the session.
  await page.waitForTimeout(1_000)
  const thief = await playwright.request.newContext({ baseURL: BASE_URL })
  const replay = await thief.get('/api/bff/auth/me', {
    headers: { Cookie: `${before.refresh?.name}=${before.refresh?.value}; ${before.csrf?.name}=${before.csrf?.value}` },
  })
  expect(replay.status()).toBe(401)
  expect((await replay.json()).code).toBe('session_expired')
  for (const value of setCookies(replay)) expect(value).toMatch(/^[^=]+=;/) // cleared, never a token
  await thief.dispose()

  await context.clearCookies({ name: after.access?.name })
  const owner = await context.request.get('/api/bff/auth/me')
  expect(owner.status()).toBe(401) // the session is over for everyone, not taken over
})

test('the old token replayed at once by another party gets nothing', async ({ page, context, playwright }) => {
  await useEnglish(context)
  const { cookies: before } = await expiredBrowser(page, context)
  const own = await context.request.get('/api/bff/auth/me')
  expect(own.status()).toBe(200)
  const thief = await playwright.request.newContext({ baseURL: BASE_URL })
  const replay = await thief.get('/api/bff/auth/me', {
    headers: { Cookie: `${before.refresh?.name}=${before.refresh?.value}` },
  })
  expect(replay.status()).toBe(401)
  for (const value of setCookies(replay)) expect(value).toMatch(/^[^=]+=;/)
  await thief.dispose()
})

/** POST a failed login to the BFF from 127.0.0.2 (not a trusted proxy), claiming `claimed`. */
function loginFrom127002(claimed: string): Promise<number> {
  const base = new URL(BASE_URL)
  const origin = `http://127.0.0.1:${base.port}`
  const body = JSON.stringify({ email: uniqueEmail('spoof'), password: 'Not-the-password-0' })
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      {
        host: '127.0.0.1',
        port: Number(base.port),
        localAddress: '127.0.0.2',
        method: 'POST',
        path: '/api/auth/login',
        headers: {
          Origin: origin,
          Host: `127.0.0.1:${base.port}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          Cookie: 'koiki_csrf=t; __Host-koiki_csrf=t',
          'X-CSRF-Token': 't',
          'X-Forwarded-For': claimed,
        },
      },
      (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
      },
    )
    call.on('error', reject)
    call.end(body)
  })
}

test('a client reaching the BFF directly cannot choose its address for the login limit', async () => {
  const statuses: number[] = []
  for (let attempt = 1; attempt <= 14; attempt += 1) statuses.push(await loginFrom127002(`10.77.${attempt}.1`))
  // 10 logins a minute per client: the claimed addresses change nothing.
  expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
  expect(statuses.slice(10)).toEqual(Array(4).fill(429))
})

import { defineConfig } from '@playwright/test'

// Runs against a built frontend and a real API (see .ci/frontend.sh, which starts both).
// Debian's Chromium is used; Playwright never downloads a browser here.
export default defineConfig({
  testDir: './e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 10_000 },
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['json', { outputFile: 'e2e/.results.json' }]],
  use: {
    baseURL: process.env.E2E_BASE_URL ?? 'http://localhost:3000',
    browserName: 'chromium',
    viewport: { width: 1280, height: 860 },
    timezoneId: 'Asia/Tokyo',
    // A Japanese browser (Accept-Language: ja-JP): what the UI negotiates when no language is chosen.
    locale: 'ja-JP',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
})

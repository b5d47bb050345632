// After `next build`: put the static assets where the standalone server looks for them, so
// `npm start` (node .next/standalone/server.js) and the Docker image serve CSS and JS.
import { cpSync, existsSync } from 'node:fs'

if (existsSync('.next/standalone')) {
  cpSync('.next/static', '.next/standalone/.next/static', { recursive: true })
  if (existsSync('public')) cpSync('public', '.next/standalone/public', { recursive: true })
}

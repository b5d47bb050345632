// After `next build`: put the static assets where the standalone server looks for them, so
// `npm start` (node .next/standalone/server.js) and the Docker image serve CSS and JS; and make
// the server decide the client's address itself (server/client-address.cjs) before Next.js runs.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'

const SERVER = '.next/standalone/server.js'
const GUARD = "require('./client-address.cjs').install()\n"

if (existsSync('.next/standalone')) {
  cpSync('.next/static', '.next/standalone/.next/static', { recursive: true })
  if (existsSync('public')) cpSync('public', '.next/standalone/public', { recursive: true })
  cpSync('server/client-address.cjs', '.next/standalone/client-address.cjs')
  const source = readFileSync(SERVER, 'utf8')
  if (!source.includes(GUARD)) {
    // After the 'use strict' line if there is one; before anything that loads Next.js.
    const strict = /^(['"])use strict\1;?\n/.exec(source)
    const at = strict ? strict[0].length : 0
    writeFileSync(SERVER, source.slice(0, at) + GUARD + source.slice(at))
  }
}

// After `next build`: put the static assets where the standalone server looks for them, so
// `npm start` (node .next/standalone/server.js) and the Docker image serve CSS and JS; and make
// the server decide the client's address itself (server/client-address.cjs) before Next.js runs.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'

const SERVER = '.next/standalone/server.js'
const INSTALL = "('./client-address.cjs').install()"
// server.js is an ES module when package.json says "type": "module", CommonJS otherwise. Next.js
// is only loaded later, inside it, so installing first is early enough either way.
const GUARD = {
  esm: `import { createRequire as koikiRequire } from 'node:module'\nkoikiRequire(import.meta.url)${INSTALL}\n`,
  cjs: `require${INSTALL}\n`,
}

if (existsSync('.next/standalone')) {
  cpSync('.next/static', '.next/standalone/.next/static', { recursive: true })
  if (existsSync('public')) cpSync('public', '.next/standalone/public', { recursive: true })
  cpSync('server/client-address.cjs', '.next/standalone/client-address.cjs')
  const source = readFileSync(SERVER, 'utf8')
  if (!source.includes(INSTALL)) {
    const guard = /^import /m.test(source) ? GUARD.esm : GUARD.cjs
    // After a 'use strict' line if there is one.
    const strict = /^(['"])use strict\1;?\n/.exec(source)
    const at = strict ? strict[0].length : 0
    writeFileSync(SERVER, source.slice(0, at) + guard + source.slice(at))
  }
}

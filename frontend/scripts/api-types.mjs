// Generate (or check) src/lib/api/schema.d.ts from the API's OpenAPI document.
//   node scripts/api-types.mjs generate   write the file
//   node scripts/api-types.mjs check      fail when the committed file is stale (CI drift check)
// The document comes from OPENAPI_URL (a running API, e.g. http://localhost:8000/openapi.json),
// else OPENAPI_FILE, else straight from the backend code: `app.openapi()` run with the
// repository's Python virtualenv (no server, no database needed).
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'

const here = dirname(fileURLToPath(import.meta.url))
const frontend = resolve(here, '..')
const repo = resolve(frontend, '..')
const target = resolve(frontend, 'src/lib/api/schema.d.ts')

async function loadDocument() {
  if (process.env.OPENAPI_URL) {
    const response = await fetch(process.env.OPENAPI_URL)
    if (!response.ok) throw new Error(`GET ${process.env.OPENAPI_URL}: ${response.status}`)
    return response.json()
  }
  if (process.env.OPENAPI_FILE) return JSON.parse(readFileSync(process.env.OPENAPI_FILE, 'utf8'))
  const python = process.env.PYTHON ?? resolve(repo, '.venv/bin/python')
  if (!existsSync(python)) throw new Error(`no OPENAPI_URL/OPENAPI_FILE and no Python at ${python}`)
  const out = execFileSync(
    python,
    ['-c', 'import json; from app.main import app; print(json.dumps(app.openapi(), sort_keys=True))'],
    { cwd: repo, encoding: 'utf8', env: { ...process.env, APP_ENV: process.env.APP_ENV ?? 'development' }, maxBuffer: 64 * 1024 * 1024 },
  )
  return JSON.parse(out)
}

// Prose (summaries, descriptions, titles, examples) is dropped before generating: the types are
// about shapes, and a reworded docstring in the backend should not fail the drift check.
const PROSE = new Set(['summary', 'description', 'title', 'example', 'examples', 'externalDocs'])

function withoutProse(node, inNameMap = false) {
  if (Array.isArray(node)) return node.map((item) => withoutProse(item))
  if (node === null || typeof node !== 'object') return node
  const out = {}
  for (const [key, value] of Object.entries(node)) {
    // Keys of `properties` are field names (a todo has a `title` and a `description`).
    if (!inNameMap && PROSE.has(key)) continue
    out[key] = withoutProse(value, key === 'properties' && !inNameMap)
  }
  return out
}

async function render() {
  const document = withoutProse(await loadDocument())
  const ast = await openapiTS(document, { alphabetize: true })
  const header =
    '// Generated from the API\'s OpenAPI document by `npm run gen:api`. Do not edit by hand;\n' +
    '// `npm run check:api` (run in CI) fails when it no longer matches the backend.\n'
  return header + astToString(ast)
}

const mode = process.argv[2]
const text = await render()
if (mode === 'generate') {
  writeFileSync(target, text)
  console.log(`wrote ${target}`)
} else if (mode === 'check') {
  const current = existsSync(target) ? readFileSync(target, 'utf8') : ''
  if (current !== text) {
    const a = current.split('\n')
    const b = text.split('\n')
    let line = 0
    while (line < Math.max(a.length, b.length) && a[line] === b[line]) line += 1
    console.error(`API types are stale: ${target} differs from the API's OpenAPI document at line ${line + 1}:`)
    console.error(`  committed: ${a[line] ?? '<end of file>'}`)
    console.error(`  generated: ${b[line] ?? '<end of file>'}`)
    console.error('Run `npm run gen:api` and commit the result.')
    process.exit(1)
  }
  console.log('API types match the OpenAPI document.')
} else {
  console.error('usage: node scripts/api-types.mjs generate|check')
  process.exit(2)
}

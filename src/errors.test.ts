import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { ERRORS, IsogateError } from './errors.js'

test('docs/errors.md lists every error code (regenerate with scripts/write-errors-doc.mjs)', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const missing = Object.keys(ERRORS).filter((code) => !doc.includes(`\`${code}\``))
  assert.deepEqual(missing, [])
})

test('codes follow ISOGATE_E_<AREA>_<WHAT> and every hint is a sentence', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^ISOGATE_E_[A-Z]+_[A-Z0-9_]+$/, code)
    assert.ok(spec.hint.length > 10 && /[.)]$/.test(spec.hint.trim()), `${code}: ${spec.hint}`)
  }
})

test('an error reply body carries code, message and hint', () => {
  const error = new IsogateError('ISOGATE_E_PROXY_TIMEOUT', 'upstream pacs took longer than 30 s')
  assert.equal(error.status, 504)
  assert.deepEqual(Object.keys(error.toJSON()), ['error', 'message', 'hint'])
})

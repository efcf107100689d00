import assert from 'node:assert/strict'
import { test } from 'node:test'

import { corsForPreflight, corsForResponse, normalizeOrigin, type CorsPolicy } from './cors.js'

const policy: CorsPolicy = {
  allowOrigins: ['https://viewer.example'],
  credentials: false,
  writeMethods: [],
  maxAgeSeconds: 600,
}
const header = (list: ReadonlyArray<readonly [string, string]>, name: string) =>
  list.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]

test('a listed origin is echoed exactly, with Vary: Origin', () => {
  const verdict = corsForResponse(policy, 'https://viewer.example')
  assert.equal(verdict.allowed, true)
  assert.equal(header(verdict.headers, 'Access-Control-Allow-Origin'), 'https://viewer.example')
  assert.equal(header(verdict.headers, 'Vary'), 'Origin')
  assert.equal(header(verdict.headers, 'Access-Control-Allow-Credentials'), undefined)
})

test('an unlisted, null or malformed origin is never reflected', () => {
  for (const origin of ['https://evil.example', 'null', 'https://viewer.example/', ' x']) {
    const verdict = corsForResponse(policy, origin)
    assert.equal(verdict.allowed, false, origin)
    assert.equal(header(verdict.headers, 'Access-Control-Allow-Origin'), undefined, origin)
    assert.equal(header(verdict.headers, 'Vary'), 'Origin')
  }
})

test('a wildcard policy answers * and never with credentials', () => {
  const open = { ...policy, allowOrigins: ['*'] }
  assert.equal(
    header(corsForResponse(open, 'https://a.example').headers, 'Access-Control-Allow-Origin'),
    '*',
  )
  const withCredentials = { ...open, credentials: true }
  const verdict = corsForResponse(withCredentials, 'https://a.example')
  assert.notEqual(header(verdict.headers, 'Access-Control-Allow-Origin'), '*')
})

test('the preflight for the quoted DICOMweb Accept names accept explicitly', () => {
  const verdict = corsForPreflight(policy, 'https://viewer.example', 'GET', 'accept,authorization')
  assert.equal(verdict.allowed, true)
  const allowHeaders = header(verdict.headers, 'Access-Control-Allow-Headers') ?? ''
  assert.match(allowHeaders, /\baccept\b/)
  // Authorization is never covered by `*` (R-CORS-6 step 4): it must be named.
  assert.match(allowHeaders, /\bauthorization\b/)
  assert.doesNotMatch(allowHeaders, /\*/)
  assert.equal(header(verdict.headers, 'Access-Control-Max-Age'), '600')
})

test('a preflight for a write method is refused on a read-only source', () => {
  const verdict = corsForPreflight(policy, 'https://viewer.example', 'DELETE', undefined)
  assert.equal(verdict.allowed, false)
  const writable = { ...policy, writeMethods: ['DELETE'] }
  assert.equal(
    corsForPreflight(writable, 'https://viewer.example', 'DELETE', undefined).allowed,
    true,
  )
})

test('origins are compared in their serialized form', () => {
  assert.equal(normalizeOrigin('https://viewer.example'), 'https://viewer.example')
  assert.equal(normalizeOrigin('https://viewer.example:443'), null)
  assert.equal(normalizeOrigin('HTTPS://VIEWER.EXAMPLE'), null)
  assert.equal(normalizeOrigin('file://'), null)
})

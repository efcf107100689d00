import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { parseItem } from 'structured-headers'

import { parsePermissionsPolicy, parseSfItemToken } from './sf.js'

/** R-SF-3 (WPT header-parsing): field lines → the token a browser keeps, or null. */
const WPT_COEP: ReadonlyArray<readonly [string, readonly string[], string | null]> = [
  ['plain', ['require-corp'], 'require-corp'],
  ['spaces', [' require-corp '], 'require-corp'],
  ['tabs (HTTP OWS)', ['\trequire-corp\t'], 'require-corp'],
  ['parameter', ['require-corp; foo=bar'], 'require-corp'],
  ['key only parameter', ['require-corp;require-corp'], 'require-corp'],
  ['quoted comma across two lines', ['require-corp; report-to="data:', '"'], 'require-corp'],
  ['empty', [''], null],
  ['unknown token', ['jibberish'], 'jibberish'],
  ['case', ['Require-corp'], 'Require-corp'],
  ['string', ['"require-corp"'], null],
  ['byte sequence', [':cmVxdWlyZS1jb3Jw:'], null],
  ['trailing semicolon', ['require-corp;'], null],
  ['tab after semicolon', ['require-corp;\tfoo=bar'], null],
  ['two tokens', ['require-corp require-corp'], null],
  ['comma list', ['require-corp,require-corp'], null],
  ['two lines', ['require-corp', 'require-corp'], null],
  ['empty then value', ['', 'require-corp'], null],
  ['value then empty', ['require-corp', ''], null],
  ['vertical tab', ['\vrequire-corp'], null],
  ['form feed', ['require-corp\f'], null],
  ['carriage return', ['require-corp\r'], null],
  ['non-ASCII inside', ['require-c\u00e9orp'], null],
]

describe('parseSfItemToken follows the WPT table (R-SF-3)', () => {
  for (const [name, lines, expected] of WPT_COEP) {
    it(name, () => {
      const parsed = parseSfItemToken(lines)
      assert.ok(parsed)
      assert.equal(parsed.ok ? parsed.token : null, expected)
    })
  }

  it('reports an absent header as null', () => {
    assert.equal(parseSfItemToken([]), null)
  })

  it('names duplicates and non-tokens', () => {
    assert.deepEqual(parseSfItemToken(['require-corp', 'require-corp']), {
      ok: false,
      failure: 'DUPLICATE_HEADER',
    })
    assert.deepEqual(parseSfItemToken(['"same-origin"']), { ok: false, failure: 'NOT_TOKEN' })
    assert.deepEqual(parseSfItemToken(['require-corp;']), { ok: false, failure: 'PARSE_ERROR' })
  })

  it('keeps parameters, with string values unquoted (R-SF-4)', () => {
    const parsed = parseSfItemToken(['same-origin; report-to="coop"'])
    assert.ok(parsed?.ok)
    assert.equal(parsed.params.get('report-to'), 'coop')
  })

  it('differs from the bare library where HTTP strips a TAB first; the table wins', () => {
    // The library alone rejects a leading TAB (RFC 9651 skips SP only) ...
    assert.throws(() => parseItem('\trequire-corp\t'))
    // ... but the HTTP layer strips it before a browser's SF parser runs (WPT: require-corp).
    const parsed = parseSfItemToken(['\trequire-corp\t'])
    assert.ok(parsed?.ok)
    assert.equal(parsed.token, 'require-corp')
  })
})

describe('parsePermissionsPolicy', () => {
  it('reads empty, star, self and origin lists', () => {
    const policy = parsePermissionsPolicy([
      'cross-origin-isolated=(self "https://a.example"), geolocation=(), camera=*',
    ])
    assert.ok(policy)
    assert.deepEqual(policy.get('cross-origin-isolated'), [
      { kind: 'self' },
      { kind: 'origin', origin: 'https://a.example' },
    ])
    assert.deepEqual(policy.get('geolocation'), [])
    assert.deepEqual(policy.get('camera'), [{ kind: 'star' }])
  })

  it('ignores a header that does not parse', () => {
    assert.equal(parsePermissionsPolicy(['cross-origin-isolated=(self']), null)
  })
})

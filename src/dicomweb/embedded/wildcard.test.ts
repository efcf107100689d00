/**
 * The QIDO wildcard matcher against the regular expression it replaced, on generated patterns,
 * and on the many-`*` query that made that expression take minutes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import { wildcardMatch } from './wildcard.js'

/** The old rule, as a regex: fine for short patterns, exponential for many `*`. */
function byRegex(pattern: string, value: string, caseless: boolean): boolean {
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}$`, caseless ? 'isu' : 'su').test(value)
}

describe('wildcardMatch', () => {
  it('agrees with the regex rule on generated patterns and values', (t) => {
    const char = fc.constantFrom('a', 'B', 'b', '^', '.', '\\', 'é', '\n')
    const patternChar = fc.oneof(char, fc.constantFrom('*', '?'))
    const runs = 3000
    fc.assert(
      fc.property(
        fc.array(patternChar, { maxLength: 8 }).map((c) => c.join('')),
        fc.array(char, { maxLength: 10 }).map((c) => c.join('')),
        fc.boolean(),
        (pattern, value, caseless) => {
          assert.equal(
            wildcardMatch(pattern, value, caseless),
            byRegex(pattern, value, caseless),
            `${JSON.stringify(pattern)} on ${JSON.stringify(value)}`,
          )
        },
      ),
      { numRuns: runs },
    )
    t.diagnostic(`property: wildcard matcher agrees with the regex rule: ${runs} runs`)
  })

  it('answers a value of many `*` on a name that does not match', () => {
    // 130 stars: the regex rule would take longer than this test run; the walk is immediate.
    const pattern = `${'*'.repeat(130)}x`
    assert.equal(wildcardMatch(pattern, 'Anonymous^Patient^Name'), false)
    assert.equal(wildcardMatch(pattern, 'Anonymous^Patient^Namex'), true)
    assert.equal(wildcardMatch('*^patient*', 'ANONYMOUS^PATIENT^NAME', true), true)
    assert.equal(wildcardMatch('?', ''), false)
    assert.equal(wildcardMatch('*', ''), true)
  })
})

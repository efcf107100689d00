/**
 * Property tests for the structured-field parsing of COOP, COEP and Document-Isolation-Policy
 * and for the rules that read them. Header values are attacker-controlled text (a doctor probe
 * reads whatever a server sends), so the parsers must never throw, and a value must count as
 * isolating only when a browser would read it so. Each property prints how many inputs it ran.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'
import { parseItem, Token } from 'structured-headers'

import { evaluateFrameChain } from './rules/frames.js'
import { headerLines, type HeaderLines } from './rules/headers.js'
import type { Browser } from './rules/findings.js'
import {
  coepTokens,
  parseCoep,
  parseCoop,
  parseDip,
  parseReportOnly,
  topLevelIsolation,
} from './rules/isolation.js'
import { parsePermissionsPolicy, parseSfItemToken } from './sf.js'
import { holds } from '../../test/helpers/property.js'

const COOP = 'Cross-Origin-Opener-Policy'
const COEP = 'Cross-Origin-Embedder-Policy'
const DIP = 'Document-Isolation-Policy'
const SECURE = 'https://viewer.example'
const BROWSERS: readonly Browser[] = ['chromium', 'firefox', 'safari']

/** RFC 9651 sf-token: what a valid token value always looks like. */
const SF_TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/

/** Characters that steer the parser into its branches, mixed with anything at all. */
const sfChar = fc.constantFrom(
  ...'abcrequiso-*;=", \t\\:?()@%01._/\r\n\f\v\0\u00e9'.split(''),
  ',',
  'same-origin',
  'require-corp',
  'credentialless',
  'isolate-and-require-corp',
)
const anyText = fc.oneof(
  fc.string({ unit: sfChar, maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  // Lone surrogates too: a JavaScript string a header parser may be handed.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
)
const anyLines = fc.array(anyText, { maxLength: 3 })
const ows = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 })

/** A parameter key (RFC 9651: lcalpha or `*`, then lcalpha, digits, `_-.*`). */
const key = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz*'.split('')),
    fc.string({ unit: fc.constantFrom(...'abcxyz019_-.*'.split('')), maxLength: 8 }),
  )
  .map(([first, rest]) => first + rest)

/** One parameter value as text, with what the parser should hand back for it. */
type ParamValue = { text: string; kept: string | number | boolean | undefined }
const stringChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c))
const paramValue: fc.Arbitrary<ParamValue> = fc.oneof(
  fc.constant({ text: '', kept: true }),
  fc.constantFrom('?0', '?1').map((text) => ({ text: `=${text}`, kept: text === '?1' })),
  fc
    .integer({ min: -999_999_999, max: 999_999_999 })
    .map((n) => ({ text: `=${n}`, kept: n === 0 ? 0 : n })),
  fc
    .tuple(fc.integer({ min: -9999, max: 9999 }), fc.integer({ min: 0, max: 999 }))
    .map(([whole, fraction]) => {
      const text = `${whole}.${fraction}`
      return { text: `=${text}`, kept: Number(text) }
    }),
  fc.string({ unit: stringChar, maxLength: 12 }).map((s) => ({
    text: `="${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`,
    kept: s,
  })),
  fc
    .tuple(
      fc.constantFrom(...'abcXYZ*'.split('')),
      fc.string({ unit: fc.constantFrom(...'az09:/.-_'.split('')), maxLength: 8 }),
    )
    .map(([first, rest]) => ({ text: `=${first}${rest}`, kept: first + rest })),
  // Byte sequences parse, but the rules do not keep them. Dates and display strings are left
  // out: they are RFC 9651 only, and browsers parse these headers by RFC 8941.
  fc.uint8Array({ maxLength: 6 }).map((b) => ({
    text: `=:${Buffer.from(b).toString('base64')}:`,
    kept: undefined,
  })),
)

/** `; key=value` parameters, each optionally preceded by spaces after the `;`. */
const params = fc.array(
  fc.tuple(fc.string({ unit: fc.constant(' '), maxLength: 2 }), key, paramValue),
  { maxLength: 5 },
)
function paramText(list: ReadonlyArray<readonly [string, string, ParamValue]>): string {
  return list.map(([space, k, v]) => `;${space}${k}${v.text}`).join('')
}
/** What the parameters mean: the last value of a repeated key wins (RFC 9651 4.2.3.2). */
function paramMeaning(list: ReadonlyArray<readonly [string, string, ParamValue]>) {
  const out = new Map<string, ParamValue['kept']>()
  for (const [, k, v] of list) {
    out.delete(k)
    out.set(k, v.kept)
  }
  return out
}

const browser = fc.constantFrom(...BROWSERS)
const h = (pairs: ReadonlyArray<readonly [string, string]>): HeaderLines => headerLines(pairs)
const lines = (name: string, values: readonly string[]) => values.map((v) => [name, v] as const)

describe('structured-field parsing (COOP, COEP, DIP)', () => {
  it('never throws on any field lines, and says absent only for no lines', async (t) => {
    await holds(
      t,
      'sf item token never throws',
      fc.property(anyLines, (values) => {
        const parsed = parseSfItemToken(values)
        if (values.length === 0) return parsed === null
        assert.ok(parsed !== null)
        if (parsed.ok) assert.match(parsed.token, SF_TOKEN)
        else assert.ok(['DUPLICATE_HEADER', 'NOT_TOKEN', 'PARSE_ERROR'].includes(parsed.failure))
        return true
      }),
      3000,
    )
    await holds(
      t,
      'permissions policy never throws',
      fc.property(anyLines, (values) => {
        const policy = parsePermissionsPolicy(values)
        return policy === null || policy instanceof Map
      }),
      2000,
    )
  })

  it('agrees with the RFC 9651 library on a single line once OWS is stripped', async (t) => {
    await holds(
      t,
      'sf item token matches the library',
      fc.property(anyText, (value) => {
        const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '')
        let expected: string | null
        try {
          const [bare] = parseItem(trimmed)
          expected = bare instanceof Token ? bare.toString() : null
        } catch {
          expected = null
        }
        const parsed = parseSfItemToken([value])
        assert.equal(parsed?.ok ? parsed.token : null, expected, JSON.stringify(value))
      }),
      3000,
    )
  })

  it('ignores SP and HTAB around each line', async (t) => {
    await holds(
      t,
      'outer whitespace is not significant',
      fc.property(fc.array(anyText, { minLength: 1, maxLength: 3 }), ows, ows, (values, a, b) => {
        const padded = values.map((v) => `${a}${v}${b}`)
        assert.deepEqual(parseSfItemToken(padded), parseSfItemToken(values))
      }),
      2000,
    )
  })

  it('reads a known token with any valid parameters as that token, parameters kept', async (t) => {
    const token = fc.constantFrom(
      'same-origin',
      'same-origin-allow-popups',
      'require-corp',
      'credentialless',
      'isolate-and-require-corp',
      'unsafe-none',
    )
    await holds(
      t,
      'token with parameters keeps its meaning',
      fc.property(token, params, ows, ows, (name, list, a, b) => {
        const parsed = parseSfItemToken([`${a}${name}${paramText(list)}${b}`])
        assert.ok(parsed?.ok, `${name}${paramText(list)}`)
        assert.equal(parsed.token, name)
        const expected = paramMeaning(list)
        for (const [k, kept] of expected) {
          if (kept === undefined) continue
          assert.deepEqual(parsed.params.get(k), kept, `${k} in ${paramText(list)}`)
        }
      }),
      3000,
    )
  })

  it('refuses any header sent twice, however valid each line is alone', async (t) => {
    const valid = fc
      .tuple(fc.constantFrom('same-origin', 'require-corp', 'x'), params)
      .map(([name, list]) => `${name}${paramText(list)}`)
    await holds(
      t,
      'two valid lines are a duplicate',
      fc.property(fc.array(valid, { minLength: 2, maxLength: 4 }), (values) => {
        assert.deepEqual(parseSfItemToken(values), { ok: false, failure: 'DUPLICATE_HEADER' })
        const coop = parseCoop(h(lines(COOP, values)))
        assert.equal(coop.value, 'unsafe-none')
        assert.equal(coop.state, 'invalid')
      }),
      1000,
    )
  })
})

describe('the rules that read COOP, COEP and DIP', () => {
  it('fall back to unsafe-none (or none) for anything not read as a known token', async (t) => {
    await holds(
      t,
      'unreadable policy is the default',
      fc.property(anyLines, anyLines, anyLines, browser, (coopLines, coepLines, dipLines, b) => {
        const headers = h([
          ...lines(COOP, coopLines),
          ...lines(COEP, coepLines),
          ...lines(DIP, dipLines),
        ])
        const checks = [
          [parseCoop(headers, b), coopLines, 'unsafe-none'],
          [parseCoep(headers, b), coepLines, 'unsafe-none'],
          [parseDip(headers), dipLines, 'none'],
        ] as const
        for (const [policy, raw, fallback] of checks) {
          const parsed = parseSfItemToken(raw)
          if (parsed === null) assert.equal(policy.state, 'absent')
          if (policy.state !== 'valid') {
            assert.equal(policy.value, fallback)
          } else {
            // A valid value is exactly the parsed token, never a case-folded or guessed one.
            assert.ok(parsed?.ok)
            assert.equal(policy.value, parsed.token)
          }
        }
        const coep = parseCoep(headers, b)
        assert.ok(coepTokens(b).includes(coep.value))
        if (b === 'safari') assert.notEqual(coep.value, 'credentialless')
      }),
      2000,
    )
  })

  it('isolate only what a browser does: same-origin plus a compatible COEP, or DIP', async (t) => {
    const policyLine = fc.oneof(
      anyText,
      fc
        .tuple(
          fc.constantFrom('same-origin', 'require-corp', 'credentialless', 'Same-Origin', 'none'),
          params,
        )
        .map(([name, list]) => `${name}${paramText(list)}`),
    )
    const policyLines = fc.array(policyLine, { maxLength: 2 })
    const url = fc.constantFrom(
      SECURE,
      'http://viewer.example',
      'http://127.0.0.1:8080',
      'http://localhost:3000',
      'file:///viewer/index.html',
      'not a url',
    )
    await holds(
      t,
      'top-level isolation verdict',
      fc.property(
        url,
        policyLines,
        policyLines,
        policyLines,
        policyLines,
        browser,
        (u, coopLines, coepLines, dipLines, reportOnly, b) => {
          const pairs = [
            ...lines(COOP, coopLines),
            ...lines(COEP, coepLines),
            ...lines(DIP, dipLines),
          ]
          const result = topLevelIsolation({ url: u, headers: h(pairs) }, { browser: b })
          const coop = parseCoop(h(pairs), b)
          const coep = parseCoep(h(pairs), b)
          if (!result.secure) {
            assert.equal(result.coi, false)
            assert.equal(result.coop, 'unsafe-none')
            assert.equal(result.coep, 'unsafe-none')
          }
          if (result.coi && !result.viaDip) {
            assert.equal(coop.value, 'same-origin')
            assert.ok(coep.value === 'require-corp' || coep.value === 'credentialless')
            // Only one reading of the raw lines gives same-origin: the token, then `;` or end.
            const combined = coopLines.map((l) => l.replace(/^[ \t]+|[ \t]+$/g, '')).join(', ')
            assert.match(combined, /^same-origin(;|$)/)
          }
          if (result.viaDip) {
            assert.equal(b, 'chromium')
            assert.notEqual(parseDip(h(pairs)).value, 'none')
          }
          if (result.secure && !result.coi) assert.ok(result.findings.length > 0)
          // Report-Only headers never change the verdict, whatever they hold.
          const withReportOnly = h([
            ...pairs,
            ...lines(`${COOP}-Report-Only`, reportOnly),
            ...lines(`${COEP}-Report-Only`, reportOnly),
          ])
          const reportOnlyCoep = parseReportOnly(withReportOnly, b).coep
          assert.ok(coepTokens(b).includes(reportOnlyCoep.value))
          const again = topLevelIsolation({ url: u, headers: withReportOnly }, { browser: b })
          assert.equal(again.coi, result.coi)
          // DIP is Chromium's alone: elsewhere, dropping it changes nothing.
          if (b !== 'chromium') {
            const noDip = h([...lines(COOP, coopLines), ...lines(COEP, coepLines)])
            assert.equal(
              topLevelIsolation({ url: u, headers: noDip }, { browser: b }).coi,
              result.coi,
            )
          }
        },
      ),
      2000,
    )
  })

  it('isolates a secure page whose COOP and COEP carry any valid parameters', async (t) => {
    await holds(
      t,
      'parameters never break isolation',
      fc.property(params, params, ows, browser, (coopParams, coepParams, pad, b) => {
        const headers = h([
          [COOP, `${pad}same-origin${paramText(coopParams)}`],
          [COEP, `require-corp${paramText(coepParams)}${pad}`],
        ])
        const result = topLevelIsolation({ url: SECURE, headers }, { browser: b })
        assert.equal(result.coi, true, `${paramText(coopParams)} | ${paramText(coepParams)}`)
        assert.equal(result.viaDip, false)
      }),
      1500,
    )
  })

  it('never isolates a frame whose top-level page is not, outside Chromium DIP', async (t) => {
    const level = fc.record({
      url: fc.constantFrom(SECURE, 'https://other.example', 'http://plain.example'),
      coop: anyLines,
      coep: fc.array(fc.oneof(anyText, fc.constant('require-corp')), { maxLength: 2 }),
      dip: fc.array(fc.oneof(anyText, fc.constant('isolate-and-require-corp')), { maxLength: 1 }),
      allow: fc.option(fc.constantFrom('cross-origin-isolated', 'camera', ''), { nil: undefined }),
      srcdoc: fc.boolean(),
    })
    await holds(
      t,
      'frame chain isolation',
      fc.property(fc.array(level, { minLength: 1, maxLength: 4 }), browser, (chain, b) => {
        const levels = chain.map((l, i) => ({
          url: l.url,
          headers: h([...lines(COOP, l.coop), ...lines(COEP, l.coep), ...lines(DIP, l.dip)]),
          allow: l.allow,
          srcdoc: i > 0 && l.srcdoc,
        }))
        const verdicts = evaluateFrameChain(levels, { browser: b })
        assert.equal(verdicts.length, levels.length)
        const top = topLevelIsolation(levels[0]!, { browser: b })
        assert.equal(verdicts[0]!.coi, top.coi)
        const groupIsolated = top.coi && !top.viaDip
        for (let i = 1; i < verdicts.length; i++) {
          const v = verdicts[i]!
          if (!v.loads) assert.equal(v.coi, false)
          if (v.coi && b !== 'chromium') assert.ok(groupIsolated, `level ${i} isolated alone`)
          if (!verdicts[i - 1]!.loads) assert.equal(v.loads, false)
        }
      }),
      1500,
    )
  })
})

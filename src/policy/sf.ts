/**
 * Structured-field parsing for COOP, COEP, their Report-Only variants and
 * Document-Isolation-Policy (browser-rules §2). The value is an sf-Item (RFC 9651) parsed with
 * the `structured-headers` library, after the Fetch "get" step the library does not do: all
 * field lines combined with `, ` and HTTP whitespace (SP, HTAB) stripped from each. Where the
 * library alone would disagree with the WPT table of R-SF-3 (a TAB around the token, which the
 * HTTP layer strips before the SF parser sees it), this module follows the table.
 */
import { ParseError, parseDictionary, parseItem, Token } from 'structured-headers'

/** Why a value did not yield a token. */
export type SfFailure =
  /** More than one field line, or a comma: a List, not an Item (R-SF-1). */
  | 'DUPLICATE_HEADER'
  /** A valid Item that is a string, byte sequence, number or boolean rather than a token. */
  | 'NOT_TOKEN'
  /** Not a valid Item at all (`require-corp;`, TAB after `;`, stray bytes). */
  | 'PARSE_ERROR'

export type SfItemToken =
  | {
      readonly ok: true
      readonly token: string
      /** Parameters; a parameter without `=` is `true`, strings are unquoted. */
      readonly params: ReadonlyMap<string, string | number | boolean>
    }
  | { readonly ok: false; readonly failure: SfFailure }

/**
 * Parses the field lines of one header as an sf-Item whose bare item must be a token. Returns
 * null when there are no lines (the header is absent).
 */
export function parseSfItemToken(lines: readonly string[]): SfItemToken | null {
  if (lines.length === 0) return null
  const value = lines.map((line) => line.replace(/^[ \t]+|[ \t]+$/g, '')).join(', ')
  let item: ReturnType<typeof parseItem>
  try {
    item = parseItem(value)
  } catch (error) {
    if (!(error instanceof ParseError) && !(error instanceof Error)) throw error
    return {
      ok: false,
      failure: lines.length > 1 || hasTopLevelComma(value) ? 'DUPLICATE_HEADER' : 'PARSE_ERROR',
    }
  }
  const [bare, params] = item
  if (!(bare instanceof Token)) return { ok: false, failure: 'NOT_TOKEN' }
  const out = new Map<string, string | number | boolean>()
  for (const [key, param] of params) {
    if (param instanceof Token) out.set(key, param.toString())
    else if (typeof param === 'string' || typeof param === 'number' || typeof param === 'boolean') {
      out.set(key, param)
    }
  }
  return { ok: true, token: bare.toString(), params: out }
}

/** A comma outside a quoted string: the combined value is a List (R-SF-1). */
function hasTopLevelComma(value: string): boolean {
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (c === ',' && !quoted) return true
  }
  return false
}

/** One member of a Permissions-Policy allowlist. */
export type AllowlistMember =
  { readonly kind: 'star' | 'self' } | { readonly kind: 'origin'; readonly origin: string }

/**
 * Parses a `Permissions-Policy` header (an sf-Dictionary) into feature → allowlist. A header
 * that fails to parse is ignored as a whole, as Chromium does; returns null then.
 */
export function parsePermissionsPolicy(
  lines: readonly string[],
): ReadonlyMap<string, readonly AllowlistMember[]> | null {
  if (lines.length === 0) return new Map()
  let dict: ReturnType<typeof parseDictionary>
  try {
    dict = parseDictionary(lines.map((line) => line.trim()).join(', '))
  } catch {
    return null
  }
  const out = new Map<string, AllowlistMember[]>()
  for (const [feature, [value]] of dict) {
    const members: AllowlistMember[] = []
    const items = Array.isArray(value) ? value.map(([bare]) => bare) : [value]
    for (const bare of items) {
      if (bare instanceof Token) {
        const token = bare.toString()
        if (token === '*') members.push({ kind: 'star' })
        else if (token === 'self') members.push({ kind: 'self' })
      } else if (typeof bare === 'string') {
        try {
          const origin = new URL(bare).origin
          if (origin !== 'null') members.push({ kind: 'origin', origin })
        } catch {
          // An unparsable origin matches nothing; the rest of the list still counts.
        }
      }
    }
    out.set(feature, members)
  }
  return out
}

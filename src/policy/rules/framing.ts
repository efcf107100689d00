/**
 * Who may frame a document (browser-rules §9): X-Frame-Options by HTML's set algorithm, CSP
 * `frame-ancestors` matched against every ancestor, enforced CSP overriding XFO, and the
 * directive ignored in `<meta>`.
 */
import { originOf } from '../site.js'
import { at, finding, type Finding } from './findings.js'
import { linesOf, shown, type HeaderLines } from './headers.js'

const XFO = 'X-Frame-Options'
const CSP = 'Content-Security-Policy'

export interface FramingInput {
  readonly url: string
  readonly headers: HeaderLines
  /** Ancestors' URLs, outer → inner (the parent last); empty for a top-level document. */
  readonly ancestors: readonly string[]
  /** `content` of `<meta http-equiv="Content-Security-Policy">` elements in the document. */
  readonly metaCsp?: readonly string[]
}

export interface FramingResult {
  readonly allowed: boolean
  readonly findings: readonly Finding[]
}

/** The `frame-ancestors` source lists of every enforced policy that has one. */
function frameAncestorLists(lines: readonly string[]): string[][] {
  const lists: string[][] = []
  // Each line, and each comma-separated member of a line, is its own policy.
  for (const policy of lines.flatMap((line) => line.split(','))) {
    for (const directive of policy.split(';')) {
      const [name, ...sources] = directive.trim().split(/[ \t]+/)
      if (name?.toLowerCase() === 'frame-ancestors') {
        lists.push(sources.filter((s) => s.length > 0))
        break // Only the first occurrence of a directive counts.
      }
    }
  }
  return lists
}

/** CSP3 source matching, reduced to what frame-ancestors can see: an ancestor's origin. */
export function sourceMatches(source: string, ancestor: string, self: string): boolean {
  const lower = source.toLowerCase()
  if (lower === "'none'") return false
  if (lower === "'self'") return ancestor === self
  let url: URL
  try {
    url = new URL(ancestor)
  } catch {
    return false
  }
  const scheme = url.protocol.slice(0, -1)
  if (lower === '*') return scheme === 'http' || scheme === 'https'
  const schemeOnly = /^([a-z][a-z0-9+.-]*):$/.exec(lower)
  if (schemeOnly) {
    const s = schemeOnly[1]
    return s === scheme || (s === 'http' && scheme === 'https')
  }
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*\.)?([^:/]+|\*)(?::(\d+|\*))?(?:\/.*)?$/.exec(lower)
  if (!m) return false
  const [, srcScheme, wildcard, host = '', port] = m
  if (srcScheme) {
    if (!(srcScheme === scheme || (srcScheme === 'http' && scheme === 'https'))) return false
  } else {
    const selfScheme = new URL(self).protocol.slice(0, -1)
    const ok = scheme === selfScheme || (selfScheme === 'http' && scheme === 'https')
    if (!ok) return false
  }
  const ancestorHost = url.hostname.toLowerCase()
  if (host !== '*') {
    if (wildcard) {
      if (!ancestorHost.endsWith(`.${host}`)) return false
    } else if (ancestorHost !== host) return false
  }
  // No port in the source means the scheme's default port (the URL parser drops it).
  if (port === '*') return true
  if (port) return port === (url.port || (scheme === 'https' ? '443' : '80'))
  return url.port === ''
}

/**
 * R-FRAME-1..4: is the document allowed to render inside its ancestors? Top-level documents
 * are never blocked.
 */
export function framingCheck(input: FramingInput): FramingResult {
  const findings: Finding[] = []
  for (const meta of input.metaCsp ?? []) {
    if (frameAncestorLists([meta]).length > 0) {
      findings.push(
        finding('FRAME_ANCESTORS_META_IGNORED', {
          evidence: at(input.url, '<meta http-equiv="Content-Security-Policy">', meta),
          message: 'frame-ancestors in a <meta> CSP is ignored; it only works as a header',
          fix: 'send Content-Security-Policy: frame-ancestors ... as a response header',
        }),
      )
    }
  }
  if (input.ancestors.length === 0) return { allowed: true, findings }
  const self = originOf(input.url)
  const ancestors = input.ancestors.map(originOf)
  const lists = frameAncestorLists(linesOf(input.headers, CSP))
  if (lists.length > 0) {
    for (const list of lists) {
      const refused = ancestors.find((a) => !list.some((s) => sourceMatches(s, a, self)))
      if (refused) {
        findings.unshift(
          finding('CSP_FRAME_ANCESTORS_BLOCKED', {
            evidence: at(input.url, CSP, shown(input.headers, CSP)),
            message: `frame-ancestors does not list the ancestor ${refused}`,
            fix: `add ${refused} to frame-ancestors (every ancestor up to the top is checked)`,
          }),
        )
        return { allowed: false, findings }
      }
    }
    // An enforced frame-ancestors makes the browser skip X-Frame-Options entirely.
    return { allowed: true, findings }
  }
  const xfo = xfoCheck(input, self, ancestors)
  if (xfo) {
    findings.unshift(xfo)
    if (xfo.severity === 'error') return { allowed: false, findings }
  }
  return { allowed: true, findings }
}

function xfoCheck(input: FramingInput, self: string, ancestors: readonly string[]): Finding | null {
  const lines = linesOf(input.headers, XFO)
  if (lines.length === 0) return null
  const evidence = at(input.url, XFO, shown(input.headers, XFO))
  const set = new Set(lines.flatMap((l) => l.split(',')).map((v) => v.trim().toLowerCase()))
  const fix =
    'replace X-Frame-Options by `Content-Security-Policy: frame-ancestors` listing every ' +
    'embedder (it overrides XFO)'
  if (set.size > 1) {
    if (set.has('deny') || set.has('allowall') || set.has('sameorigin')) {
      return finding('XFO_CONFLICT', {
        evidence,
        message: 'X-Frame-Options carries conflicting values, so the browser blocks framing',
        fix,
      })
    }
    return null
  }
  const [value] = [...set]
  if (value === 'deny') {
    return finding('XFO_DENY', { evidence, message: 'X-Frame-Options: DENY forbids framing', fix })
  }
  if (value === 'sameorigin') {
    const other = ancestors.find((a) => a !== self)
    if (other === undefined) return null
    return finding('XFO_SAMEORIGIN_MISMATCH', {
      evidence,
      message: `X-Frame-Options: SAMEORIGIN and the ancestor ${other} is another origin`,
      fix,
    })
  }
  return finding('XFO_INVALID_IGNORED', {
    evidence,
    message: `X-Frame-Options ${JSON.stringify(value)} is not understood and protects nothing`,
    fix: 'use Content-Security-Policy: frame-ancestors to say who may frame this page',
  })
}

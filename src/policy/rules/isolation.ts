/**
 * COOP, COEP and Document-Isolation-Policy of one document, and whether a top-level document
 * ends up cross-origin isolated (browser-rules §3, §4.1, §4.2, §4.4, §4.5).
 */
import { parseSfItemToken, type SfItemToken } from '../sf.js'
import { secureContext, type TrustOptions } from './context.js'
import { at, finding, type Browser, type Finding } from './findings.js'
import { linesOf, shown, type HeaderLines } from './headers.js'
import { permissionsPolicyAllowsSelf } from './permissions.js'

export type CoopValue =
  'unsafe-none' | 'same-origin' | 'same-origin-allow-popups' | 'noopener-allow-popups'
export type CoepValue = 'unsafe-none' | 'require-corp' | 'credentialless'
export type DipValue = 'none' | 'isolate-and-require-corp' | 'isolate-and-credentialless'

const COOP_H = 'Cross-Origin-Opener-Policy'
const COEP_H = 'Cross-Origin-Embedder-Policy'
const COOP_RO = 'Cross-Origin-Opener-Policy-Report-Only'
const COEP_RO = 'Cross-Origin-Embedder-Policy-Report-Only'
const DIP_H = 'Document-Isolation-Policy'

/** A parsed policy header: the value the browser uses, and why it fell back when it did. */
export interface ParsedPolicy<T extends string> {
  readonly value: T
  /** `absent`, `valid`, or the failure that sent it back to the default. */
  readonly state: 'absent' | 'valid' | 'invalid'
  readonly detail?: string
  readonly raw: string | null
}

function parsePolicy<T extends string>(
  headers: HeaderLines,
  name: string,
  accepted: readonly T[],
  fallback: T,
): ParsedPolicy<T> {
  const raw = shown(headers, name)
  const parsed: SfItemToken | null = parseSfItemToken(linesOf(headers, name))
  if (parsed === null) return { value: fallback, state: 'absent', raw }
  if (!parsed.ok) return { value: fallback, state: 'invalid', detail: parsed.failure, raw }
  if ((accepted as readonly string[]).includes(parsed.token)) {
    return { value: parsed.token as T, state: 'valid', raw }
  }
  const lower = parsed.token.toLowerCase()
  const detail = (accepted as readonly string[]).includes(lower)
    ? 'CASE'
    : parsed.token === 'restrict-properties'
      ? 'NONSTANDARD_VALUE'
      : 'UNKNOWN_TOKEN'
  return { value: fallback, state: 'invalid', detail, raw }
}

const COOP_VALUES: readonly CoopValue[] = [
  'unsafe-none',
  'same-origin',
  'same-origin-allow-popups',
  'noopener-allow-popups',
]

/** COEP tokens a browser knows; `credentialless` is unknown to Safari (R-COEP-4). */
export function coepTokens(browser: Browser): readonly CoepValue[] {
  return browser === 'safari'
    ? ['unsafe-none', 'require-corp']
    : ['unsafe-none', 'require-corp', 'credentialless']
}

/** COOP of a response (R-COOP-1..4); `noopener-allow-popups` is Chromium and Safari only. */
export function parseCoop(
  headers: HeaderLines,
  browser: Browser = 'chromium',
): ParsedPolicy<CoopValue> {
  const known = browser === 'firefox' ? COOP_VALUES.slice(0, 3) : COOP_VALUES
  return parsePolicy(headers, COOP_H, known, 'unsafe-none')
}

/** COEP of a response (R-COEP-1..4). */
export function parseCoep(
  headers: HeaderLines,
  browser: Browser = 'chromium',
): ParsedPolicy<CoepValue> {
  return parsePolicy(headers, COEP_H, coepTokens(browser), 'unsafe-none')
}

/** The Report-Only variants: they never change behaviour, only report (R-COOP-5, R-COEP-3). */
export function parseReportOnly(headers: HeaderLines, browser: Browser = 'chromium') {
  return {
    coop: parsePolicy(headers, COOP_RO, COOP_VALUES, 'unsafe-none'),
    coep: parsePolicy(headers, COEP_RO, coepTokens(browser), 'unsafe-none'),
  }
}

/** Document-Isolation-Policy (R-DIP-1): Chromium 137+ only. */
export function parseDip(headers: HeaderLines): ParsedPolicy<DipValue> {
  return parsePolicy(
    headers,
    DIP_H,
    ['none', 'isolate-and-require-corp', 'isolate-and-credentialless'] as const,
    'none',
  )
}

/** True for the COEP values that allow cross-origin isolation. */
export function coepCompatible(value: CoepValue): boolean {
  return value === 'require-corp' || value === 'credentialless'
}

export interface DocumentResponse {
  readonly url: string
  readonly headers: HeaderLines
}

export interface TopLevelResult {
  readonly secure: boolean
  readonly coi: boolean
  /** The COOP and COEP in force (defaults on an insecure page, R-COOP-6, R-COEP-5). */
  readonly coop: CoopValue
  readonly coep: CoepValue
  /** Isolated by Document-Isolation-Policy rather than COOP + COEP. */
  readonly viaDip: boolean
  readonly findings: readonly Finding[]
}

export interface IsolationOptions extends TrustOptions {
  readonly browser?: Browser
}

/**
 * R-COI-3 (and R-DIP-2): is a top-level document cross-origin isolated? Findings name the first
 * failing step as the primary reason; the Report-Only findings follow only when the enforced
 * header is absent.
 */
export function topLevelIsolation(
  doc: DocumentResponse,
  options: IsolationOptions = {},
): TopLevelResult {
  const browser = options.browser ?? 'chromium'
  const context = secureContext(doc.url, [], options)
  const coop = parseCoop(doc.headers, browser)
  const coep = parseCoep(doc.headers, browser)
  const findings: Finding[] = [...context.findings]
  if (!context.secure) {
    return {
      secure: false,
      coi: false,
      coop: 'unsafe-none',
      coep: 'unsafe-none',
      viaDip: false,
      findings,
    }
  }
  findings.push(...coopFindings(doc, coop, browser), ...coepFindings(doc, coep, browser))
  let coi = coop.value === 'same-origin' && coepCompatible(coep.value)
  if (coi && !permissionsPolicyAllowsSelf(doc, browser)) {
    coi = false
    findings.push(
      finding('PERMISSIONS_POLICY_COI_DENIED', {
        part: 'isolation',
        evidence: at(doc.url, 'Permissions-Policy', shown(doc.headers, 'Permissions-Policy')),
        message:
          'the page is in an isolated group, but its own Permissions-Policy denies ' +
          'cross-origin-isolated, so crossOriginIsolated is false',
        fix: 'remove cross-origin-isolated from Permissions-Policy, or allow it for self',
        browsers: ['chromium'],
      }),
    )
  }
  const dip = dipIsolation(doc, browser, coi)
  // DIP's verdict leads: where it isolates, the missing COOP/COEP matter to other browsers only.
  findings.splice(context.findings.length, 0, ...dip.findings)
  return {
    secure: true,
    coi: coi || dip.isolated,
    coop: coop.value,
    coep: coep.value,
    viaDip: !coi && dip.isolated,
    findings,
  }
}

/** DIP isolates a document by itself in Chromium (R-DIP-2); elsewhere it is ignored. */
export function dipIsolation(
  doc: DocumentResponse,
  browser: Browser,
  alreadyIsolated: boolean,
): { isolated: boolean; findings: Finding[] } {
  const dip = parseDip(doc.headers)
  if (dip.value === 'none') return { isolated: false, findings: [] }
  const evidence = at(doc.url, DIP_H, dip.raw)
  if (browser !== 'chromium') {
    return {
      isolated: false,
      findings: alreadyIsolated
        ? []
        : [
            finding('DIP_UNSUPPORTED_BROWSER', {
              evidence,
              message: `Document-Isolation-Policy is Chromium-only; ${browser} ignores it`,
              fix: 'send COOP same-origin and COEP require-corp as well, for other browsers',
              browsers: [browser],
            }),
          ],
    }
  }
  return {
    isolated: true,
    findings: alreadyIsolated
      ? []
      : [
          finding('DIP_ISOLATED', {
            evidence,
            message: 'Document-Isolation-Policy isolates this document by itself (Chromium 137+)',
            fix: 'none needed in Chromium; other browsers need COOP + COEP',
            browsers: ['chromium'],
          }),
        ],
  }
}

function coopFindings(
  doc: DocumentResponse,
  coop: ParsedPolicy<CoopValue>,
  browser: Browser,
): Finding[] {
  const evidence = at(doc.url, COOP_H, coop.raw)
  const fix = 'send exactly one `Cross-Origin-Opener-Policy: same-origin` on every HTML response'
  if (coop.state === 'absent') {
    const ro = parseReportOnly(doc.headers, browser).coop
    if (ro.state !== 'absent') {
      return [
        finding('COOP_REPORT_ONLY_ONLY', {
          evidence: at(doc.url, COOP_RO, ro.raw),
          message: 'only the Report-Only COOP is sent; it reports but never isolates',
          fix,
        }),
      ]
    }
    return [finding('COOP_MISSING', { evidence, message: 'no COOP header, so no isolation', fix })]
  }
  if (coop.state === 'invalid') {
    return [
      finding('COOP_INVALID', {
        evidence,
        detail: coop.detail,
        message:
          `COOP ${JSON.stringify(coop.raw)} is not understood ` + `(${coop.detail}) and is ignored`,
        fix,
      }),
    ]
  }
  if (coop.value !== 'same-origin') {
    return [
      finding('COOP_NOT_SAME_ORIGIN', {
        evidence,
        message: `COOP ${coop.value} never isolates; only same-origin does`,
        fix,
      }),
    ]
  }
  return []
}

function coepFindings(
  doc: DocumentResponse,
  coep: ParsedPolicy<CoepValue>,
  browser: Browser,
): Finding[] {
  const evidence = at(doc.url, COEP_H, coep.raw)
  const fix = 'send exactly one `Cross-Origin-Embedder-Policy: require-corp` on every HTML response'
  if (coep.state === 'absent') {
    const ro = parseReportOnly(doc.headers, browser).coep
    if (ro.state !== 'absent') {
      return [
        finding('COEP_REPORT_ONLY_ONLY', {
          evidence: at(doc.url, COEP_RO, ro.raw),
          message: 'only the Report-Only COEP is sent; it reports but never isolates',
          fix,
        }),
      ]
    }
    return [finding('COEP_MISSING', { evidence, message: 'no COEP header, so no isolation', fix })]
  }
  if (coep.state === 'invalid') {
    if (browser === 'safari' && coep.raw?.trim().startsWith('credentialless')) {
      return [
        finding('COEP_CREDENTIALLESS_UNSUPPORTED', {
          evidence,
          message: 'Safari does not know COEP credentialless and ignores it',
          fix: 'use require-corp where Safari matters, with CORP on cross-origin no-cors loads',
          browsers: ['safari'],
        }),
      ]
    }
    return [
      finding('COEP_INVALID', {
        evidence,
        detail: coep.detail,
        message:
          `COEP ${JSON.stringify(coep.raw)} is not understood ` + `(${coep.detail}) and is ignored`,
        fix,
      }),
    ]
  }
  if (coep.value === 'unsafe-none') {
    return [
      finding('COEP_UNSAFE_NONE', {
        evidence,
        message: 'COEP unsafe-none is the same as none',
        fix,
      }),
    ]
  }
  return []
}

/** R-SAB-1/2: what a page sees of SharedArrayBuffer. */
export function sharedArrayBuffer(coi: boolean): {
  typeofSharedArrayBuffer: 'function' | 'undefined'
  canPostToWorker: boolean
} {
  return { typeofSharedArrayBuffer: coi ? 'function' : 'undefined', canPostToWorker: coi }
}

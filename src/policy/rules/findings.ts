/**
 * Findings: every verdict of the rules engine, with a stable reason code from the catalogue of
 * browser-rules §12, the evidence it rests on (which response, which header, what value) and
 * what to change. Codes are never renamed; `docs/doctor-json.md` lists them for tools.
 */

/** Which part of a deployment a finding is about; the doctor groups its output by it. */
export type Part = 'context' | 'isolation' | 'sources' | 'embedding'

export type Severity = 'error' | 'warning' | 'info'

/** Browsers whose behaviour the engine models (browser-rules §11). */
export type Browser = 'chromium' | 'firefox' | 'safari'

/** The catalogue: each code's severity (browser-rules §12) and the part it usually concerns. */
export const REASONS = {
  OK: ['info', 'isolation'],
  INSECURE_CONTEXT: ['error', 'context'],
  COOP_MISSING: ['error', 'isolation'],
  COOP_INVALID: ['error', 'isolation'],
  COOP_NOT_SAME_ORIGIN: ['error', 'isolation'],
  COOP_REPORT_ONLY_ONLY: ['error', 'isolation'],
  COOP_IGNORED_IN_IFRAME: ['info', 'embedding'],
  COOP_SEVERS_OPENER: ['info', 'embedding'],
  COEP_MISSING: ['error', 'isolation'],
  COEP_INVALID: ['error', 'isolation'],
  COEP_UNSAFE_NONE: ['error', 'isolation'],
  COEP_REPORT_ONLY_ONLY: ['error', 'isolation'],
  COEP_CREDENTIALLESS_UNSUPPORTED: ['error', 'isolation'],
  PERMISSIONS_POLICY_COI_DENIED: ['error', 'embedding'],
  FRAME_ANCESTOR_NOT_ISOLATED: ['error', 'embedding'],
  IFRAME_COEP_MISSING: ['error', 'embedding'],
  IFRAME_CORP_MISSING: ['error', 'embedding'],
  DIP_ISOLATED: ['info', 'isolation'],
  DIP_UNSUPPORTED_BROWSER: ['error', 'isolation'],
  SAB_UNAVAILABLE: ['error', 'isolation'],
  CORP_MISSING: ['error', 'sources'],
  CORP_BLOCKED: ['error', 'sources'],
  CORP_INVALID: ['error', 'sources'],
  CREDENTIALLESS_NO_COOKIES: ['warning', 'sources'],
  CORS_ACAO_MISSING: ['error', 'sources'],
  CORS_ORIGIN_MISMATCH: ['error', 'sources'],
  CORS_ACAO_MULTIPLE: ['error', 'sources'],
  CORS_WILDCARD_WITH_CREDENTIALS: ['error', 'sources'],
  CORS_CREDENTIALS_NOT_ALLOWED: ['error', 'sources'],
  CORS_ACAO_MISSING_ON_ERROR: ['warning', 'sources'],
  PREFLIGHT_REQUIRED: ['info', 'sources'],
  PREFLIGHT_STATUS_NOT_OK: ['error', 'sources'],
  PREFLIGHT_REDIRECT: ['error', 'sources'],
  PREFLIGHT_METHOD_NOT_ALLOWED: ['error', 'sources'],
  PREFLIGHT_HEADERS_MISSING: ['error', 'sources'],
  PREFLIGHT_AUTHORIZATION_NOT_WILDCARDABLE: ['error', 'sources'],
  CORS_HEADER_NOT_EXPOSED: ['warning', 'sources'],
  CORS_REDIRECT_ORIGIN_NULL: ['error', 'sources'],
  CORS_REDIRECT_CREDENTIALS_IN_URL: ['error', 'sources'],
  VARY_ORIGIN_MISSING: ['warning', 'sources'],
  CORS_NULL_ORIGIN_ALLOWED: ['warning', 'sources'],
  MIXED_CONTENT: ['error', 'sources'],
  MIXED_CONTENT_UPGRADED: ['info', 'sources'],
  LNA_PERMISSION_REQUIRED: ['warning', 'sources'],
  LNA_INSECURE_REQUESTER: ['error', 'sources'],
  XFO_DENY: ['error', 'embedding'],
  XFO_SAMEORIGIN_MISMATCH: ['error', 'embedding'],
  XFO_CONFLICT: ['error', 'embedding'],
  CSP_FRAME_ANCESTORS_BLOCKED: ['error', 'embedding'],
  XFO_INVALID_IGNORED: ['warning', 'embedding'],
  FRAME_ANCESTORS_META_IGNORED: ['warning', 'embedding'],
  WORKER_COEP_MISSING: ['error', 'isolation'],
  WORKER_CROSS_ORIGIN_SCRIPT: ['error', 'isolation'],
  WASM_MIME_INVALID: ['error', 'isolation'],
  PDF_EMBED_COEP_RISK: ['warning', 'sources'],
  SW_NOT_CONTROLLING: ['error', 'isolation'],
  SW_UNAVAILABLE: ['error', 'isolation'],

  // Isogate additions, for what the doctor sees beyond the browser's rules (not in §12).
  /** A deep link (SPA fallback route) lacks the isolation headers `/` has (user case B05). */
  DEEP_LINK_NOT_ISOLATED: ['error', 'isolation'],
  /** An error page lacks the isolation or CORS headers its successes carry (B22). */
  ERROR_PAGE_HEADERS_MISSING: ['warning', 'isolation'],
  /** A header name that is close to a real one but is not it (B01's `Allow_Credentials`). */
  HEADER_NAME_MISSPELLED: ['warning', 'sources'],
  /** The document was reached through redirects. */
  REDIRECTED: ['info', 'context'],
  /** The viewer is OHIF, with this version, and what it loses without isolation. */
  VIEWER_DETECTED: ['info', 'isolation'],
  /** `useSharedArrayBuffer` in app-config.js: its value and type (B04, B14). */
  SAB_CONFIG: ['info', 'isolation'],
  /** app-config.js could not be fetched or read as data. */
  APP_CONFIG_UNREADABLE: ['warning', 'sources'],
  /** A data source's root names a host the user's browser cannot reach (B13). */
  SOURCE_HOST_INTERNAL: ['error', 'sources'],
  /** A data source did not answer, or answered an error to a plain query. */
  SOURCE_UNREACHABLE: ['error', 'sources'],
  /** QIDO left out attributes OHIF asked for with a comma-joined includefield (M01). */
  QIDO_INCLUDEFIELD_IGNORED: ['warning', 'sources'],
  /** QIDO sent an attribute with a VR and no Value where OHIF assumes one (M02). */
  QIDO_EMPTY_VALUE: ['warning', 'sources'],
  /** Metadata points BulkDataURI/RetrieveURL at another origin or prefix (B15, B20). */
  BULKDATA_URI_FOREIGN: ['error', 'sources'],
  /** The server software, when it could be told, and where its fix comes from. */
  SERVER_DETECTED: ['info', 'context'],
} as const satisfies Record<string, readonly [Severity, Part]>

export type ReasonCode = keyof typeof REASONS

/** What a finding rests on: the response, the header and the value as received. */
export interface Evidence {
  readonly url: string
  /** Header name as a person would write it, or null when the evidence is not a header. */
  readonly header: string | null
  /** The value(s) received, lines joined by `\n`; null when the header was absent. */
  readonly value: string | null
}

export interface Finding {
  readonly code: ReasonCode
  readonly severity: Severity
  readonly part: Part
  readonly evidence: Evidence
  /** One sentence: what the browser does and why. */
  readonly message: string
  /** One sentence: what to change. */
  readonly fix: string
  /** Sub-reason from the catalogue (`DUPLICATE_HEADER`, `CASE`, `NOT_TOKEN`, ...). */
  readonly detail?: string
  /** Browsers the finding holds for, when the engine predicts differently per browser. */
  readonly browsers?: readonly Browser[]
}

export interface FindingInput {
  readonly evidence: Evidence
  readonly message: string
  readonly fix: string
  readonly detail?: string | undefined
  readonly part?: Part
  readonly severity?: Severity
  readonly browsers?: readonly Browser[]
}

/** Builds a finding, taking severity and part from the catalogue unless the caller knows better. */
export function finding(code: ReasonCode, input: FindingInput): Finding {
  const [severity, part] = REASONS[code]
  const result: Finding = {
    code,
    severity: input.severity ?? severity,
    part: input.part ?? part,
    evidence: input.evidence,
    message: input.message,
    fix: input.fix,
    ...(input.detail ? { detail: input.detail } : {}),
    ...(input.browsers ? { browsers: input.browsers } : {}),
  }
  return result
}

/** Evidence that is a URL without a particular header. */
export function at(
  url: string,
  header: string | null = null,
  value: string | null = null,
): Evidence {
  return { url, header, value }
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 }

/** Findings ordered errors first, then warnings, then notes; stable within a severity. */
export function bySeverity(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity])
}

/** True when any finding would stop the feature it describes. */
export function hasError(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error')
}

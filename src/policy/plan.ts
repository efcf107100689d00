/**
 * The header plan: which headers each class of response must carry so that the browser isolates
 * the viewer, loads everything it asks for, and lets only the right pages frame it. Pure: the
 * same intent always yields the same plan, and `serve`, `recipe` and `doctor` all read it.
 */

/** How the viewer's documents ask for cross-origin isolation. */
export type Isolation = 'require-corp' | 'credentialless' | 'off' | 'report-only'

export const ISOLATION_MODES: readonly Isolation[] = [
  'require-corp',
  'credentialless',
  'off',
  'report-only',
]

/** The kinds of reply the gateway sends; every reply belongs to exactly one. */
export type ResponseClass =
  | 'document'
  | 'script'
  | 'worker'
  | 'wasm'
  | 'static'
  | 'app-config'
  | 'dicomweb'
  | 'rendered'
  | 'preflight'
  | 'error'

export const RESPONSE_CLASSES: readonly ResponseClass[] = [
  'document',
  'script',
  'worker',
  'wasm',
  'static',
  'app-config',
  'dicomweb',
  'rendered',
  'preflight',
  'error',
]

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>

/** What the user wants, in their words; never header values. */
export interface PlanIntent {
  readonly isolation: Isolation
  /**
   * Origins other than the viewer's own that may frame it (exact serialized origins). When any
   * is given, the viewer's replies carry CORP `cross-origin` so a cross-origin parent under COEP
   * may load them (browser-rules R-CORP-6, R-FRAME-5).
   */
  readonly embedders: readonly string[]
  /** Send Chromium's Document-Isolation-Policy on documents (browser-rules §4.4); opt-in. */
  readonly documentIsolationPolicy: boolean
  /** Path of the violation-report collector, when the gateway runs one. */
  readonly reportingEndpoint?: string | undefined
  /** DICOMweb replies are read by viewers on other origins (front mode): CORP cross-origin. */
  readonly dicomwebCrossOrigin: boolean
}

export interface HeaderPlan {
  readonly intent: PlanIntent
  /** Headers each class carries, in the order they are written. */
  readonly classes: Readonly<Record<ResponseClass, HeaderList>>
  /** Cache-Control for viewer files whose names carry a content hash. */
  readonly hashedAssetCache: string
  /** Cache-Control for viewer files without a content hash. */
  readonly assetCache: string
}

export const COOP = 'Cross-Origin-Opener-Policy'
export const COEP = 'Cross-Origin-Embedder-Policy'
export const CORP = 'Cross-Origin-Resource-Policy'
export const COOP_REPORT_ONLY = 'Cross-Origin-Opener-Policy-Report-Only'
export const COEP_REPORT_ONLY = 'Cross-Origin-Embedder-Policy-Report-Only'
export const DIP = 'Document-Isolation-Policy'
export const DIP_REPORT_ONLY = 'Document-Isolation-Policy-Report-Only'
export const CSP = 'Content-Security-Policy'
export const XFO = 'X-Frame-Options'
export const REPORTING_ENDPOINTS = 'Reporting-Endpoints'

/** Name under which the collector is declared in Reporting-Endpoints. */
export const REPORT_GROUP = 'isogate'

export const DEFAULT_INTENT: PlanIntent = {
  isolation: 'require-corp',
  embedders: [],
  documentIsolationPolicy: false,
  dicomwebCrossOrigin: false,
}

/** Computes the plan for an intent. Throws nothing: the config layer has validated the intent. */
export function planHeaders(intent: PlanIntent): HeaderPlan {
  const reportTo = intent.reportingEndpoint ? `; report-to="${REPORT_GROUP}"` : ''
  const reporting: HeaderList = intent.reportingEndpoint
    ? [[REPORTING_ENDPOINTS, `${REPORT_GROUP}="${intent.reportingEndpoint}"`]]
    : []

  // COOP matters only on top-level documents, but error pages can be documents too.
  const opener = openerHeaders(intent.isolation, reportTo)

  // COEP goes on documents and on every script: a dedicated worker takes its policy from its
  // own script response, and a require-corp page cannot start a worker without one (R-SUB-6).
  const embedder = embedderHeaders(intent.isolation, reportTo)

  // CORP on everything we serve: same-origin unless a cross-origin parent must load us.
  const resource: HeaderList = [
    [CORP, intent.embedders.length > 0 ? 'cross-origin' : 'same-origin'],
  ]
  const dicomwebResource: HeaderList = [
    [
      CORP,
      intent.dicomwebCrossOrigin || intent.embedders.length > 0 ? 'cross-origin' : 'same-origin',
    ],
  ]

  const framing = framingHeaders(intent.embedders)
  const dip: HeaderList = documentIsolationHeaders(intent)

  const documentHeaders: HeaderList = [
    ...opener,
    ...embedder,
    ...dip,
    ...resource,
    ...framing,
    ...reporting,
  ]

  const classes: Record<ResponseClass, HeaderList> = {
    document: [...documentHeaders, ['Cache-Control', 'no-store']],
    script: [...embedder, ...resource],
    worker: [...embedder, ...resource],
    wasm: [...embedder, ...resource],
    static: [...resource],
    'app-config': [...embedder, ...resource, ['Cache-Control', 'no-cache']],
    dicomweb: [...dicomwebResource],
    // A rendered PDF is shown in an <object>, a nested navigation: under a COEP parent Chromium
    // blocks it unless the PDF sends a compatible COEP too (R-COI-5). That COEP must be bare:
    // with any parameter (report-to) Chromium 156 blocks the PDF viewer's inner frame
    // (measured, docs/embedding.md).
    rendered: [...embedderHeaders(intent.isolation, ''), ...dicomwebResource],
    preflight: [...dicomwebResource],
    // An error reply may be rendered as a document (a failed navigation), so it carries the
    // same isolation and framing headers as one; it must never break isolation.
    error: [...documentHeaders, ['Cache-Control', 'no-store']],
  }

  return {
    intent,
    classes,
    hashedAssetCache: 'public, max-age=31536000, immutable',
    assetCache: 'no-cache',
  }
}

function openerHeaders(isolation: Isolation, reportTo: string): HeaderList {
  switch (isolation) {
    case 'require-corp':
    case 'credentialless':
      return [[COOP, `same-origin${reportTo}`]]
    case 'report-only':
      return [[COOP_REPORT_ONLY, `same-origin${reportTo}`]]
    case 'off':
      return []
  }
}

function embedderHeaders(isolation: Isolation, reportTo: string): HeaderList {
  switch (isolation) {
    case 'require-corp':
      return [[COEP, `require-corp${reportTo}`]]
    case 'credentialless':
      return [[COEP, `credentialless${reportTo}`]]
    case 'report-only':
      return [[COEP_REPORT_ONLY, `require-corp${reportTo}`]]
    case 'off':
      return []
  }
}

/**
 * Document-Isolation-Policy follows the isolation mode: it enforces only when COOP/COEP would,
 * so `report-only` stays report-only and `off` stays unisolated.
 */
function documentIsolationHeaders(intent: PlanIntent): HeaderList {
  if (!intent.documentIsolationPolicy) return []
  switch (intent.isolation) {
    case 'require-corp':
      return [[DIP, 'isolate-and-require-corp']]
    case 'credentialless':
      return [[DIP, 'isolate-and-credentialless']]
    case 'report-only':
      return [[DIP_REPORT_ONLY, 'isolate-and-require-corp']]
    case 'off':
      return []
  }
}

/**
 * Who may frame the viewer. CSP frame-ancestors is authoritative where supported and overrides
 * X-Frame-Options (R-FRAME-2); XFO SAMEORIGIN is sent too when it says the same thing, for
 * browsers without frame-ancestors. It cannot express an allowlist, so it is left out then.
 */
function framingHeaders(embedders: readonly string[]): HeaderList {
  const ancestors = ["'self'", ...embedders].join(' ')
  const headers: Array<readonly [string, string]> = [[CSP, `frame-ancestors ${ancestors}`]]
  if (embedders.length === 0) headers.push([XFO, 'SAMEORIGIN'])
  return headers
}

/**
 * The headers of one reply: its class's on success; on a 4xx/5xx the error set (an error page may
 * be shown as a document, so it must keep isolation), keeping the class's own CORP so a fronted
 * source's errors stay readable cross-origin.
 */
export function headersFor(
  plan: HeaderPlan,
  responseClass: ResponseClass,
  status: number,
): HeaderList {
  if (status < 400 || responseClass === 'error') return plan.classes[responseClass]

  const classCorp = plan.classes[responseClass].find(([name]) => name === CORP)
  return plan.classes.error.map(([name, value]) =>
    name === CORP && classCorp ? ([name, classCorp[1]] as const) : ([name, value] as const),
  )
}

/** Every header name the plan may set, lower-cased: upstream copies of these are dropped. */
export const PLANNED_HEADER_NAMES: ReadonlySet<string> = new Set(
  [
    COOP,
    COEP,
    CORP,
    COOP_REPORT_ONLY,
    COEP_REPORT_ONLY,
    DIP,
    DIP_REPORT_ONLY,
    XFO,
    REPORTING_ENDPOINTS,
  ].map((n) => n.toLowerCase()),
)

/** What isolation buys per OHIF version; shown at start-up and by the doctor. */
export function isolationSummary(isolation: Isolation): string {
  switch (isolation) {
    case 'require-corp':
      return (
        'isolated (COOP same-origin + COEP require-corp): SharedArrayBuffer available — ' +
        'OHIF ≤3.8 volumes/MPR and OHIF 3.9+ multi-threaded wasm (AI tools, codecs) work'
      )
    case 'credentialless':
      // Safari has no COEP credentialless (R-COEP-4): it ignores the header, so the same
      // page is isolated in Chromium and Firefox and not in Safari.
      return (
        'isolated in Chromium and Firefox (COOP same-origin + COEP credentialless): ' +
        'SharedArrayBuffer available — OHIF ≤3.8 volumes/MPR and OHIF 3.9+ multi-threaded ' +
        'wasm work; Safari ignores credentialless and runs the viewer unisolated ' +
        '(use require-corp when Safari matters)'
      )
    case 'report-only':
      return (
        'not isolated (report-only): violations are reported, nothing is enforced — ' +
        'OHIF ≤3.8 loses MPR, OHIF 3.9+ runs its wasm single-threaded'
      )
    case 'off':
      return (
        'not isolated (isolation off): no SharedArrayBuffer — OHIF ≤3.8 loses volumes/MPR ' +
        '(stack viewports only), OHIF 3.9+ runs its wasm single-threaded'
      )
  }
}

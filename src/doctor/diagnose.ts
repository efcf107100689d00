/**
 * `isogate doctor`: probe a deployed viewer and say whether it will be cross-origin isolated
 * and reach its data sources, why not, and what to change on the server that answered.
 */
import { IsogateError } from '../errors.js'
import {
  at,
  bySeverity,
  evaluateFrameChain,
  finding,
  hasError,
  serviceWorkerShim,
  topLevelIsolation,
  type Browser,
  type CoepValue,
  type Finding,
  type FrameLevel,
  type FrameVerdict,
} from '../policy/rules/index.js'
import { originOf } from '../policy/site.js'
import {
  checkAssets,
  checkDeepLinks,
  checkErrorPage,
  misspelledHeaders,
  type AssetCheck,
} from './document.js'
import { createHttpClient, type HttpClient, type ProbeResult } from './http.js'
import { detectServer, fixFor, serverQuirks, type ServerFix, type ServerGuess } from './server.js'
import { inspectShim, label, throughWorker, type ShimFacts, type ShimInspection } from './shim.js'
import { probeSource, type SourceReport } from './sources.js'
import { readConfig, readViewer } from './viewer-probe.js'
import { isolationImpact, readIndexHtml, type IframeTag, type ViewerBuild } from './viewer.js'

export interface DoctorOptions {
  readonly url: string
  /** Pages the viewer is framed in, outermost first (`--embedded-in`). */
  readonly embeddedIn?: readonly string[]
  /** The user does not need isolation: its absence is a warning, not a failure. */
  readonly allowUnisolated?: boolean
  readonly browser?: Browser
  /** Accept self-signed certificates. */
  readonly insecure?: boolean
  readonly timeoutMs?: number
  /** Look through lazy chunks for the OHIF version when the app bundle lacks it. */
  readonly scanChunks?: boolean
}

/** The report, as `--json` prints it; docs/doctor-json.md describes it field by field. */
export interface DoctorReport {
  readonly schema: 'isogate-doctor/1'
  readonly url: string
  readonly finalUrl: string
  readonly redirects: ReadonlyArray<{ url: string; status: number; location: string }>
  readonly verdict: {
    readonly isolated: boolean
    /** What isolates it: its own headers, or a service-worker shim on the loads it controls. */
    readonly isolatedBy: 'headers' | 'service-worker' | null
    readonly sourcesReachable: boolean
    readonly allowUnisolated: boolean
    readonly exitCode: 0 | 1
  }
  readonly document: {
    readonly status: number
    readonly secureContext: boolean
    readonly coop: string
    readonly coep: string
    /** The response headers that decide isolation, as received (B06 asks for exactly these). */
    readonly headers: Readonly<Record<string, readonly string[]>>
  }
  readonly frames: ReadonlyArray<{ url: string; loads: boolean; coi: boolean; secure: boolean }>
  readonly viewer: {
    readonly ohif: boolean
    readonly version: string | null
    readonly impact: string | null
    readonly appConfigUrl: string | null
    readonly useSharedArrayBuffer: { value: unknown; type: string } | null
    readonly assets: readonly AssetCheck[]
    readonly deepLinks: readonly string[]
  }
  readonly server: ServerGuess & { readonly fix: ServerFix | null }
  readonly sources: readonly SourceReport[]
  /** The service-worker shim the page loads, when its own headers do not isolate it. */
  readonly serviceWorker: (ShimFacts & { readonly controlledIsolated: boolean }) | null
  readonly findings: readonly Finding[]
}

const SHOWN_HEADERS = [
  'cross-origin-opener-policy',
  'cross-origin-embedder-policy',
  'cross-origin-resource-policy',
  'cross-origin-opener-policy-report-only',
  'cross-origin-embedder-policy-report-only',
  'document-isolation-policy',
  'permissions-policy',
  'content-security-policy',
  'x-frame-options',
  'access-control-allow-origin',
  'server',
]

/** Codes that only say "not isolated"; `--allow-unisolated` turns them into warnings. */
const ISOLATION_ONLY = new Set([
  'INSECURE_CONTEXT',
  'COOP_MISSING',
  'COOP_INVALID',
  'COOP_NOT_SAME_ORIGIN',
  'COOP_REPORT_ONLY_ONLY',
  'COEP_MISSING',
  'COEP_INVALID',
  'COEP_UNSAFE_NONE',
  'COEP_REPORT_ONLY_ONLY',
  'COEP_CREDENTIALLESS_UNSUPPORTED',
  'PERMISSIONS_POLICY_COI_DENIED',
  'FRAME_ANCESTOR_NOT_ISOLATED',
  'DIP_UNSUPPORTED_BROWSER',
  'SAB_UNAVAILABLE',
  'DEEP_LINK_NOT_ISOLATED',
  'SW_NOT_CONTROLLING',
  'SW_UNAVAILABLE',
])

/** Runs the doctor. Throws IsogateError (ISOGATE_E_DOCTOR_*) only when it cannot run at all. */
export async function diagnose(options: DoctorOptions): Promise<DoctorReport> {
  for (const url of [options.url, ...(options.embeddedIn ?? [])]) checkUrl(url)
  const http = createHttpClient({
    insecure: options.insecure ?? false,
    timeoutMs: options.timeoutMs ?? 10_000,
  })
  try {
    return await run(http, options)
  } finally {
    await http.close()
  }
}

function checkUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new IsogateError('ISOGATE_E_DOCTOR_URL', `not a URL: ${url}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new IsogateError('ISOGATE_E_DOCTOR_URL', `not an http(s) URL: ${url}`)
  }
}

async function run(http: HttpClient, options: DoctorOptions): Promise<DoctorReport> {
  const browser = options.browser ?? 'chromium'
  const page = await http.probe(options.url, { maxBody: 2 << 20 })
  const url = page.finalUrl
  const findings: Finding[] = []
  if (page.redirects.length > 0) {
    findings.push(
      finding('REDIRECTED', {
        evidence: at(
          options.url,
          'Location',
          page.redirects.map((r) => `${r.status} ${r.location}`).join('\n'),
        ),
        message: `reached ${url} after ${page.redirects.length} redirect(s); judged there`,
        fix: 'none needed, unless the redirect leaves https or the viewer origin',
      }),
    )
  }
  const build = readIndexHtml(page.body, url)

  // Independent probes run together: the bundle (and its version scan), app-config, the
  // frame chain's parents, deep links and a deliberate 404.
  const top = topLevelIsolation({ url, headers: page.headers }, { browser })
  const parents = options.embeddedIn ?? []
  const [frames, viewer, appConfig, deep, errorPage, shim] = await Promise.all([
    frameChain(http, parents, page, build),
    readViewer(http, url, build, options.scanChunks ?? true),
    readConfig(http, url, build),
    parents.length > 0
      ? { findings: [], checked: [] }
      : checkDeepLinks(http, url, top.coi, browser),
    checkErrorPage(http, url, page),
    // A shim does nothing where the headers already isolate (its loader checks first).
    top.coi ? null : inspectShim(http, url, page.body),
  ])

  // Isolation of the document, at the top or at the bottom of its frame chain.
  const verdicts = evaluateFrameChain(frames, { browser })
  const target = verdicts[verdicts.length - 1]
  if (!target) throw new IsogateError('ISOGATE_E_DOCTOR_UNREACHABLE', 'no document to judge')
  let coep: CoepValue = frames.length > 1 ? target.coep : top.coep
  const byHeaders = target.loads && target.coi
  const judged =
    shim && !byHeaders && target.loads
      ? judgeShim(shim, { url, headers: page.headers, secure: target.secure, browser, frames })
      : null
  for (const [i, verdict] of verdicts.entries()) {
    const own = i === verdicts.length - 1
    findings.push(
      ...verdict.findings.map((f) =>
        !own
          ? { ...f, part: 'embedding' as const }
          : judged?.isolated && f.severity === 'error' && ISOLATION_ONLY.has(f.code)
            ? // True of the first load only; the shim's own finding tells that story.
              { ...f, severity: 'info' as const }
            : f,
      ),
    )
  }
  if (judged) findings.push(...judged.findings)
  const isolated = byHeaders || judged?.isolated === true
  // Controlled loads run under the worker's COEP, and see its headers on same-origin replies.
  if (judged?.isolated && judged.coep) coep = judged.coep
  const client = judged?.isolated && judged.coep ? throughWorker(http, url, judged.coep) : http
  findings.push(...misspelledHeaders(url, page.headers))

  // The viewer: OHIF, its version and what it loses without isolation.
  const impact = build.ohif ? isolationImpact(viewer.version ?? undefined) : null
  if (build.ohif) {
    findings.push(
      finding('VIEWER_DETECTED', {
        evidence: at(viewer.bundleUrl ?? url, null, viewer.version),
        message: `OHIF ${viewer.version ?? '(version not found)'}: ${impact?.text ?? ''}`,
        fix: 'none; open /debug in the viewer to see its own isolation check',
      }),
    )
  }
  if (!isolated) {
    findings.push(
      finding('SAB_UNAVAILABLE', {
        evidence: at(url),
        message:
          `not cross-origin isolated, so SharedArrayBuffer is hidden` +
          (impact ? `: ${impact.text}` : ''),
        fix: 'fix the isolation findings above (or pass --allow-unisolated if you do not need it)',
      }),
    )
  }
  findings.push(...appConfig.findings, ...deep.findings, ...errorPage.findings)

  // Workers and wasm named by the bundle, and the data sources probed as OHIF would.
  const pageFacts = { url, secure: target.secure, coep }
  const [assets, sources] = await Promise.all([
    checkAssets(client, pageFacts, viewer.workers, viewer.wasm, browser),
    Promise.all(appConfig.sources.map((source) => probeSource(client, pageFacts, source))),
  ])
  findings.push(...assets.findings)
  for (const source of sources) findings.push(...source.findings)

  // The server, and its fix when the headers need changing.
  const guess = detectServer(page.headers)
  const needsFix = findings.some((f) => f.severity === 'error' && f.part !== 'sources')
  const quirks = serverQuirks(guess, new Set(findings.map((f) => f.code)))
  const base = needsFix || quirks.length > 0 ? fixFor(guess) : null
  const fix = base ? { ...base, notes: [...quirks, ...base.notes] } : null
  findings.push(
    finding('SERVER_DETECTED', {
      evidence: at(url, 'Server', page.headers['server']?.join('\n') ?? null),
      message:
        guess.kind === 'unknown'
          ? `cannot tell the server (${guess.evidence})`
          : `served by ${guess.kind} (${guess.evidence})`,
      fix: fix
        ? fix.target
          ? `see the ${fix.target} fix below`
          : fix.notes.join(' ')
        : 'none needed',
    }),
  )

  const allow = options.allowUnisolated === true
  const final = bySeverity(
    findings.map((f) =>
      allow && f.severity === 'error' && ISOLATION_ONLY.has(f.code)
        ? { ...f, severity: 'warning' as const }
        : f,
    ),
  )
  const sourcesReachable =
    sources.every((s) => s.reachable) && !hasError(final.filter((f) => f.part === 'sources'))
  const ok = (isolated || allow) && sourcesReachable && !hasError(final)
  return {
    schema: 'isogate-doctor/1',
    url: options.url,
    finalUrl: url,
    redirects: page.redirects,
    verdict: {
      isolated,
      isolatedBy: byHeaders ? 'headers' : isolated ? 'service-worker' : null,
      sourcesReachable,
      allowUnisolated: allow,
      exitCode: ok ? 0 : 1,
    },
    document: {
      status: page.status,
      secureContext: target.secure,
      coop: top.coop,
      coep: top.coep,
      headers: Object.fromEntries(
        SHOWN_HEADERS.filter((n) => page.headers[n]).map((n) => [n, page.headers[n] ?? []]),
      ),
    },
    frames: verdicts.map((v) => ({ url: v.url, loads: v.loads, coi: v.coi, secure: v.secure })),
    viewer: {
      ohif: build.ohif,
      version: viewer.version,
      impact: impact?.text ?? null,
      appConfigUrl: appConfig.url,
      useSharedArrayBuffer: appConfig.sab,
      assets: assets.checked,
      deepLinks: deep.checked,
    },
    server: { ...guess, fix },
    sources,
    serviceWorker: judged ? { ...judged.facts, controlledIsolated: judged.isolated } : null,
    findings: final,
  }
}

/** The frame chain: each parent page with the `<iframe>` that holds the next level. */
async function frameChain(
  http: HttpClient,
  parents: readonly string[],
  page: ProbeResult,
  build: ViewerBuild,
): Promise<FrameLevel[]> {
  const levels: Array<{ url: string; probe: ProbeResult; build: ViewerBuild }> = []
  for (const parent of parents) {
    const probe = await http.probe(parent, { maxBody: 2 << 20 })
    levels.push({ url: probe.finalUrl, probe, build: readIndexHtml(probe.body, probe.finalUrl) })
  }
  levels.push({ url: page.finalUrl, probe: page, build })
  return levels.map((level, i) => {
    const holder = i === 0 ? undefined : pickIframe(levels[i - 1]?.build.iframes ?? [], level.url)
    return {
      url: level.url,
      headers: level.probe.headers,
      metaCsp: level.build.metaCsp,
      ...(holder ? { allow: holder.allow, credentialless: holder.credentialless } : {}),
    }
  })
}

/** The iframe whose src names this document (same URL, else same origin). */
function pickIframe(iframes: readonly IframeTag[], url: string): IframeTag | undefined {
  const strip = (u: string) => u.replace(/[?#].*$/, '')
  return (
    iframes.find((f) => strip(f.src) === strip(url)) ??
    iframes.find((f) => originOf(f.src) === originOf(url))
  )
}

interface ShimJudgement {
  readonly facts: ShimFacts
  readonly isolated: boolean
  /** The COEP of controlled loads; null when the shim cannot run. */
  readonly coep: 'require-corp' | 'credentialless' | null
  readonly findings: Finding[]
}

/**
 * A page isolated, if at all, by a service-worker shim: judged on the load the worker controls
 * (the page's headers as the worker rewrites them, R-SW-1..4), with the limits of every other
 * load said in a warning that is always there.
 */
function judgeShim(
  shim: ShimInspection,
  page: {
    url: string
    headers: FrameLevel['headers']
    secure: boolean
    browser: Browser
    frames: readonly FrameLevel[]
  },
): ShimJudgement {
  const { facts } = shim
  if (shim.blocker) {
    return { facts, isolated: false, coep: null, findings: [shim.blocker] }
  }
  const input = {
    url: page.url,
    secure: page.secure,
    available: true,
    mode: facts.mode,
    browser: page.browser,
  }
  const controlled = serviceWorkerShim({ ...input, controlled: true, headers: page.headers })
  let coi = controlled.coi
  let reasons: readonly Finding[] = controlled.findings
  if (controlled.served && page.frames.length > 1) {
    // Framed: the worker rewrites the viewer's own reply; the chain above it still decides.
    const chain = page.frames.map((level, i) =>
      i === page.frames.length - 1 ? { ...level, headers: controlled.served ?? {} } : level,
    )
    const last: FrameVerdict | undefined = evaluateFrameChain(chain, {
      browser: page.browser,
    }).at(-1)
    coi = last !== undefined && last.loads && last.coi
    reasons = [...controlled.findings, ...(last?.findings ?? [])]
  }
  const name = label(facts.kind)
  if (!coi) {
    return {
      facts,
      isolated: false,
      coep: controlled.coep,
      findings: reasons.map((f) =>
        f.severity === 'info'
          ? f
          : { ...f, message: `even through the ${name} shim: ${f.message}` },
      ),
    }
  }
  // The rule's verdict on an uncontrolled load is the limitation every shim site lives with.
  const uncontrolled = serviceWorkerShim({ ...input, controlled: false }).findings[0]
  const mode = controlled.coep ?? facts.mode
  const limits = [
    `isolated only on loads the ${name} shim controls (${new URL(facts.workerUrl).pathname}` +
      `, COEP ${mode}): the first visit and every forced reload (Shift+Reload) bypass it and ` +
      'run unisolated until its loader reloads the page',
    'it needs a secure context (https or localhost), and a browser window with service ' +
      'workers (not Firefox private windows before 138)',
    facts.mode === 'credentialless'
      ? 'credentialless is unknown to Safari, where the shim steps down to require-corp'
      : 'cross-origin no-cors loads (images, scripts without crossorigin) still need CORP',
  ]
  return {
    facts,
    isolated: true,
    coep: controlled.coep,
    findings: [
      finding('SW_NOT_CONTROLLING', {
        severity: 'warning',
        evidence: uncontrolled?.evidence ?? at(page.url),
        detail: 'FIRST_LOAD',
        message: limits.join('; '),
        fix:
          'to isolate every load, send COOP and COEP from the server (`isogate recipe ' +
          '--list` names the hosts it writes them for); keep the shim only where it cannot',
      }),
      ...reasons,
    ],
  }
}

/**
 * Service-worker shims on hosts that send no isolation headers: `isogate recipe
 * service-worker` (a loader plus isogate-sw.js) and the coi-serviceworker script (one file,
 * both loader and worker). Found by reading the page's HTML and fetching the scripts it names;
 * nothing is executed. What the browser then does with a controlled load is the rules' part
 * (serviceWorkerShim); this module says whether the worker can be registered and control the
 * page at all, and with which COEP.
 */
import { at, finding, shimmedHeaders, type Finding, type ShimMode } from '../policy/rules/index.js'
import { originOf, sameOrigin } from '../policy/site.js'
import { LOADER_FILE, LOADER_MARKER, SW_FILE } from '../recipes/service-worker/index.js'
import type { HttpClient, ProbeResult } from './http.js'
import { attr } from './viewer.js'

export type ShimKind = 'isogate' | 'coi-serviceworker'

export interface ScriptTag {
  /** Absolute URL, or undefined for an inline script. */
  readonly src: string | undefined
  /** The start tag as written. */
  readonly tag: string
  /** Inline text (empty for external scripts). */
  readonly text: string
}

/**
 * The page's `<script>` elements in document order. Comments are dropped first: a loader left
 * in `<!-- -->` never runs, so it must not count.
 */
export function readScripts(html: string, pageUrl: string): ScriptTag[] {
  const live = html.replace(/<!--[\s\S]*?-->/g, '')
  const out: ScriptTag[] = []
  for (const m of live.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    const tag = `<script${m[1] ?? ''}>`
    const src = attr(tag, 'src')
    let absolute: string | undefined
    try {
      absolute = src ? new URL(src, pageUrl).toString() : undefined
    } catch {
      absolute = undefined
    }
    out.push({ src: absolute, tag, text: src ? '' : (m[2] ?? '') })
  }
  return out
}

export interface ShimCandidate {
  readonly kind: ShimKind
  readonly scriptUrl: string
  /** Named like the shim's own file, so no marker is needed to recognise it. */
  readonly named: boolean
  /** The first script of the page, where the loader belongs. */
  readonly first: boolean
  /** `data-coep` on the tag (the Isogate loader reads it). */
  readonly coepAttr: string | undefined
}

const COI_NAME = /\/coi-serviceworker(?:\.min)?\.js$/i

/**
 * Scripts that may be a shim: named like one, or (for a renamed Isogate loader) the first
 * external script, which the caller confirms by its marker.
 */
export function shimCandidates(scripts: readonly ScriptTag[]): ShimCandidate[] {
  const out: ShimCandidate[] = []
  const firstExternal = scripts.find((s) => s.src !== undefined)?.src
  for (const script of scripts) {
    if (!script.src) continue
    const path = new URL(script.src).pathname
    const first = script === scripts[0]
    const coepAttr = attr(script.tag, 'data-coep')
    if (COI_NAME.test(path)) {
      out.push({ kind: 'coi-serviceworker', scriptUrl: script.src, named: true, first, coepAttr })
    } else if (path.endsWith(`/${LOADER_FILE}`) || script.src === firstExternal) {
      const named = path.endsWith(`/${LOADER_FILE}`)
      out.push({ kind: 'isogate', scriptUrl: script.src, named, first, coepAttr })
    }
  }
  return out
}

/** What the Isogate loader's text says: the worker file it registers and its default COEP. */
export function readLoader(text: string): {
  readonly isogate: boolean
  readonly workerFile: string
  readonly mode: ShimMode | undefined
} {
  const file = /new URL\('([^']+)', base\)/.exec(text)?.[1]
  const mode = /getAttribute\('data-coep'\)\)\s*\|\|\s*'(require-corp|credentialless)'/.exec(
    text,
  )?.[1] as ShimMode | undefined
  return { isogate: text.includes(LOADER_MARKER), workerFile: file ?? SW_FILE, mode }
}

/**
 * coi-serviceworker's COEP: credentialless unless a `window.coi` in an inline script turns
 * `coepCredentialless` off. Where credentialless fails (Safari) it degrades to require-corp
 * by itself, as the Isogate loader does.
 */
export function coiMode(scripts: readonly ScriptTag[]): ShimMode {
  const off = /coepCredentialless\s*:\s*(?:\(\s*\)\s*=>\s*)?(?:false|!1)\b/
  return scripts.some((s) => off.test(s.text)) ? 'require-corp' : 'credentialless'
}

/** JavaScript MIME type essences (WHATWG MIME Sniffing); anything else is refused. */
const JS_MIME = new Set([
  'application/ecmascript',
  'application/javascript',
  'application/x-ecmascript',
  'application/x-javascript',
  'text/ecmascript',
  'text/javascript',
  'text/javascript1.0',
  'text/javascript1.1',
  'text/javascript1.2',
  'text/javascript1.3',
  'text/javascript1.4',
  'text/javascript1.5',
  'text/jscript',
  'text/livescript',
  'text/x-ecmascript',
  'text/x-javascript',
])

/** The essence of a Content-Type (`text/javascript; charset=utf-8` → `text/javascript`). */
export function mimeEssence(contentType: string | null | undefined): string | null {
  if (!contentType) return null
  return contentType.split(';')[0]?.trim().toLowerCase() ?? null
}

/** True when the reply can run as a script: a JavaScript MIME type and no HTML body. */
export function isJavaScript(contentType: string | null | undefined, body: string): boolean {
  const essence = mimeEssence(contentType)
  // A static host's SPA fallback answers unknown paths with index.html; catch it even if the
  // host labels every reply as JavaScript.
  return essence !== null && JS_MIME.has(essence) && !/^\s*</.test(body)
}

/** The folder a worker registered without `scope` controls: its script's own folder. */
export function defaultScope(workerUrl: string): string {
  return new URL('./', workerUrl).toString()
}

/** True when the page lies under the worker's scope, so that the worker can control it. */
export function inScope(pageUrl: string, workerUrl: string): boolean {
  const scope = new URL(defaultScope(workerUrl))
  const page = new URL(pageUrl)
  return page.origin === scope.origin && page.pathname.startsWith(scope.pathname)
}

/** What the doctor found about the shim; docs/doctor-json.md, `serviceWorker`. */
export interface ShimFacts {
  readonly kind: ShimKind
  readonly loaderUrl: string
  readonly workerUrl: string
  readonly workerStatus: number | null
  readonly workerContentType: string | null
  /** The COEP the worker adds (before any browser-specific step-down). */
  readonly mode: ShimMode
  readonly scope: string
  readonly loaderFirst: boolean
  /** The sub-reason (`detail`) of the finding that stops the shim; null when it can work. */
  readonly problem: string | null
}

export interface ShimInspection {
  readonly facts: ShimFacts
  /** The finding that stops the shim, when one does. */
  readonly blocker: Finding | null
}

const PROBE = { maxBody: 256 << 10 }

/**
 * Looks for a shim in the page and checks that its worker can be registered and control the
 * page. Returns null when the page loads none.
 */
export async function inspectShim(
  http: HttpClient,
  pageUrl: string,
  html: string,
): Promise<ShimInspection | null> {
  const scripts = readScripts(html, pageUrl)
  for (const candidate of shimCandidates(scripts)) {
    if (candidate.kind === 'coi-serviceworker') {
      // One file, loader and worker at once: the worker checks cover both.
      return await inspectWorker(http, pageUrl, scripts, {
        kind: 'coi-serviceworker',
        loaderUrl: candidate.scriptUrl,
        workerUrl: candidate.scriptUrl,
        mode: coiMode(scripts),
        loaderFirst: candidate.first,
      })
    }
    const loader = await http.probe(candidate.scriptUrl, PROBE)
    const read = readLoader(loader.body)
    // An unnamed first script is the loader only if it says so.
    if (!candidate.named && !(loader.status < 300 && read.isogate)) continue
    const base = {
      kind: 'isogate' as const,
      loaderUrl: candidate.scriptUrl,
      workerUrl: new URL(read.workerFile, candidate.scriptUrl).toString(),
      mode: modeOf(candidate.coepAttr) ?? read.mode ?? 'require-corp',
      loaderFirst: candidate.first,
    }
    const loaderProblem = scriptProblem(loader, 'loader')
    if (loaderProblem) {
      const seen = {
        status: loader.status,
        contentType: loader.headers['content-type']?.[0] ?? null,
      }
      return blocked(pageUrl, { ...base, status: null, contentType: null }, loaderProblem, seen)
    }
    return await inspectWorker(http, pageUrl, scripts, base)
  }
  return null
}

function modeOf(value: string | undefined): ShimMode | undefined {
  return value === 'require-corp' || value === 'credentialless' ? value : undefined
}

interface WorkerJob {
  readonly kind: ShimKind
  readonly loaderUrl: string
  readonly workerUrl: string
  readonly mode: ShimMode
  readonly loaderFirst: boolean
}

interface Problem {
  readonly code: 'SW_UNAVAILABLE' | 'SW_NOT_CONTROLLING'
  readonly detail: string
  readonly message: string
  readonly fix: string
}

async function inspectWorker(
  http: HttpClient,
  pageUrl: string,
  scripts: readonly ScriptTag[],
  job: WorkerJob,
): Promise<ShimInspection> {
  const name = new URL(job.workerUrl).pathname
  if (!sameOrigin(job.workerUrl, pageUrl)) {
    return blocked(
      pageUrl,
      { ...job, status: null, contentType: null },
      {
        code: 'SW_UNAVAILABLE',
        detail: 'SCRIPT_CROSS_ORIGIN',
        message:
          `the service worker ${job.workerUrl} is on another origin than the page ` +
          `(${originOf(pageUrl)}); browsers register only same-origin workers, so the shim ` +
          'never runs and no load is isolated',
        fix: 'serve the shim from the viewer’s own origin, next to index.html (not from a CDN)',
      },
    )
  }
  // Registration fetches the script itself and refuses redirects, so this probe does too.
  const probe = await http.probe(job.workerUrl, {
    ...PROBE,
    follow: false,
    headers: { 'service-worker': 'script' },
  })
  const contentType = probe.headers['content-type']?.[0] ?? null
  const found = { ...job, status: probe.status, contentType }
  const problem =
    scriptProblem(probe, 'worker') ??
    (inScope(pageUrl, job.workerUrl)
      ? null
      : {
          code: 'SW_NOT_CONTROLLING' as const,
          detail: 'OUT_OF_SCOPE',
          message:
            `${name} controls only pages under ${defaultScope(job.workerUrl)}, and this page ` +
            'is not one of them: the worker registers but never controls it, so no load is ' +
            'isolated',
          fix: `put ${name.split('/').pop()} in the folder of index.html or above it`,
        }) ??
    (await unregisteredByPage(http, pageUrl, scripts))
  if (problem) return blocked(pageUrl, found, problem)
  return { facts: facts(found, null), blocker: null }
}

/** A reply that cannot be the shim's script: missing, redirected, or not JavaScript. */
function scriptProblem(probe: ProbeResult, role: 'loader' | 'worker'): Problem | null {
  const path = new URL(probe.url).pathname
  const what = role === 'loader' ? 'the shim’s loader' : 'the service worker script'
  const consequence =
    role === 'loader'
      ? 'the loader never runs, so no worker is registered and no load is isolated'
      : 'registration fails, so the worker never controls a load and none is isolated'
  const prefix = role === 'loader' ? 'LOADER' : 'SCRIPT'
  const deploy = 'deploy the files `isogate recipe service-worker` writes, next to index.html'
  if (probe.status >= 300 && probe.status < 400) {
    return {
      code: 'SW_UNAVAILABLE',
      detail: `${prefix}_REDIRECT`,
      message:
        `${what} ${path} answers ${probe.status} (a redirect); browsers refuse a ` +
        `redirected service worker script, so ${consequence}`,
      fix: `serve ${path} directly, with status 200`,
    }
  }
  if (probe.status < 200 || probe.status >= 300) {
    return {
      code: 'SW_UNAVAILABLE',
      detail: `${prefix}_MISSING`,
      message: `${what} ${path} answers ${probe.status}: ${consequence}`,
      fix: deploy,
    }
  }
  const contentType = probe.headers['content-type']?.[0] ?? null
  if (!isJavaScript(contentType, probe.body)) {
    const html = /^\s*</.test(probe.body)
    return {
      code: 'SW_UNAVAILABLE',
      detail: `${prefix}_NOT_JAVASCRIPT`,
      message:
        `${what} ${path} is served as ${contentType ?? 'no Content-Type'}` +
        (html ? ' with an HTML body (the host’s fallback page?)' : '') +
        `, not as JavaScript: ${consequence}`,
      fix: html ? deploy : `serve ${path} as text/javascript`,
    }
  }
  return null
}

/**
 * OHIF's init-service-worker.js starts by unregistering every service worker of the site, the
 * shim's included, before the loader's reload can happen (seen in Chromium with OHIF 3.13.2's
 * file): the shim then never controls a load.
 */
async function unregisteredByPage(
  http: HttpClient,
  pageUrl: string,
  scripts: readonly ScriptTag[],
): Promise<Problem | null> {
  for (const script of scripts) {
    if (!script.src || !sameOrigin(script.src, pageUrl)) continue
    if (!/\/init-service-worker\.js$/.test(new URL(script.src).pathname)) continue
    const probe = await http.probe(script.src, PROBE)
    if (probe.status >= 300 || !/\.unregister\s*\(/.test(probe.body)) continue
    const path = new URL(script.src).pathname
    return {
      code: 'SW_NOT_CONTROLLING',
      detail: 'UNREGISTERED_BY_PAGE',
      message:
        `${path} (OHIF's) unregisters every service worker of the site, the shim's included, ` +
        'so the worker never controls a load and none is isolated',
      fix: `empty ${path} or remove its <script> tag (docs/service-worker.md, step 3)`,
    }
  }
  return null
}

function facts(
  job: WorkerJob & { status: number | null; contentType: string | null },
  problem: string | null,
): ShimFacts {
  return {
    kind: job.kind,
    loaderUrl: job.loaderUrl,
    workerUrl: job.workerUrl,
    workerStatus: job.status,
    workerContentType: job.contentType,
    mode: job.mode,
    scope: defaultScope(job.workerUrl),
    loaderFirst: job.loaderFirst,
    problem,
  }
}

function blocked(
  pageUrl: string,
  job: WorkerJob & { status: number | null; contentType: string | null },
  problem: Problem,
  seen: { status: number | null; contentType: string | null } = job,
): ShimInspection {
  const evidenceUrl = problem.detail.startsWith('LOADER') ? job.loaderUrl : job.workerUrl
  // The evidence is what the browser would choke on: the status, the Content-Type, the page.
  const evidence = problem.detail.endsWith('_NOT_JAVASCRIPT')
    ? at(evidenceUrl, 'Content-Type', seen.contentType)
    : problem.detail.endsWith('_MISSING') || problem.detail.endsWith('_REDIRECT')
      ? at(evidenceUrl, null, seen.status === null ? null : String(seen.status))
      : at(problem.detail === 'UNREGISTERED_BY_PAGE' ? pageUrl : evidenceUrl)
  return {
    facts: facts(job, problem.detail),
    blocker: finding(problem.code, {
      evidence,
      detail: problem.detail,
      message: `the page loads the ${label(job.kind)} shim, but ${problem.message}`,
      fix: problem.fix,
    }),
  }
}

/** How findings name a shim. */
export function label(kind: ShimKind): string {
  return kind === 'isogate' ? 'Isogate service-worker' : 'coi-serviceworker'
}

/**
 * A client that sees same-origin replies as a page controlled by the worker does: with COOP
 * and COEP added. Both shims handle every same-origin request (workers and wasm included);
 * other origins are fetched by the browser itself (Isogate's worker) or keep their CORS and
 * CORP checks (coi-serviceworker), so they are left as they are.
 */
export function throughWorker(http: HttpClient, pageUrl: string, mode: ShimMode): HttpClient {
  return {
    probe: async (url, options) => {
      const result = await http.probe(url, options)
      if (!sameOrigin(url, pageUrl) || options?.method === 'OPTIONS') return result
      return { ...result, headers: shimmedHeaders(result.headers, mode) }
    },
    close: () => http.close(),
  }
}

/**
 * One subresource of a document (browser-rules §5, R-SUB-5): which request mode its initiator
 * uses decides whether CORP (no-cors) or CORS applies; workers must be same-origin and bring
 * their own COEP; streaming wasm needs its MIME type; mixed content comes first.
 */
import { originOf, sameOrigin } from '../site.js'
import { isTrustworthyUrl, type TrustOptions } from './context.js'
import { corpCheck } from './corp.js'
import type { CorsResponse } from './cors.js'
import { predictCorsFetch } from './fetch.js'
import { at, finding, type Browser, type Finding } from './findings.js'
import { combined, shown } from './headers.js'
import { coepCompatible, parseCoep, type CoepValue } from './isolation.js'

/** Initiators, by the request mode they use. */
export type SubresourceKind =
  | 'img'
  | 'img-crossorigin'
  | 'script'
  | 'script-module'
  | 'stylesheet'
  | 'font'
  | 'fetch'
  | 'fetch-no-cors'
  | 'worker'
  | 'worker-module'
  | 'import-scripts'
  | 'wasm-streaming'
  | 'object'
  | 'video'

const NO_CORS: readonly SubresourceKind[] = [
  'img',
  'script',
  'stylesheet',
  'fetch-no-cors',
  'import-scripts',
  'object',
  'video',
]
const UPGRADEABLE: readonly SubresourceKind[] = ['img', 'video']

/** The request mode an initiator uses (R-SUB-5). */
export function requestMode(kind: SubresourceKind): 'no-cors' | 'cors' | 'same-origin' {
  if (NO_CORS.includes(kind)) return 'no-cors'
  if (kind === 'worker' || kind === 'worker-module') return 'same-origin'
  return 'cors'
}

export interface SubresourceInput {
  readonly page: { readonly url: string; readonly secure: boolean; readonly coep: CoepValue }
  readonly kind: SubresourceKind
  readonly url: string
  readonly response: CorsResponse
  /** The preflight's answer, when the request needed one. */
  readonly preflight?: CorsResponse
  /** Redirect chain, request URL first. */
  readonly hops?: readonly string[]
  /** The redirect responses themselves, in order (a CORS request checks each one). */
  readonly redirectResponses?: readonly CorsResponse[]
  /** Request method (fetch only); GET by default. */
  readonly method?: string
  /** Request headers set by script (fetch only). */
  readonly requestHeaders?: ReadonlyArray<readonly [string, string]>
  readonly credentialed?: boolean
  /** For `import-scripts`: the worker's own COEP, which governs its fetches (R-SUB-6). */
  readonly workerCoep?: CoepValue
  readonly browser?: Browser
}

export interface SubresourceResult {
  readonly loads: boolean
  readonly findings: readonly Finding[]
}

/** Predicts whether a subresource loads, and why not. */
export function predictSubresource(
  input: SubresourceInput,
  options: TrustOptions = {},
): SubresourceResult {
  const { page, kind, url } = input
  if (/^(data|blob):/i.test(url)) return { loads: true, findings: [] }
  const browser = input.browser ?? 'chromium'
  const https = originOf(page.url).startsWith('https:')
  if (page.secure && https && !isTrustworthyUrl(url, options)) {
    if (UPGRADEABLE.includes(kind)) {
      const note = finding('MIXED_CONTENT_UPGRADED', {
        evidence: at(url),
        message: 'the browser rewrites this http image/video to https; it breaks if https fails',
        fix: 'use an https URL',
      })
      return { loads: true, findings: [note] }
    }
    return {
      loads: false,
      findings: [
        finding('MIXED_CONTENT', {
          evidence: at(url),
          message: `the https page may not load plain-http ${originOf(url)}`,
          fix: 'serve it over https, or proxy it under the viewer origin',
        }),
      ],
    }
  }
  const mode = requestMode(kind)
  const same =
    sameOrigin(url, page.url) && (input.hops ?? [url]).every((h) => sameOrigin(h, page.url))
  const statusOk = input.response.status < 400

  if (mode === 'same-origin') {
    if (!sameOrigin(url, page.url)) {
      return {
        loads: false,
        findings: [
          finding('WORKER_CROSS_ORIGIN_SCRIPT', {
            evidence: at(url),
            message: 'a worker script must come from the page origin',
            fix: 'serve the worker from the viewer origin, or start it from a blob: URL',
          }),
        ],
      }
    }
    const workerCoep = parseCoep(input.response.headers, browser)
    if (coepCompatible(page.coep) && !coepCompatible(workerCoep.value)) {
      return {
        loads: false,
        findings: [
          finding('WORKER_COEP_MISSING', {
            evidence: at(url, 'Cross-Origin-Embedder-Policy', workerCoep.raw),
            message:
              `the page sends COEP ${page.coep}, ` +
              'so its worker script needs a compatible COEP too',
            fix: 'send `Cross-Origin-Embedder-Policy: require-corp` on every JS response',
          }),
        ],
      }
    }
    return { loads: statusOk, findings: [] }
  }

  if (mode === 'cors') {
    const result = predictCorsFetch(
      page.url,
      page.secure,
      {
        url,
        method: input.method ?? 'GET',
        headers: input.requestHeaders ?? [],
        credentialed: input.credentialed ?? false,
      },
      {
        response: input.response,
        ...(input.preflight ? { preflight: input.preflight } : {}),
        ...(input.hops ? { hops: input.hops } : {}),
        ...(input.redirectResponses ? { redirectResponses: input.redirectResponses } : {}),
      },
      options,
    )
    const findings = [...result.findings]
    let loads = result.ok && (kind === 'fetch' || statusOk)
    if (loads && kind === 'wasm-streaming') {
      const type = (combined(input.response.headers, 'Content-Type') ?? '').split(';')[0]?.trim()
      if (type?.toLowerCase() !== 'application/wasm') {
        loads = false
        findings.unshift(
          finding('WASM_MIME_INVALID', {
            evidence: at(url, 'Content-Type', shown(input.response.headers, 'Content-Type')),
            message: 'streaming wasm compilation needs Content-Type: application/wasm',
            fix: 'serve .wasm files as application/wasm',
          }),
        )
      }
    }
    return { loads, findings }
  }

  // no-cors: same-origin loads freely; cross-origin goes through the CORP check.
  const findings: Finding[] = []
  if (kind === 'object' && coepCompatible(page.coep)) {
    findings.push(
      finding('PDF_EMBED_COEP_RISK', {
        evidence: at(url),
        message: "under COEP, Chromium's built-in PDF viewer frame may be blocked",
        fix: 'render PDFs with PDF.js into a canvas, or open them in a new tab',
      }),
    )
  }
  if (same) return { loads: statusOk, findings }
  const coep = kind === 'import-scripts' ? (input.workerCoep ?? page.coep) : page.coep
  const corp = corpCheck({
    requester: page.url,
    url: (input.hops ?? [url]).at(-1) ?? url,
    headers: input.response.headers,
    coep,
    credentialed: input.credentialed ?? false,
  })
  return { loads: corp.allowed && statusOk, findings: [...corp.findings, ...findings] }
}

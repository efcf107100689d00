/**
 * The coi-serviceworker shim (browser-rules §10): a same-origin service worker that adds COOP
 * and COEP to responses. It isolates only loads it controls, only in a secure context.
 */
import { at, finding, type Browser, type Finding } from './findings.js'
import type { HeaderLines } from './headers.js'
import { topLevelIsolation } from './isolation.js'

export type ShimMode = 'credentialless' | 'require-corp'

export interface ShimInput {
  readonly url: string
  readonly secure: boolean
  /** The load went through the service worker (not the first visit, not a forced reload). */
  readonly controlled: boolean
  /** `navigator.serviceWorker` exists (not a Firefox < 138 private window). */
  readonly available: boolean
  readonly mode: ShimMode
  readonly browser?: Browser
  /**
   * The document's headers as the server sends them. When given, a controlled load is judged
   * on the headers the worker serves instead of assumed isolated: whatever the worker copies
   * unchanged (a Permissions-Policy that denies isolation, say) still counts.
   */
  readonly headers?: HeaderLines
}

export interface ShimResult {
  readonly coi: boolean
  /** The COEP the controlled load runs under (after the Safari step-down); null when none. */
  readonly coep: ShimMode | null
  /** The document headers the browser sees through the worker, when `headers` was given. */
  readonly served: HeaderLines | null
  readonly findings: readonly Finding[]
}

/**
 * The document's headers after the worker rewrote them: COOP `same-origin` and the mode's COEP
 * replace whatever lines the server sent (both shims use `Headers.set`), the rest is kept.
 */
export function shimmedHeaders(headers: HeaderLines, mode: ShimMode): HeaderLines {
  return {
    ...headers,
    'cross-origin-opener-policy': ['same-origin'],
    'cross-origin-embedder-policy': [mode],
  }
}

/** R-SW-1..4: will a load under the shim be isolated? */
export function serviceWorkerShim(input: ShimInput): ShimResult {
  const evidence = at(input.url)
  const none = { coi: false, coep: null, served: null } as const
  if (!input.secure) {
    return {
      ...none,
      findings: [
        finding('INSECURE_CONTEXT', {
          evidence,
          message: 'service workers only register in a secure context, so the shim never runs',
          fix: 'serve over https or localhost',
        }),
      ],
    }
  }
  if (!input.available) {
    return {
      ...none,
      findings: [
        finding('SW_UNAVAILABLE', {
          evidence,
          message: 'this browser window has no service workers, so the shim cannot isolate it',
          fix: 'send COOP and COEP from the server instead of the shim',
        }),
      ],
    }
  }
  if (!input.controlled) {
    return {
      ...none,
      findings: [
        finding('SW_NOT_CONTROLLING', {
          evidence,
          message: 'this load bypassed the service worker (first visit or forced reload)',
          fix: 'send COOP and COEP from the server; the shim only isolates controlled loads',
        }),
      ],
    }
  }
  const findings: Finding[] = []
  let mode = input.mode
  if (mode === 'credentialless' && input.browser === 'safari') {
    // The shim notices, switches to require-corp and reloads once (R-SW-3).
    mode = 'require-corp'
    findings.push(
      finding('COEP_CREDENTIALLESS_UNSUPPORTED', {
        severity: 'info',
        evidence,
        message: 'Safari lacks credentialless; the shim falls back to require-corp and reloads',
        fix: 'send COEP require-corp from the server',
        browsers: ['safari'],
      }),
    )
  }
  if (!input.headers) return { coi: true, coep: mode, served: null, findings }
  const served = shimmedHeaders(input.headers, mode)
  const options = input.browser ? { browser: input.browser } : {}
  const top = topLevelIsolation({ url: input.url, headers: served }, options)
  return { coi: top.coi, coep: mode, served, findings: [...findings, ...top.findings] }
}

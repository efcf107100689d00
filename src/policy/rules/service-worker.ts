/**
 * The coi-serviceworker shim (browser-rules §10): a same-origin service worker that adds COOP
 * and COEP to responses. It isolates only loads it controls, only in a secure context.
 */
import { at, finding, type Browser, type Finding } from './findings.js'

export interface ShimInput {
  readonly url: string
  readonly secure: boolean
  /** The load went through the service worker (not the first visit, not a forced reload). */
  readonly controlled: boolean
  /** `navigator.serviceWorker` exists (not a Firefox < 138 private window). */
  readonly available: boolean
  readonly mode: 'credentialless' | 'require-corp'
  readonly browser?: Browser
}

export interface ShimResult {
  readonly coi: boolean
  readonly findings: readonly Finding[]
}

/** R-SW-1..4: will a load under the shim be isolated? */
export function serviceWorkerShim(input: ShimInput): ShimResult {
  const evidence = at(input.url)
  if (!input.secure) {
    return {
      coi: false,
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
      coi: false,
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
      coi: false,
      findings: [
        finding('SW_NOT_CONTROLLING', {
          evidence,
          message: 'this load bypassed the service worker (first visit or forced reload)',
          fix: 'send COOP and COEP from the server; the shim only isolates controlled loads',
        }),
      ],
    }
  }
  if (input.mode === 'credentialless' && input.browser === 'safari') {
    // The shim notices, switches to require-corp and reloads once (R-SW-3).
    return {
      coi: true,
      findings: [
        finding('COEP_CREDENTIALLESS_UNSUPPORTED', {
          severity: 'info',
          evidence,
          message: 'Safari lacks credentialless; the shim falls back to require-corp and reloads',
          fix: 'send COEP require-corp from the server',
          browsers: ['safari'],
        }),
      ],
    }
  }
  return { coi: true, findings: [] }
}

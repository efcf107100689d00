/**
 * The whole life of one CORS-mode request as the browser sees it (browser-rules §7, §8):
 * mixed content first, then same-origin short cut, preflight, redirects, the CORS check on the
 * final response. This is how OHIF's QIDO and WADO-RS requests are judged.
 */
import { originOf, sameOrigin } from '../site.js'
import { isTrustworthyUrl, type TrustOptions } from './context.js'
import {
  authorizationByWildcard,
  corsCheck,
  preflightCheck,
  preflightNote,
  predictPreflight,
  type CorsRequest,
  type CorsResponse,
} from './cors.js'
import { at, finding, type Finding } from './findings.js'

export interface FetchObservation {
  /** The preflight's answer, when one was sent. */
  readonly preflight?: CorsResponse
  /** URLs of the redirect chain, request URL first; absent when there was none. */
  readonly hops?: readonly string[]
  /** The redirect responses, in order: a CORS request runs the CORS check on each one. */
  readonly redirectResponses?: readonly CorsResponse[]
  /** The final response. */
  readonly response: CorsResponse
}

export interface FetchPrediction {
  /** Script gets the response (whatever its status). */
  readonly ok: boolean
  readonly preflight: boolean
  /** Errors first; PREFLIGHT_REQUIRED and warnings after. */
  readonly findings: readonly Finding[]
}

/** R-MIX-1: is a blockable request from a page mixed content? */
export function mixedContent(
  pageUrl: string,
  pageSecure: boolean,
  requestUrl: string,
  options: TrustOptions = {},
): Finding | null {
  // Chromium restricts mixed content on https pages only: a loopback http page is a secure
  // context but may still load plain http (MixedContentChecker checks the page's scheme).
  if (!pageSecure || !originOf(pageUrl).startsWith('https:')) return null
  if (isTrustworthyUrl(requestUrl, options)) return null
  return finding('MIXED_CONTENT', {
    evidence: at(requestUrl),
    message:
      `the secure page ${originOf(pageUrl)} may not fetch ` + `plain-http ${originOf(requestUrl)}`,
    fix: 'serve the source over https, or proxy it under the viewer origin (isogate proxy)',
  })
}

/**
 * Predicts one CORS-mode fetch/XHR from `pageUrl` (a secure context or not). The observation is
 * what the server answered to the requests the browser would send.
 */
export function predictCorsFetch(
  pageUrl: string,
  pageSecure: boolean,
  request: CorsRequest,
  observed: FetchObservation,
  options: TrustOptions = {},
): FetchPrediction {
  const mixed = mixedContent(pageUrl, pageSecure, request.url, options)
  if (mixed) return { ok: false, preflight: false, findings: [mixed] }
  const requester = originOf(pageUrl)
  const hops = observed.hops ?? [request.url]
  const last = hops[hops.length - 1] ?? request.url
  for (const hop of hops.slice(1)) {
    const credentialsInUrl = /^[a-z]+:\/\/[^/]*@/i.test(hop)
    if (credentialsInUrl && !sameOrigin(hop, pageUrl)) {
      return {
        ok: false,
        preflight: false,
        findings: [
          finding('CORS_REDIRECT_CREDENTIALS_IN_URL', {
            evidence: at(hop, 'Location', hop),
            message: 'a redirect to a URL with user:password@ is refused for CORS requests',
            fix: 'redirect to a URL without credentials (use a signed query string)',
          }),
        ],
      }
    }
  }
  // A same-origin request (with same-origin redirects) needs no CORS at all (R-CORS-14).
  if (hops.every((hop) => sameOrigin(hop, pageUrl))) {
    return { ok: true, preflight: false, findings: [] }
  }
  const findings: Finding[] = []
  const prediction = predictPreflight(request)
  const crossOrigin = !sameOrigin(request.url, pageUrl)
  const preflight = crossOrigin && prediction.needed
  if (preflight) {
    const answer = observed.preflight
    if (answer) {
      const failed = preflightCheck(request, prediction, answer, requester, options.browser)
      if (failed) return { ok: false, preflight, findings: [failed] }
      const wildcard = authorizationByWildcard(prediction, answer)
      if (wildcard) findings.push(wildcard)
    }
    findings.push(preflightNote(request, prediction))
  }
  // Each cross-origin redirect response must pass the CORS check too (Fetch, HTTP-redirect
  // fetch), with the origin the request carried at that hop.
  let hopOrigin = requester
  for (const [i, redirect] of (observed.redirectResponses ?? []).entries()) {
    const hopUrl = hops[i] ?? redirect.url
    if (!sameOrigin(hopUrl, pageUrl)) {
      const failed = corsCheck(redirect, hopOrigin, request.credentialed === true)
      if (failed) return { ok: false, preflight, findings: [failed, ...findings] }
    }
    const next = hops[i + 1]
    if (next && originOf(next) !== originOf(hopUrl) && originOf(hopUrl) !== requester) {
      hopOrigin = 'null'
    }
  }
  const origin = (() => {
    // Tainted origin (R-CORS-11): the request's Origin becomes null mid-chain.
    let o = requester
    for (let i = 1; i < hops.length; i++) {
      const from = originOf(hops[i - 1] ?? '')
      const to = originOf(hops[i] ?? '')
      if (from !== to && from !== requester) o = 'null'
    }
    return o
  })()
  const failed = corsCheck(observed.response, origin, request.credentialed === true)
  if (failed) {
    if (origin === 'null' && failed.code !== 'CORS_ACAO_MISSING') {
      return {
        ok: false,
        preflight,
        findings: [
          finding('CORS_REDIRECT_ORIGIN_NULL', {
            evidence: failed.evidence,
            message:
              `after the redirect to ${originOf(last)} the request's Origin is null, so ` +
              'only `Access-Control-Allow-Origin: *` (or null) lets it through',
            fix: 'send ACAO * on the redirect target, or do not redirect across origins',
          }),
        ],
      }
    }
    return { ok: false, preflight, findings: [failed, ...findings] }
  }
  return { ok: true, preflight, findings }
}

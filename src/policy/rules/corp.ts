/**
 * Cross-Origin-Resource-Policy (browser-rules §5, §6): the check Fetch runs on cross-origin
 * `no-cors` responses and on nested navigations, under the embedder's COEP.
 */
import { corpSameSite, originOf, sameOrigin } from '../site.js'
import { at, finding, type Finding } from './findings.js'
import { combined, shown, type HeaderLines } from './headers.js'
import type { CoepValue } from './isolation.js'

export type CorpValue = 'same-origin' | 'same-site' | 'cross-origin'

const CORP_H = 'Cross-Origin-Resource-Policy'

/** R-CORP-1: exactly one of three values, case-sensitive; anything else (two lines too) is null. */
export function parseCorp(headers: HeaderLines): { value: CorpValue | null; present: boolean } {
  const value = combined(headers, CORP_H)
  if (value === null) return { value: null, present: false }
  const ok = value === 'same-origin' || value === 'same-site' || value === 'cross-origin'
  return { value: ok ? (value as CorpValue) : null, present: true }
}

export interface CorpRequest {
  /** The requesting document's URL or origin. */
  readonly requester: string
  /** The response's URL (after redirects). */
  readonly url: string
  readonly headers: HeaderLines
  /** The requester's enforced COEP. */
  readonly coep: CoepValue
  /** A nested navigation (iframe) rather than a subresource. */
  readonly forNavigation?: boolean
  /** The request carried credentials (matters under credentialless, R-SUB-3). */
  readonly credentialed?: boolean
}

export interface CorpResult {
  readonly allowed: boolean
  readonly findings: readonly Finding[]
}

/** Fetch's "cross-origin resource policy internal check" for one embedder policy value. */
function internalCheck(request: CorpRequest, coep: CoepValue): CorpValue | 'allowed' {
  if (request.forNavigation && coep === 'unsafe-none') return 'allowed'
  let policy = parseCorp(request.headers).value
  if (policy === null) {
    if (coep === 'require-corp') policy = 'same-origin'
    else if (coep === 'credentialless' && (request.forNavigation || request.credentialed)) {
      policy = 'same-origin'
    }
  }
  if (policy === null || policy === 'cross-origin') return 'allowed'
  if (policy === 'same-origin')
    return sameOrigin(request.requester, request.url) ? 'allowed' : policy
  const requesterHttps = originOf(request.requester).startsWith('https:')
  const responseHttps = originOf(request.url).startsWith('https:')
  const ok = corpSameSite(request.requester, request.url) && (requesterHttps || !responseHttps)
  return ok ? 'allowed' : policy
}

/**
 * Fetch's "cross-origin resource policy check" (R-CORP-1..6, R-SUB-2/3). The caller has already
 * decided the request is `no-cors` and cross-origin (or a nested navigation).
 */
export function corpCheck(request: CorpRequest): CorpResult {
  const corp = parseCorp(request.headers)
  const evidence = at(request.url, CORP_H, shown(request.headers, CORP_H))
  const nav = request.forNavigation === true
  const code = nav ? 'IFRAME_CORP_MISSING' : 'CORP_MISSING'
  const corpFix = nav
    ? 'send `Cross-Origin-Resource-Policy: cross-origin` (or same-site) on the framed document'
    : 'send `Cross-Origin-Resource-Policy: cross-origin` (or same-site) on this response, or ' +
      'load it in CORS mode (crossorigin attribute) with Access-Control-Allow-Origin'

  // A valid same-origin/same-site CORP blocks mismatching loads whatever the COEP (R-CORP-5).
  const always = internalCheck(request, 'unsafe-none')
  if (always !== 'allowed') {
    return {
      allowed: false,
      findings: [
        finding(nav ? 'IFRAME_CORP_MISSING' : 'CORP_BLOCKED', {
          part: nav ? 'embedding' : 'sources',
          evidence,
          message: `CORP ${always} forbids ${originOf(request.requester)} to load this response`,
          fix: corpFix,
        }),
      ],
    }
  }
  const underCoep = internalCheck(request, request.coep)
  if (underCoep === 'allowed') {
    const findings: Finding[] = []
    if (request.coep === 'credentialless' && !nav && corp.value === null) {
      findings.push(
        finding('CREDENTIALLESS_NO_COOKIES', {
          evidence,
          message: 'loads under COEP credentialless, but without cookies or HTTP auth',
          fix: 'send CORP cross-origin if the resource needs credentials',
        }),
      )
    }
    return { allowed: true, findings }
  }
  return {
    allowed: false,
    findings: [
      finding(corp.present && corp.value === null && !nav ? 'CORP_INVALID' : code, {
        evidence,
        message:
          corp.present && corp.value === null
            ? `CORP ${JSON.stringify(evidence.value)} is invalid, so COEP ${request.coep} treats ` +
              'it as same-origin and blocks this cross-origin load'
            : `no valid CORP, so COEP ${request.coep} of ${originOf(request.requester)} blocks ` +
              'this cross-origin ' +
              (nav ? 'frame' : 'no-cors load'),
        fix: corpFix,
      }),
    ],
  }
}

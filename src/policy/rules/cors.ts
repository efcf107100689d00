/**
 * CORS as a browser applies it to `fetch`/XHR (browser-rules §7): when a preflight is sent, what
 * makes it pass, the CORS check on the response, exposed headers, redirects and caching.
 * DICOMweb clients live here: every QIDO and WADO-RS request of OHIF is CORS mode.
 */
import { originOf } from '../site.js'
import { at, finding, type Browser, type Finding } from './findings.js'
import { combined, linesOf, shown, type HeaderLines } from './headers.js'

export interface CorsRequest {
  readonly url: string
  readonly method: string
  /** Headers the script sets (not the ones the browser adds). */
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** `withCredentials` / `credentials: 'include'`. */
  readonly credentialed?: boolean
  /** An XHR with a listener on `xhr.upload`, or a fetch with a stream body (R-CORS-1). */
  readonly forcePreflight?: boolean
}

const SAFE_METHODS = ['GET', 'HEAD', 'POST']
// CORS-unsafe request-header bytes: controls but HTAB, and a few delimiters (R-CORS-2).
// eslint-disable-next-line no-control-regex
const UNSAFE_BYTE = /[\x00-\x08\x0a-\x1f"():<>?@[\\\]{}\x7f]/

function safelistedContentType(value: string): boolean {
  if (UNSAFE_BYTE.test(value)) return false
  const essence = value.split(';')[0]?.trim().toLowerCase()
  return (
    essence === 'application/x-www-form-urlencoded' ||
    essence === 'multipart/form-data' ||
    essence === 'text/plain'
  )
}

/** R-CORS-2: is one header a CORS-safelisted request-header? */
export function isSafelistedHeader(name: string, value: string): boolean {
  if (Buffer.byteLength(value) > 128) return false
  switch (name.toLowerCase()) {
    case 'accept':
      return !UNSAFE_BYTE.test(value)
    case 'accept-language':
    case 'content-language':
      return /^[0-9A-Za-z *,\-.;=]*$/.test(value)
    case 'content-type':
      return safelistedContentType(value)
    case 'range':
      return /^bytes=\d+-\d*$/.test(value)
    default:
      return false
  }
}

export interface PreflightPrediction {
  readonly needed: boolean
  /** Lower-cased, sorted names that go into Access-Control-Request-Headers. */
  readonly unsafeHeaders: readonly string[]
  readonly unsafeMethod: boolean
}

/** R-CORS-1..3: will the browser send a preflight for this request? */
export function predictPreflight(request: CorsRequest): PreflightPrediction {
  const method = request.method.toUpperCase()
  const unsafeMethod = !SAFE_METHODS.includes(method)
  const safelisted = request.headers.filter(([n, v]) => isSafelistedHeader(n, v))
  const total = safelisted.reduce((sum, [, v]) => sum + Buffer.byteLength(v), 0)
  const unsafe = new Set(
    request.headers
      .filter(([n, v]) => total > 1024 || !isSafelistedHeader(n, v))
      .map(([n]) => n.toLowerCase()),
  )
  const unsafeHeaders = [...unsafe].sort()
  return {
    needed: unsafeMethod || unsafeHeaders.length > 0 || request.forcePreflight === true,
    unsafeHeaders,
    unsafeMethod,
  }
}

const ACAO = 'Access-Control-Allow-Origin'

export interface CorsResponse {
  readonly url: string
  readonly status: number
  readonly headers: HeaderLines
}

/** R-CORS-7: the CORS check on a response for a request from `origin` ('null' when tainted). */
export function corsCheck(
  response: CorsResponse,
  origin: string,
  credentialed: boolean,
): Finding | null {
  const lines = linesOf(response.headers, ACAO)
  const evidence = at(response.url, ACAO, shown(response.headers, ACAO))
  const allowFix = `send \`${ACAO}: ${origin}\` (or \`*\` without credentials) on every response`
  if (lines.length === 0) {
    const onError = response.status >= 400
    return finding(onError ? 'CORS_ACAO_MISSING_ON_ERROR' : 'CORS_ACAO_MISSING', {
      severity: 'error',
      evidence,
      message: onError
        ? `the ${response.status} reply has no ${ACAO}, so the viewer sees a network error ` +
          'instead of the real status'
        : `no ${ACAO}, so ${origin} may not read this response`,
      fix: onError ? `${allowFix}, errors included (nginx: add_header ... always)` : allowFix,
    })
  }
  const value = combined(response.headers, ACAO) ?? ''
  if (lines.length > 1 || value.includes(',')) {
    return finding('CORS_ACAO_MULTIPLE', {
      evidence,
      message: `${ACAO} is sent more than once (or lists several origins); it can never match`,
      fix: 'send one value; when two layers add it (proxy and upstream), drop one copy',
    })
  }
  if (value === '*' && !credentialed) return null
  if (value === '*') {
    return finding('CORS_WILDCARD_WITH_CREDENTIALS', {
      evidence,
      message: `${ACAO}: * is refused for a request with credentials`,
      fix: `echo the exact origin (${origin}) with Access-Control-Allow-Credentials: true`,
    })
  }
  if (value !== origin) {
    return finding('CORS_ORIGIN_MISMATCH', {
      evidence,
      message: `${ACAO} is ${JSON.stringify(value)}, which is not byte-for-byte ${origin}`,
      fix: `send exactly ${origin} (scheme, host, port; no trailing slash, no path)`,
    })
  }
  if (!credentialed) return null
  if (combined(response.headers, 'Access-Control-Allow-Credentials') !== 'true') {
    return finding('CORS_CREDENTIALS_NOT_ALLOWED', {
      evidence: at(
        response.url,
        'Access-Control-Allow-Credentials',
        shown(response.headers, 'Access-Control-Allow-Credentials'),
      ),
      message: 'a credentialed request needs Access-Control-Allow-Credentials: true',
      fix: 'send Access-Control-Allow-Credentials: true with the exact origin',
    })
  }
  return null
}

function listOf(headers: HeaderLines, name: string): string[] | null {
  const value = combined(headers, name)
  if (value === null) return []
  const items = value.split(',').map((v) => v.trim())
  // A list with an empty member or a token with spaces does not parse (R-CORS-6 step 5).
  if (items.some((v) => v === '' || /\s/.test(v))) return value.trim() === '' ? [] : null
  return items
}

/** R-CORS-6: does the preflight response let the actual request through? */
export function preflightCheck(
  request: CorsRequest,
  prediction: PreflightPrediction,
  response: CorsResponse,
  origin: string,
  browser: Browser = 'chromium',
): Finding | null {
  const acah = 'Access-Control-Allow-Headers'
  const acam = 'Access-Control-Allow-Methods'
  if (response.status >= 300 && response.status < 400) {
    return finding('PREFLIGHT_REDIRECT', {
      evidence: at(response.url, 'Location', shown(response.headers, 'Location')),
      message:
        `the preflight was answered ${response.status}; ` +
        'browsers never follow a preflight redirect',
      fix: 'answer OPTIONS with 204 at this URL, without authentication or redirects',
    })
  }
  if (response.status < 200 || response.status > 299) {
    return finding('PREFLIGHT_STATUS_NOT_OK', {
      evidence: at(response.url, null, String(response.status)),
      message: `the preflight was answered ${response.status}, not 2xx`,
      fix: 'answer OPTIONS with 204 before any authentication check',
    })
  }
  const credentialed = request.credentialed === true
  const cors = corsCheck(response, origin, credentialed)
  if (cors) return cors
  const methods = listOf(response.headers, acam)
  const headers = listOf(response.headers, acah)
  if (methods === null || headers === null) {
    const name = methods === null ? acam : acah
    return finding('PREFLIGHT_HEADERS_MISSING', {
      evidence: at(response.url, name, shown(response.headers, name)),
      message: `${name} does not parse as a comma-separated list`,
      fix: `send ${name} as a plain comma-separated list`,
    })
  }
  const method = request.method.toUpperCase()
  if (
    prediction.unsafeMethod &&
    !methods.includes(request.method) &&
    !(methods.includes('*') && !credentialed)
  ) {
    return finding('PREFLIGHT_METHOD_NOT_ALLOWED', {
      evidence: at(response.url, acam, shown(response.headers, acam)),
      message: `${method} is not in ${acam}`,
      fix: `add ${method} to ${acam}`,
    })
  }
  const allowed = headers.map((h) => h.toLowerCase())
  const star = allowed.includes('*') && !credentialed
  for (const name of prediction.unsafeHeaders) {
    if (allowed.includes(name)) continue
    if (name === 'authorization' && star) {
      // Chromium 156 still lets `*` cover Authorization (measured by the scenario suite);
      // predictCorsFetch warns instead. The Fetch standard and Firefox refuse it.
      if (browser === 'chromium') continue
      return finding('PREFLIGHT_AUTHORIZATION_NOT_WILDCARDABLE', {
        evidence: at(response.url, acah, shown(response.headers, acah)),
        message: `${acah}: * never covers Authorization; it must be named`,
        fix: `list authorization explicitly in ${acah}`,
      })
    }
    if (star) continue
    return finding('PREFLIGHT_HEADERS_MISSING', {
      evidence: at(response.url, acah, shown(response.headers, acah)),
      message: `the preflight does not allow the request header ${name}`,
      fix: `list ${prediction.unsafeHeaders.join(', ')} in ${acah}`,
    })
  }
  return null
}

/**
 * Authorization allowed only through `Access-Control-Allow-Headers: *`: Chromium lets it pass
 * today, the Fetch standard (and Firefox) do not, so it is a warning where it works.
 */
export function authorizationByWildcard(
  prediction: PreflightPrediction,
  response: CorsResponse,
): Finding | null {
  const acah = 'Access-Control-Allow-Headers'
  const allowed = (combined(response.headers, acah) ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
  if (!prediction.unsafeHeaders.includes('authorization') || allowed.includes('authorization')) {
    return null
  }
  if (!allowed.includes('*')) return null
  return finding('PREFLIGHT_AUTHORIZATION_NOT_WILDCARDABLE', {
    severity: 'warning',
    evidence: at(response.url, acah, shown(response.headers, acah)),
    message: `${acah}: * covers Authorization in Chromium only; the standard and Firefox refuse it`,
    fix: `list authorization explicitly in ${acah}`,
  })
}

/** The PREFLIGHT_REQUIRED note: informational, names what triggers it. */
export function preflightNote(request: CorsRequest, prediction: PreflightPrediction): Finding {
  const why = [
    ...(prediction.unsafeMethod ? [`method ${request.method}`] : []),
    ...prediction.unsafeHeaders.map((h) => `header ${h}`),
    ...(request.forcePreflight ? ['an upload listener or stream body'] : []),
  ]
  const accept = request.headers.find(([n]) => n.toLowerCase() === 'accept')?.[1] ?? ''
  const quoted = accept.includes('"')
  return finding('PREFLIGHT_REQUIRED', {
    evidence: at(request.url, quoted ? 'Accept' : null, quoted ? accept : null),
    message: `the browser sends a preflight first (${why.join(', ')})`,
    fix: quoted
      ? 'set omitQuotationForMultipartRequest: true in the OHIF data source to drop the ' +
        'quotes (no preflight unless other headers need one), or answer the preflight'
      : 'answer OPTIONS with 204 and the allowed methods and headers',
  })
}

/** The CORS-safelisted response header names (R-CORS-9). */
const SAFELISTED_RESPONSE = [
  'cache-control',
  'content-language',
  'content-length',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
]

/** R-CORS-9: can script read this response header? */
export function headerExposed(
  response: CorsResponse,
  name: string,
  credentialed: boolean,
): boolean {
  const lower = name.toLowerCase()
  if (SAFELISTED_RESPONSE.includes(lower)) return true
  const exposed = (combined(response.headers, 'Access-Control-Expose-Headers') ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
  if (exposed.includes(lower)) return true
  return exposed.includes('*') && !credentialed && lower !== 'set-cookie'
}

/** CORS_HEADER_NOT_EXPOSED for the named headers script wants to read, or null. */
export function exposureFinding(
  response: CorsResponse,
  names: readonly string[],
  credentialed: boolean,
): Finding | null {
  const hidden = names.filter((name) => !headerExposed(response, name, credentialed))
  if (hidden.length === 0) return null
  const aceh = 'Access-Control-Expose-Headers'
  return finding('CORS_HEADER_NOT_EXPOSED', {
    evidence: at(response.url, aceh, shown(response.headers, aceh)),
    message: `script reads ${hidden.join(', ')} as null: not exposed to other origins`,
    fix: `list ${hidden.join(', ').toLowerCase()} in ${aceh}`,
  })
}

/** R-CORS-12: an ACAO that follows the request's Origin needs `Vary: Origin`. */
export function varyFinding(response: CorsResponse, reflected: boolean): Finding | null {
  if (!reflected) return null
  const vary = (combined(response.headers, 'Vary') ?? '').toLowerCase()
  if (vary.includes('origin') || vary.trim() === '*') return null
  return finding('VARY_ORIGIN_MISSING', {
    evidence: at(response.url, 'Vary', shown(response.headers, 'Vary')),
    message:
      'ACAO echoes the request Origin but Vary lacks Origin: a cache may serve one ' +
      "origin's answer to another",
    fix: 'add `Vary: Origin` to every response of this resource',
  })
}

/**
 * R-CORS-11: the origin a CORS request carries after following `hops` (URLs in order, the
 * request URL first, the final URL last): `null` once it passed through an origin that is
 * cross-origin with both the requester and the next hop.
 */
export function originAfterRedirects(requester: string, hops: readonly string[]): string {
  const origin = originOf(requester)
  for (let i = 1; i < hops.length; i++) {
    const from = originOf(hops[i - 1] ?? '')
    const to = originOf(hops[i] ?? '')
    if (from !== to && from !== origin) return 'null'
  }
  return origin
}

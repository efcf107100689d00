/**
 * CORS answers for a DICOMweb source fronted for viewers on other origins. Pure. The allowlist
 * holds exact origins: an Origin is echoed only when it is listed (never blind reflection, never
 * `null`), `Vary: Origin` is on every reply because the answer depends on it (R-CORS-12), and
 * credentials are allowed only when asked for, never together with `*` (R-CORS-7).
 */
import type { HeaderList } from './plan.js'

export interface CorsPolicy {
  /** Exact serialized origins, or the single entry `*` for any origin without credentials. */
  readonly allowOrigins: readonly string[]
  readonly credentials: boolean
  /** Methods beyond GET/HEAD, for sources that accept STOW or deletes. */
  readonly writeMethods: readonly string[]
  readonly maxAgeSeconds: number
}

/** Request headers DICOMweb clients send that are not safelisted (R-CORS-4): named, not `*`. */
export const CORS_ALLOWED_REQUEST_HEADERS: readonly string[] = [
  'accept',
  'accept-language',
  'authorization',
  'cache-control',
  'content-type',
  'if-modified-since',
  'if-none-match',
  'range',
  'x-requested-with',
]

/** Response headers a viewer may need to read (R-CORS-9). */
export const CORS_EXPOSED_HEADERS: readonly string[] = [
  'content-length',
  'content-location',
  'content-range',
  'content-type',
  'etag',
  'link',
  'location',
  'warning',
  'x-total-count',
]

export type CorsVerdict =
  | { readonly allowed: true; readonly headers: HeaderList }
  | { readonly allowed: false; readonly headers: HeaderList; readonly reason: string }

/** Serializes an origin the way a browser sends it, or returns null when it is not one. */
export function normalizeOrigin(value: string): string | null {
  if (value === 'null' || value.trim() !== value) return null
  try {
    const url = new URL(value)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    if (url.origin !== value) return null
    return url.origin
  } catch {
    return null
  }
}

function allowOriginValue(policy: CorsPolicy, origin: string | undefined): string | null {
  if (origin === undefined) return null
  if (policy.allowOrigins.includes('*') && !policy.credentials) return '*'
  const normalized = normalizeOrigin(origin)
  if (normalized === null) return null
  return policy.allowOrigins.includes(normalized) ? normalized : null
}

/** Headers for an ordinary (non-preflight) reply to a request carrying `origin`. */
export function corsForResponse(policy: CorsPolicy, origin: string | undefined): CorsVerdict {
  const vary: HeaderList = [['Vary', 'Origin']]
  const allow = allowOriginValue(policy, origin)
  if (allow === null) {
    return {
      allowed: origin === undefined,
      headers: vary,
      reason: origin === undefined ? 'no Origin' : `origin ${origin} is not in the allowlist`,
    } as CorsVerdict
  }
  const headers: Array<readonly [string, string]> = [
    ['Access-Control-Allow-Origin', allow],
    ['Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS.join(', ')],
    ...vary,
  ]
  if (policy.credentials) headers.push(['Access-Control-Allow-Credentials', 'true'])
  return { allowed: true, headers }
}

/** The answer to an OPTIONS preflight. A refused preflight gets no Access-Control-* at all. */
export function corsForPreflight(
  policy: CorsPolicy,
  origin: string | undefined,
  requestMethod: string | undefined,
  requestHeaders: string | undefined,
): CorsVerdict {
  const vary: HeaderList = [
    ['Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'],
  ]
  const allow = allowOriginValue(policy, origin)
  if (allow === null) {
    return { allowed: false, headers: vary, reason: `origin ${origin ?? '(none)'} not allowed` }
  }

  const methods = ['GET', 'HEAD', 'OPTIONS', ...policy.writeMethods]
  if (requestMethod !== undefined && !methods.includes(requestMethod)) {
    return { allowed: false, headers: vary, reason: `method ${requestMethod} not allowed` }
  }

  const asked = (requestHeaders ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.length > 0)
  const refused = asked.filter((name) => !CORS_ALLOWED_REQUEST_HEADERS.includes(name))
  if (refused.length > 0) {
    return { allowed: false, headers: vary, reason: `header(s) ${refused.join(', ')} not allowed` }
  }

  const headers: Array<readonly [string, string]> = [
    ['Access-Control-Allow-Origin', allow],
    ['Access-Control-Allow-Methods', methods.join(', ')],
    ['Access-Control-Allow-Headers', CORS_ALLOWED_REQUEST_HEADERS.join(', ')],
    ['Access-Control-Max-Age', String(policy.maxAgeSeconds)],
    ...vary,
  ]
  if (policy.credentials) headers.push(['Access-Control-Allow-Credentials', 'true'])
  return { allowed: true, headers }
}

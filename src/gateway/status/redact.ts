/**
 * Keeping secrets and patient data off the status page. Upstream roots, report URLs and error
 * messages are shown to help an operator, but a URL may carry `user:password@`, a signed query
 * (`?X-Amz-Signature=…`, `?token=…`) or a QIDO query naming a patient. Pure.
 */

/** Object keys whose string values are never shown, whatever they hold. */
const SECRET_KEY = /authorization|password|passwd|secret|token|api[-_]?key|cookie|private[-_]?key/i

const MAX_TEXT = 2048

/**
 * A URL without its userinfo, query and fragment; `?…` marks a query that was removed. Text
 * that is not an absolute URL (`inline`, `eval`, a relative path) comes back unchanged.
 */
export function redactUrl(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return clip(stripUserinfo(value))
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'ws:') {
    // data: and blob: URLs can be huge and say nothing useful beyond their scheme.
    return url.protocol === 'data:' || url.protocol === 'blob:' ? `${url.protocol}…` : clip(value)
  }
  const hadQuery = url.search !== ''
  url.username = ''
  url.password = ''
  url.search = ''
  url.hash = ''
  return clip(`${url.href}${hadQuery ? '?…' : ''}`)
}

/** Removes `user:password@` from any URL written inside free text (error messages). */
export function stripUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1')
}

/** Shortens text to a size a status page can show. */
export function clip(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/**
 * A deep copy of source details fit for the status page: secret-named keys blanked, URLs
 * redacted, long strings clipped, depth and array length bounded.
 */
export function redactDetails(value: unknown, depth = 0): unknown {
  if (depth > 6) return '…'
  if (typeof value === 'string')
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? redactUrl(value) : clip(stripUserinfo(value))
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value
  }
  if (Array.isArray(value)) return value.slice(0, 500).map((v) => redactDetails(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_KEY.test(key) && typeof inner === 'string') out[key] = '[redacted]'
    else out[key] = redactDetails(inner, depth + 1)
  }
  return out
}

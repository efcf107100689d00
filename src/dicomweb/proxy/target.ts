/**
 * Where a proxied request may go: the part of the request target below the source's mount,
 * appended to the configured upstream root, and nothing else. Pure. The request target is
 * checked as the client sent it (still percent-encoded), so that no decoding step here or in
 * the upstream can turn an innocent-looking path into one that leaves the root.
 */
import { IsogateError } from '../../errors.js'

/** A request target resolved against the mount: the path below it and the raw query. */
export interface ProxyTarget {
  /** The path below the mount, percent-encoding kept as sent: `''` or `/studies/…`. */
  readonly rest: string
  /** The query string without `?`, as sent; `''` when absent. */
  readonly query: string
}

/** Characters allowed literally in a path (RFC 3986 pchar and `/`), `%` handled apart. */
const PATH_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/

/**
 * Splits a raw request target (`request.raw.url`) into the path below `mountPath` and the query,
 * refusing anything that could reach beyond the upstream root: absolute-form or asterisk-form
 * targets, `.`/`..` segments (raw or percent-encoded, any case, double-encoded), encoded
 * slashes and backslashes, raw backslashes, empty segments (`//host` tricks), control bytes.
 * Throws ISOGATE_E_PROXY_FORBIDDEN_TARGET.
 */
export function resolveTarget(rawTarget: string, mountPath: string): ProxyTarget {
  const refuse = (why: string): never => {
    throw new IsogateError('ISOGATE_E_PROXY_FORBIDDEN_TARGET', `request target refused: ${why}`, {
      details: { reason: why },
    })
  }
  // Origin-form only: `GET http://evil/ HTTP/1.1` reaches us as a target without a leading `/`.
  if (!rawTarget.startsWith('/')) refuse('not an origin-form target')

  const at = rawTarget.indexOf('?')
  const path = at < 0 ? rawTarget : rawTarget.slice(0, at)
  const query = at < 0 ? '' : rawTarget.slice(at + 1)

  if (!path.startsWith(mountPath)) refuse('outside this source')
  const rest = path.slice(mountPath.length)
  if (rest !== '' && !rest.startsWith('/')) refuse('outside this source')

  if (!PATH_CHAR.test(rest)) refuse('characters not allowed in a path')
  for (const match of rest.matchAll(/%(..)?/g)) {
    const hex = match[1]
    if (hex === undefined || !/^[0-9A-Fa-f]{2}$/.test(hex)) refuse('malformed percent-encoding')
    const code = Number.parseInt(hex as string, 16)
    // `/`, `\`, `.` and `%` have no business being encoded in a DICOMweb path: an encoded one
    // is either a traversal attempt or double encoding that a later decoder would undo.
    if (code === 0x2f || code === 0x5c || code === 0x2e || code === 0x25) {
      refuse('encoded slash, backslash, dot or percent')
    }
    if (code < 0x20 || code === 0x7f) refuse('encoded control character')
  }

  const segments = rest.split('/').slice(1)
  segments.forEach((segment, index) => {
    // `..;x` is `..` to servlet containers (dcm4chee runs on one), which drop `;` parameters.
    const bare = segment.split(';')[0]
    if (bare === '.' || bare === '..') refuse('dot segment')
    if (segment === '' && index < segments.length - 1) refuse('empty path segment')
  })

  if ([...query].some((c) => c <= ' ' || c === '\u007f' || c === '#')) {
    refuse('characters not allowed in a query')
  }
  return { rest, query }
}

/**
 * The upstream URL for a resolved target: the root's path, then `rest` verbatim. Built by string
 * concatenation, never by URL resolution (which would apply `..`), then checked once more.
 */
export function upstreamUrl(root: URL, target: ProxyTarget): string {
  const base = rootPath(root)
  const url = `${root.origin}${base}${target.rest}${target.query === '' ? '' : `?${target.query}`}`
  const parsed = new URL(url)
  if (parsed.origin !== root.origin || !parsed.pathname.startsWith(base)) {
    throw new IsogateError('ISOGATE_E_PROXY_FORBIDDEN_TARGET', 'request target leaves the root')
  }
  return url
}

/** The root's path without a trailing slash (`''` for an origin root). */
export function rootPath(root: URL): string {
  return root.pathname.replace(/\/+$/, '')
}

/** What kind of DICOMweb resource a path below the mount names; decides class and handling. */
export type ResourceKind = 'qido-studies' | 'qido' | 'metadata' | 'rendered' | 'other'

/** Classifies a path below the mount (`/studies/1.2/series/3.4/rendered` → `rendered`). */
export function resourceKind(rest: string): ResourceKind {
  const segments = rest.split('/').filter((s) => s !== '')
  const last = segments[segments.length - 1]
  if (last === 'rendered' || last === 'thumbnail') return 'rendered'
  if (last === 'metadata') return 'metadata'
  if (segments.length === 1 && last === 'studies') return 'qido-studies'
  // /studies/x/series, /series, /studies/x/series/y/instances, /instances
  if (last === 'studies' || last === 'series' || last === 'instances') return 'qido'
  return 'other'
}

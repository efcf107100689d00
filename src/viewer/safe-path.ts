/**
 * Turning a request path into a file path below the viewer root, or refusing it. Pure. The raw
 * path is checked before decoding (encoded slashes, backslashes and NUL have no business in a
 * viewer URL) and each segment after it, so no spelling of `..` can leave the root.
 */

export type ViewerPath =
  | { readonly kind: 'file'; readonly relPath: string }
  /** A dot-file or dot-folder (the build's marker, editor leftovers): never served. */
  | { readonly kind: 'hidden' }
  | { readonly kind: 'forbidden'; readonly reason: string }

const RAW_FORBIDDEN: ReadonlyArray<readonly [RegExp, string]> = [
  [/%2f/i, 'encoded slash'],
  [/%5c|\\/i, 'backslash'],
  [/%00|\0/, 'NUL byte'],
]

/**
 * Maps the path part of a request URL (no query) below `basePath` to a relative file path.
 * An empty result (`''`) means the base itself, i.e. index.html.
 */
export function viewerPathOf(rawPath: string, basePath: string): ViewerPath {
  if (!rawPath.startsWith(basePath)) return { kind: 'forbidden', reason: 'outside the base path' }
  const rest = rawPath.slice(basePath.length)
  for (const [pattern, reason] of RAW_FORBIDDEN) {
    if (pattern.test(rest)) return { kind: 'forbidden', reason }
  }

  const segments: string[] = []
  const parts = rest.split('/')
  for (let i = 0; i < parts.length; i++) {
    const raw = parts[i] as string
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return { kind: 'forbidden', reason: 'malformed percent-encoding' }
    }
    if (segment === '' && i < parts.length - 1) {
      return { kind: 'forbidden', reason: 'empty path segment' }
    }
    if (segment === '.' || segment === '..') return { kind: 'forbidden', reason: 'dot segment' }
    // Decoding cannot yield these after the raw checks above; kept as a second line of defence.
    if (/[/\\\0]/.test(segment)) return { kind: 'forbidden', reason: 'separator in a segment' }
    if (segment.startsWith('.')) return { kind: 'hidden' }
    segments.push(segment)
  }
  return { kind: 'file', relPath: segments.join('/') }
}

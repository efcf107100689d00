/**
 * The `cross-origin-isolated` policy-controlled feature (browser-rules R-COI-3, R-COI-6): a
 * document in an isolated group sees `crossOriginIsolated === true` only when the feature is
 * allowed for it. Default allowlist `'self'`; a cross-origin iframe needs it delegated with
 * `allow="cross-origin-isolated"`; a header can only narrow. Only Chromium implements the
 * `Permissions-Policy` header and this gating; other browsers are predicted as allowing.
 */
import { parsePermissionsPolicy, type AllowlistMember } from '../sf.js'
import { originOf, sameOrigin } from '../site.js'
import type { Browser } from './findings.js'
import { linesOf, type HeaderLines } from './headers.js'

export const COI_FEATURE = 'cross-origin-isolated'

/** The header's allowlist for the feature, `undefined` when it does not declare it. */
function headerAllowlist(
  headers: HeaderLines,
  feature: string,
): readonly AllowlistMember[] | undefined {
  const policy = parsePermissionsPolicy(linesOf(headers, 'Permissions-Policy'))
  return policy?.get(feature)
}

function matches(list: readonly AllowlistMember[], origin: string, selfOrigin: string): boolean {
  return list.some(
    (m) =>
      m.kind === 'star' ||
      (m.kind === 'self' && origin === selfOrigin) ||
      (m.kind === 'origin' && m.origin === origin),
  )
}

/** Is the feature allowed for a top-level document by its own header? */
export function permissionsPolicyAllowsSelf(
  doc: { url: string; headers: HeaderLines },
  browser: Browser,
): boolean {
  if (browser !== 'chromium') return true
  const list = headerAllowlist(doc.headers, COI_FEATURE)
  if (list === undefined) return true
  const origin = originOf(doc.url)
  return matches(list, origin, origin)
}

/** What the `allow` attribute says about one feature. */
export type AllowAttr =
  | { readonly declared: false }
  | {
      readonly declared: true
      readonly star: boolean
      readonly self: boolean
      readonly src: boolean
      readonly origins: readonly string[]
    }

/**
 * Parses an iframe `allow` attribute for one feature: `feature [allowlist]; ...`. A bare name
 * means `'src'`; `'none'` an empty list.
 */
export function parseAllowAttr(allow: string | undefined, feature: string): AllowAttr {
  if (!allow) return { declared: false }
  for (const directive of allow.split(';')) {
    const [name, ...tokens] = directive.trim().split(/\s+/)
    if (name?.toLowerCase() !== feature) continue
    if (tokens.length === 0)
      return { declared: true, star: false, self: false, src: true, origins: [] }
    const origins: string[] = []
    let star = false
    let self = false
    let src = false
    for (const token of tokens) {
      if (token === '*') star = true
      else if (token === "'self'") self = true
      else if (token === "'src'") src = true
      else if (token !== "'none'") {
        const origin = originOf(token)
        if (origin !== 'null') origins.push(origin)
      }
    }
    return { declared: true, star, self, src, origins }
  }
  return { declared: false }
}

export interface FrameForPolicy {
  readonly url: string
  readonly headers: HeaderLines
  /** The `allow` attribute of the iframe that holds this document (not for the top). */
  readonly allow?: string | undefined
  /** The iframe's `src` (defaults to `url`; differs after redirects). */
  readonly src?: string | undefined
}

/**
 * Is the feature enabled for the innermost document of a chain (outer → inner)? Each level
 * inherits from its container (R-COI-6) and then applies its own header.
 */
export function featureAllowedInChain(
  chain: readonly FrameForPolicy[],
  browser: Browser,
  feature: string = COI_FEATURE,
): boolean {
  if (browser !== 'chromium') return true
  let parent: FrameForPolicy | undefined
  for (const doc of chain) {
    const origin = originOf(doc.url)
    if (parent) {
      const parentOrigin = originOf(parent.url)
      // The parent's own header narrows what it may delegate.
      const parentList = headerAllowlist(parent.headers, feature)
      if (parentList !== undefined && !matches(parentList, origin, parentOrigin)) return false
      const attr = parseAllowAttr(doc.allow, feature)
      if (attr.declared) {
        const srcOrigin = originOf(doc.src ?? doc.url)
        const ok =
          attr.star ||
          (attr.self && origin === parentOrigin) ||
          (attr.src && origin === srcOrigin) ||
          attr.origins.includes(origin)
        if (!ok) return false
      } else if (!sameOrigin(doc.url, parent.url)) {
        return false
      }
    }
    const ownList = headerAllowlist(doc.headers, feature)
    if (ownList !== undefined && !matches(ownList, origin, origin)) return false
    parent = doc
  }
  return true
}

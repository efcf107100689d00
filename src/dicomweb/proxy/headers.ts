/**
 * Which headers cross the proxy, each way. Pure. Requests carry an allowlist (what a DICOMweb
 * client needs: Accept, Range, Authorization, conditionals), never the viewer origin's cookies;
 * replies lose connection-specific fields and anything whose meaning is ours to decide (isolation,
 * CORS, cookies for the viewer's origin).
 */
import type { IncomingHttpHeaders } from 'node:http'

import { PLANNED_HEADER_NAMES } from '../../policy/plan.js'

/**
 * Connection-specific fields (RFC 9110 §7.6.1: Connection, Proxy-Connection, Keep-Alive, TE,
 * Transfer-Encoding, Upgrade), plus Trailer and the Proxy-Auth pair, which HTTP/1.1 (RFC 2616
 * §13.5.1) listed as hop-by-hop too. A proxy must not forward them.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
])

/** Request headers forwarded upstream; everything else stays with the client. */
export const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-language',
  'authorization',
  'cache-control',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'pragma',
  'range',
  'user-agent',
])

/** Extra request headers forwarded only when the method carries a body (STOW, updates). */
const BODY_HEADERS: ReadonlySet<string> = new Set(['content-type', 'content-length'])

/** Lower-cased names listed in Connection headers: hop-by-hop for this one message. */
export function connectionNamed(value: string | string[] | undefined): Set<string> {
  const list = Array.isArray(value) ? value.join(',') : (value ?? '')
  return new Set(
    list
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name !== ''),
  )
}

export interface ForwardOptions {
  /** The public origin the browser used (scheme://host:port), for X-Forwarded-Host/-Proto. */
  readonly publicOrigin: string
  /** The client's address, appended to X-Forwarded-For. */
  readonly clientAddress: string | undefined
  /** Whether the request carries a body to stream upstream. */
  readonly withBody: boolean
  /**
   * Ask for the whole representation: DICOM JSON bodies are rewritten, which changes their
   * length, so byte ranges of them cannot be translated.
   */
  readonly dropRange: boolean
}

/**
 * The headers sent upstream for a client request. Host is left to the HTTP client (the
 * upstream's own), so that the upstream builds its absolute URLs from its own root, which the
 * rewriter then recognises. X-Forwarded-Host/-Proto say what the public origin is, for upstreams
 * that honour them; `Forwarded` is not sent, because Debian's Orthanc DICOMweb plugin (1.7) takes
 * its quoted `host="name:port"` literally, quotes included, and builds broken URLs from it.
 */
export function forwardRequestHeaders(
  incoming: IncomingHttpHeaders,
  options: ForwardOptions,
): Record<string, string> {
  const named = connectionNamed(incoming.connection)
  const out: Record<string, string> = {}
  for (const [rawName, value] of Object.entries(incoming)) {
    const name = rawName.toLowerCase()
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue
    const allowed =
      FORWARDED_REQUEST_HEADERS.has(name) || (options.withBody && BODY_HEADERS.has(name))
    if (!allowed) continue
    if (name === 'range' && options.dropRange) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  // Upstream compression would only cost CPU on a near link, and bodies that are rewritten
  // would have to be inflated first.
  out['accept-encoding'] = 'identity'

  const publicUrl = new URL(options.publicOrigin)
  // Only our own hop is vouched for: a chain the client sent is neither trusted nor kept.
  if (options.clientAddress !== undefined) out['x-forwarded-for'] = options.clientAddress
  out['x-forwarded-host'] = publicUrl.host
  out['x-forwarded-proto'] = publicUrl.protocol.slice(0, -1)
  return out
}

/** Response headers whose meaning belongs to the gateway, not to the upstream. */
function ownedByGateway(name: string): boolean {
  return (
    PLANNED_HEADER_NAMES.has(name) ||
    name.startsWith('access-control-') ||
    name === 'set-cookie' ||
    name === 'content-security-policy' ||
    name === 'strict-transport-security' ||
    name === 'alt-svc'
  )
}

/**
 * The upstream's response headers that go on to the client: hop-by-hop fields, those named in
 * Connection and the gateway's own dropped; names lower-cased.
 */
export function filterResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const named = connectionNamed(headers.connection)
  const out: Record<string, string | string[]> = {}
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase()
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue
    if (ownedByGateway(name)) continue
    out[name] = value
  }
  return out
}

/** A strong validator no longer matches bytes the proxy changed; it stays usable as a weak one. */
export function weakenEtag(etag: string): string {
  return etag.startsWith('W/') ? etag : `W/${etag}`
}

/** Adds `Origin` (or other names) to a Vary value without duplicating or dropping any. */
export function mergeVary(existing: string | string[] | number | undefined, add: string): string {
  const names = [existing, add]
    .flat()
    .filter((v) => v !== undefined)
    .join(',')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  if (names.includes('*')) return '*'
  const seen = new Map<string, string>()
  for (const name of names) if (!seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name)
  return [...seen.values()].join(', ')
}

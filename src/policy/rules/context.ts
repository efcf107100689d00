/**
 * Secure contexts (browser-rules §1): which origins are potentially trustworthy, and whether a
 * document is a secure context once its ancestors are counted. Isolation, service workers and
 * the SharedArrayBuffer all need one, and no header can make up for it.
 */
import { hostOf, originOf } from '../site.js'
import { at, finding, type Browser, type Finding } from './findings.js'

export interface TrustOptions {
  /** Origins the browser treats as secure (`--unsafely-treat-insecure-origin-as-secure`). */
  readonly treatAsSecure?: readonly string[]
  readonly browser?: Browser
}

/** R-SC-1: is an origin (or a URL's origin) potentially trustworthy? */
export function isTrustworthyOrigin(url: string, options: TrustOptions = {}): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  const scheme = parsed.protocol
  if (scheme === 'https:' || scheme === 'wss:') return true
  if (scheme === 'file:') return true
  if (scheme === 'http:' || scheme === 'ws:') {
    const host = hostOf(url)
    if (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1') return true
    // Chrome and Firefox hard-wire localhost and *.localhost to loopback; Safari is unverified
    // for *.localhost, so it is predicted insecure there.
    if (host === 'localhost' || host === 'localhost.') return true
    if (host.endsWith('.localhost') || host.endsWith('.localhost.')) {
      return options.browser !== 'safari'
    }
    const origin = originOf(url)
    return (options.treatAsSecure ?? []).includes(origin)
  }
  return false
}

/** R-SC-2: URL-level trust, used for mixed content (`about:`, `data:`, `blob:` count). */
export function isTrustworthyUrl(url: string, options: TrustOptions = {}): boolean {
  if (/^(about:blank|about:srcdoc|data:|blob:)/i.test(url)) return true
  return isTrustworthyOrigin(url, options)
}

export interface SecureContextResult {
  readonly secure: boolean
  readonly findings: readonly Finding[]
}

/**
 * R-SC-4: a document is a secure context when its own URL and every ancestor's URL are
 * trustworthy. `ancestors` run outer → inner and exclude the document itself.
 */
export function secureContext(
  url: string,
  ancestors: readonly string[] = [],
  options: TrustOptions = {},
): SecureContextResult {
  const untrusted = [...ancestors, url].filter((u) => !isTrustworthyOrigin(u, options))
  if (untrusted.length === 0) return { secure: true, findings: [] }
  const first = untrusted[0] ?? url
  const self = first === url
  return {
    secure: false,
    findings: [
      finding('INSECURE_CONTEXT', {
        evidence: at(first),
        message: self
          ? `${originOf(url)} is not a secure context (plain http, not loopback), so the ` +
            'browser ignores COOP and COEP and hides SharedArrayBuffer whatever the headers say'
          : `an ancestor, ${originOf(first)}, is not a secure context, ` +
            'so this frame is not one either',
        fix:
          'serve over https (a self-signed or internal-CA certificate is fine), or open it as ' +
          "http://localhost (an SSH tunnel works); for a quick test only, Chrome's flag " +
          '--unsafely-treat-insecure-origin-as-secure',
      }),
    ],
  }
}

/**
 * Mixed content and Local Network Access for a request (browser-rules §7.7, §8), when the
 * request's address space matters: a public page reaching a LAN or loopback server.
 */
import { addressSpaceOf, addressSpaceOfIp, originOf, type AddressSpace } from '../site.js'
import { isTrustworthyUrl } from './context.js'
import { at, finding, type Browser, type Finding } from './findings.js'

const RANK: Record<Exclude<AddressSpace, 'unknown'>, number> = { loopback: 0, local: 1, public: 2 }

export interface NetworkInput {
  readonly pageUrl: string
  readonly pageSecure: boolean
  readonly url: string
  /** The address the target's name resolved to, when known (R-LNA-3). */
  readonly resolvedIp?: string
  /** The page's own address, when known; names are taken as public otherwise. */
  readonly pageIp?: string
  /** Upgradeable request (img, video) rather than blockable (fetch, script, ...). */
  readonly upgradeable?: boolean
  readonly browser?: Browser
}

/** Mixed content first, then LNA; returns the findings (empty when the request may go). */
export function networkChecks(input: NetworkInput): Finding[] {
  const browser = input.browser ?? 'chromium'
  const https = originOf(input.pageUrl).startsWith('https:')
  // Safari has long blocked http://localhost from https pages (R-MIX-3, unverified).
  const trustworthy =
    isTrustworthyUrl(input.url) && !(browser === 'safari' && input.url.startsWith('http:'))
  if (input.pageSecure && https && !trustworthy) {
    return [
      input.upgradeable
        ? finding('MIXED_CONTENT_UPGRADED', {
            evidence: at(input.url),
            message: 'the browser upgrades this request to https',
            fix: 'use an https URL',
          })
        : finding('MIXED_CONTENT', {
            evidence: at(input.url),
            message: `the https page may not fetch plain-http ${originOf(input.url)}`,
            fix: 'serve the source over https, or proxy it under the viewer origin',
          }),
    ]
  }
  if (browser !== 'chromium') return []
  const pageSpace = spaceOf(input.pageUrl, input.pageIp)
  const targetSpace = spaceOf(input.url, input.resolvedIp)
  if (RANK[targetSpace] >= RANK[pageSpace]) return []
  if (!input.pageSecure) {
    return [
      finding('LNA_INSECURE_REQUESTER', {
        evidence: at(input.url),
        message: `an insecure ${pageSpace} page may not reach the ${targetSpace} network`,
        fix: 'serve the page over https, or put the source on the viewer origin',
      }),
    ]
  }
  return [
    finding('LNA_PERMISSION_REQUIRED', {
      evidence: at(input.url),
      message:
        `Chrome 142+ asks the user before a ${pageSpace} page reaches the ${targetSpace} ` +
        'network; the request fails if they decline',
      fix: 'proxy the source under the viewer origin (no prompt), or tell users to allow it',
    }),
  ]
}

function spaceOf(url: string, ip: string | undefined): Exclude<AddressSpace, 'unknown'> {
  const fromIp = ip ? addressSpaceOfIp(ip) : null
  const space = fromIp ?? addressSpaceOf(url)
  return space === 'unknown' ? 'public' : space
}

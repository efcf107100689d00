/**
 * Origins and sites the way a browser compares them (HTML "Sites", browser-rules R-CORP-3,
 * R-CORP-7, R-SC-1). Registrable domains come from the Public Suffix List through `tldts`,
 * private section included (so `a.github.io` and `b.github.io` are different sites), with the
 * list's implicit `*` rule for TLDs it does not name (`viewer.hospital.lan` → `hospital.lan`).
 * A host that is itself a suffix (`localhost`, a single-label name) has no registrable domain.
 */
import { isIP } from 'node:net'

import { parse } from 'tldts'

/** The serialized origin of a URL (`https://viewer.example`), or `null` for opaque ones. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'null'
  }
}

/** Host of a URL without IPv6 brackets, lower-cased, or '' when there is none. */
export function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase()
  } catch {
    return ''
  }
}

/** Same origin: scheme, host and port all equal; opaque origins are never same origin. */
export function sameOrigin(a: string, b: string): boolean {
  const oa = originOf(a)
  return oa !== 'null' && oa === originOf(b)
}

/**
 * The registrable domain of a host, or null when it has none (IP addresses, `localhost`,
 * hosts under a suffix the PSL does not list, a host that is itself a public suffix).
 */
export function registrableDomain(host: string): string | null {
  const bare = host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase()
  if (bare === '' || isIP(bare) !== 0) return null
  // An unlisted TLD counts as a suffix of its own (the PSL's implicit `*` rule), as in
  // Chromium: insecure.test and other.insecure.test share `insecure.test` (measured).
  return parse(bare, { allowPrivateDomains: true }).domain
}

/** The site's host part: the registrable domain, or the host itself when there is none. */
export function siteHost(host: string): string {
  return (
    registrableDomain(host) ??
    host
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '')
      .toLowerCase()
  )
}

/** Schemelessly same site (CORP `same-site`): ports and schemes ignored. */
export function schemelesslySameSite(a: string, b: string): boolean {
  const ha = hostOf(a)
  const hb = hostOf(b)
  if (ha === '' || hb === '') return false
  return siteHost(ha) === siteHost(hb)
}

/**
 * CORP `same-site` as Chromium decides it (services/network cross_origin_resource_policy.cc,
 * ShouldAllowSameSite), measured in the doctor's scenario suite: an IP-address host is never
 * same-site with anything, not even the same IP on another port (browser-rules R-CORP-3 says
 * otherwise; Chromium wins), and hosts without a registrable domain (`localhost`, single-label
 * names) compare equal to each other, because Chromium compares empty domains.
 */
export function corpSameSite(a: string, b: string): boolean {
  const ha = hostOf(a)
  const hb = hostOf(b)
  if (ha === '' || hb === '' || isIP(ha) !== 0 || isIP(hb) !== 0) return false
  return (registrableDomain(ha) ?? '') === (registrableDomain(hb) ?? '')
}

/** Schemefully same site (HTML "same site"): the scheme must match too. */
export function sameSite(a: string, b: string): boolean {
  try {
    return new URL(a).protocol === new URL(b).protocol && schemelesslySameSite(a, b)
  } catch {
    return false
  }
}

/** Where a host sits for Local Network Access (browser-rules §7.7). */
export type AddressSpace = 'loopback' | 'local' | 'public' | 'unknown'

/**
 * The address space a URL's host literally names. Names other than `localhost` are `unknown`
 * until resolved: a public-looking name may point at a LAN address (R-LNA-3).
 */
export function addressSpaceOf(url: string): AddressSpace {
  const host = hostOf(url)
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback'
  return addressSpaceOfIp(host) ?? 'unknown'
}

/** The address space of an IP literal, or null when `ip` is not one. */
export function addressSpaceOfIp(ip: string): AddressSpace | null {
  const family = isIP(ip)
  if (family === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number)
    if (a === 127) return 'loopback'
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'local'
    if (a === 169 && b === 254) return 'local'
    if (a === 0) return 'local'
    return 'public'
  }
  if (family === 6) {
    const lower = ip.toLowerCase()
    if (lower === '::1') return 'loopback'
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
    if (mapped?.[1]) return addressSpaceOfIp(mapped[1])
    if (/^f[cd]/.test(lower) || /^fe[89ab]/.test(lower)) return 'local'
    return 'public'
  }
  return null
}

/**
 * Documents inside iframes (browser-rules §4.3, R-CORP-6, R-FRAME-5, R-MIX-4): whether each
 * level of a frame chain loads at all, and whether it is cross-origin isolated. Isolation is the
 * top-level document's (its browsing context group's), gated per frame by the
 * `cross-origin-isolated` permission; Document-Isolation-Policy is the Chromium exception.
 */
import { originOf, sameOrigin } from '../site.js'
import {
  isTrustworthyOrigin,
  isTrustworthyUrl,
  secureContext,
  type TrustOptions,
} from './context.js'
import { corpCheck } from './corp.js'
import { at, bySeverity, finding, type Browser, type Finding } from './findings.js'
import { framingCheck } from './framing.js'
import { shown, type HeaderLines } from './headers.js'
import {
  coepCompatible,
  dipIsolation,
  parseCoep,
  parseCoop,
  topLevelIsolation,
  type CoepValue,
} from './isolation.js'
import { featureAllowedInChain, type FrameForPolicy } from './permissions.js'

/** One level of a frame chain: the top document first, then each nested document. */
export interface FrameLevel {
  readonly url: string
  readonly headers: HeaderLines
  /** The `allow` attribute of the `<iframe>` holding this level. */
  readonly allow?: string | undefined
  /** `<iframe credentialless>` (Chromium 110+; ignored elsewhere). */
  readonly credentialless?: boolean
  /** `<iframe srcdoc>`: inherits the parent's origin and policies, fetches nothing. */
  readonly srcdoc?: boolean
  /** `<meta http-equiv=Content-Security-Policy>` contents found in the document. */
  readonly metaCsp?: readonly string[]
}

export interface FrameVerdict {
  readonly url: string
  readonly loads: boolean
  readonly secure: boolean
  readonly coi: boolean
  /** The COEP in force for this document's own subresources. */
  readonly coep: CoepValue
  readonly findings: readonly Finding[]
}

export interface FrameOptions extends TrustOptions {
  readonly browser?: Browser
}

/** Evaluates every level of a frame chain, outer → inner. */
export function evaluateFrameChain(
  chain: readonly FrameLevel[],
  options: FrameOptions = {},
): FrameVerdict[] {
  const browser = options.browser ?? 'chromium'
  const [top, ...nested] = chain
  if (!top) return []
  const topResult = topLevelIsolation(top, options)
  const verdicts: FrameVerdict[] = [
    {
      url: top.url,
      loads: true,
      secure: topResult.secure,
      coi: topResult.coi,
      coep: topResult.coep,
      findings: topResult.findings,
    },
  ]
  // The group is isolated by the top's COOP + COEP; its own Permissions-Policy does not undo that.
  const groupIsolated =
    topResult.secure && topResult.coop === 'same-origin' && coepCompatible(topResult.coep)
  const policyChain: FrameForPolicy[] = [{ url: top.url, headers: top.headers }]

  for (const [index, level] of nested.entries()) {
    const parent = verdicts[index] as FrameVerdict
    const parentLevel = chain[index] as FrameLevel
    const effective: FrameLevel = level.srcdoc
      ? { ...level, url: parent.url, headers: parentLevel.headers }
      : level
    policyChain.push({ url: effective.url, headers: effective.headers, allow: level.allow })
    const ancestors = chain.slice(0, index + 1).map((l, i) => verdicts[i]?.url ?? l.url)
    const secure = secureContext(effective.url, ancestors, options).secure
    const findings: Finding[] = []
    const blocked = (): FrameVerdict => ({
      url: effective.url,
      loads: false,
      secure,
      coi: false,
      coep: 'unsafe-none',
      findings,
    })
    if (!parent.loads) {
      verdicts.push(blocked())
      continue
    }
    if (!secure) findings.push(...secureContext(effective.url, ancestors, options).findings)
    if (level.srcdoc) {
      const coi = groupIsolated && featureAllowedInChain(policyChain, browser)
      verdicts.push({ url: effective.url, loads: true, secure, coi, coep: parent.coep, findings })
      continue
    }
    if (originOf(parent.url).startsWith('https:') && !isTrustworthyUrl(level.url, options)) {
      findings.push(
        finding('MIXED_CONTENT', {
          part: 'embedding',
          evidence: at(level.url),
          message: 'an http frame inside an https page is blocked as mixed content',
          fix: 'serve the framed document over https',
        }),
      )
      verdicts.push(blocked())
      continue
    }
    const framing = framingCheck({
      url: level.url,
      headers: level.headers,
      ancestors,
      metaCsp: level.metaCsp ?? [],
    })
    findings.push(...framing.findings)
    if (!framing.allowed) {
      verdicts.push(blocked())
      continue
    }
    const coep = secure ? parseCoep(level.headers, browser) : null
    const childCoep: CoepValue = coep?.value ?? 'unsafe-none'
    const lifted = level.credentialless === true && browser === 'chromium'
    if (coepCompatible(parent.coep) && !lifted) {
      const corp = corpCheck({
        requester: parent.url,
        url: level.url,
        headers: level.headers,
        coep: parent.coep,
        forNavigation: true,
      })
      if (!coepCompatible(childCoep)) {
        findings.push(
          finding('IFRAME_COEP_MISSING', {
            evidence: at(level.url, 'Cross-Origin-Embedder-Policy', coep?.raw ?? null),
            message:
              `the parent sends COEP ${parent.coep}, so this framed document must send a ` +
              'compatible COEP too, or it is blocked (ERR_BLOCKED_BY_RESPONSE)',
            fix: 'send `Cross-Origin-Embedder-Policy: require-corp` on the framed document',
          }),
        )
      }
      findings.push(...corp.findings)
      if (!corp.allowed || !coepCompatible(childCoep)) {
        verdicts.push(blocked())
        continue
      }
    }
    if (parseCoop(level.headers, browser).state === 'valid') {
      findings.push(
        finding('COOP_IGNORED_IN_IFRAME', {
          evidence: at(
            level.url,
            'Cross-Origin-Opener-Policy',
            shown(level.headers, 'Cross-Origin-Opener-Policy'),
          ),
          message: 'COOP on a framed document has no effect; only the top-level page counts',
          fix: 'nothing to change here; isolation is decided by the top-level page',
        }),
      )
    }
    // Chromium applies DIP on a trustworthy origin even under an insecure ancestor: the frame
    // reports crossOriginIsolated true with isSecureContext false (measured).
    const dip = isTrustworthyOrigin(level.url, options)
      ? dipIsolation(level, browser, false)
      : { isolated: false, findings: [] }
    findings.push(...dip.findings)
    let coi = false
    if (secure && !dip.isolated) {
      if (!groupIsolated) {
        findings.push(
          finding('FRAME_ANCESTOR_NOT_ISOLATED', {
            evidence: at(
              top.url,
              'Cross-Origin-Opener-Policy',
              shown(top.headers, 'Cross-Origin-Opener-Policy'),
            ),
            message:
              `the top-level page ${originOf(top.url)} is not isolated, ` +
              'so no frame in it can be',
            fix:
              'send COOP same-origin and COEP require-corp on the top-level page (or use ' +
              'Document-Isolation-Policy on the frame, Chromium only)',
          }),
        )
      } else if (!featureAllowedInChain(policyChain, browser)) {
        findings.push(
          finding('PERMISSIONS_POLICY_COI_DENIED', {
            evidence: at(level.url, 'allow', level.allow ?? null),
            message: sameOrigin(level.url, parent.url)
              ? 'a Permissions-Policy header on the way down denies cross-origin-isolated'
              : 'a cross-origin frame is isolated only when the iframe delegates it',
            fix:
              'add allow="cross-origin-isolated" to the <iframe>, and keep any ' +
              'Permissions-Policy header from excluding this origin',
            browsers: ['chromium'],
          }),
        )
      } else {
        coi = true
      }
    }
    verdicts.push({
      url: level.url,
      loads: true,
      secure,
      coi: coi || dip.isolated,
      coep: childCoep,
      findings: bySeverity(findings),
    })
  }
  return verdicts
}

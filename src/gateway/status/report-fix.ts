/**
 * What to do about one violation report, in the operator's words: which reply lacks which
 * header, or which setting to change. The rules behind each sentence are in browser-rules.md
 * (§5 COEP on subresources, §4.3 iframes, R-SUB-6 workers, R-COOP-8 openers, §9 framing). Pure.
 */

/** The fields of a report that decide its fix. */
export interface ReportFacts {
  readonly kind: 'coep' | 'coop' | 'csp'
  /** coep: corp | navigation | worker initialization; coop: the report's type; csp: directive. */
  readonly detail: string
  readonly documentUrl: string
  readonly blockedUrl: string | undefined
  readonly destination?: string | undefined
}

function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined
  } catch {
    return undefined
  }
}

/** One or two sentences naming the reply to change and the header or setting to change. */
export function fixFor(report: ReportFacts): string {
  switch (report.kind) {
    case 'coep':
      return coepFix(report)
    case 'coop':
      return coopFix(report)
    case 'csp':
      return cspFix(report)
  }
}

function coepFix(report: ReportFacts): string {
  const blocked = report.blockedUrl ?? 'the resource'
  const where = originOf(report.blockedUrl)
  const sameOrigin = where !== undefined && where === originOf(report.documentUrl)
  switch (report.detail) {
    case 'navigation':
      return (
        `The framed document ${blocked} must send Cross-Origin-Embedder-Policy (require-corp or ` +
        'credentialless) and, when it is cross-origin, Cross-Origin-Resource-Policy: ' +
        'cross-origin; or mark the <iframe> credentialless (Chromium only).'
      )
    case 'worker initialization':
      return (
        `The worker script ${blocked} must send Cross-Origin-Embedder-Policy itself: a ` +
        "worker takes its policy from its own script reply, not from the page's."
      )
    default: {
      if (sameOrigin) {
        return (
          `${blocked} is same-origin but was redirected or fetched no-cors across origins; ` +
          'serve it without the cross-origin hop, or give every reply on the way ' +
          'Cross-Origin-Resource-Policy.'
        )
      }
      const server = where ?? 'its server'
      const kind = report.destination ? `${report.destination} ` : ''
      return (
        `${server} sent the ${kind}${blocked} without Cross-Origin-Resource-Policy. Add ` +
        '`Cross-Origin-Resource-Policy: cross-origin` (or same-site) to its replies, load it ' +
        'with crossorigin and CORS (Access-Control-Allow-Origin), or proxy it under the ' +
        "viewer's origin (isogate serve --source NAME=URL). With --isolation credentialless " +
        'it would load without cookies instead.'
      )
    }
  }
}

function coopFix(report: ReportFacts): string {
  if (report.detail.startsWith('navigation')) {
    const other = report.blockedUrl ?? 'another page'
    return (
      `Navigating between the viewer and ${other} now opens a new browsing context group: ` +
      'window.opener is cut. Pages that script the viewer through window.opener (host apps, ' +
      'OAuth popups) should use a redirect flow, postMessage through a same-origin page or ' +
      'BroadcastChannel.'
    )
  }
  return (
    'Script access between the viewer and its opener or popup would be cut by COOP ' +
    `(${report.detail}); replace window.opener / popup calls with postMessage or a redirect ` +
    'flow, or open the viewer top-level without an opener.'
  )
}

function cspFix(report: ReportFacts): string {
  if (report.detail === 'frame-ancestors') {
    return (
      'A page that is not allowed to frame the viewer tried to. If it should, add its origin ' +
      'to embedding.origins (isogate serve --embed-origin ORIGIN); the report does not name ' +
      'the embedding page, so check which site framed it.'
    )
  }
  const blocked = report.blockedUrl ?? 'a resource'
  return (
    `${blocked} was refused by the Content-Security-Policy directive ${report.detail}; allow ` +
    'its origin in that directive, or stop loading it.'
  )
}

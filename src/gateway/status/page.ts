/**
 * The status page: the status document rendered as one self-contained HTML page. It loads
 * nothing (no script, no external style), so it is isolated under the same plan as the viewer
 * and cannot be broken by it, and every value is escaped: reports come from anyone who can
 * reach the gateway.
 */
import type { IsogateStatus } from './schema.js'

type Source = IsogateStatus['sources'][number]
type Report = IsogateStatus['reports']['items'][number]

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 1.5rem;
color:#1d2330;background:#fbfbfd}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.8rem 0 .5rem;
border-bottom:1px solid #d8dbe4;padding-bottom:.25rem}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{text-align:left;vertical-align:top;padding:.25rem .5rem;border-bottom:1px solid #eceef3}
th{font-weight:600;background:#f1f2f6}
code,.mono{font-family:ui-monospace,monospace;font-size:12.5px;word-break:break-all}
.ok{color:#17663a;font-weight:600}.bad{color:#a4161a;font-weight:600}.warn{color:#8a5300;
font-weight:600}.muted{color:#667}nav a{margin-right:1rem}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:12px;font-weight:600}
.up{background:#d7f3e1;color:#17663a}.down{background:#fbdada;color:#a4161a}
.starting,.unknown{background:#eee;color:#444}
`

function mono(value: unknown): string {
  return `<span class="mono">${escapeHtml(value)}</span>`
}

function code(value: unknown): string {
  return `<code>${escapeHtml(value)}</code>`
}

function link(href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`
}

/** The whole page. `base` is the status root, e.g. `/__isogate/`. */
export function renderStatusPage(status: IsogateStatus, base: string): string {
  const parts = [
    summary(status),
    planSection(status),
    sourcesSection(status),
    tlsSection(status),
    reportsSection(status),
  ]
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Isogate status</title><style>${STYLE}</style></head>
<body>
<h1>Isogate status</h1>
<nav>${link(base, 'refresh')}${link(`${base}status.json`, 'status.json')}
${link(`${base}status.schema.json`, 'schema')}${link(`${base}healthz`, 'healthz')}
${link(`${base}readyz`, 'readyz')}</nav>
${parts.join('\n')}
<p class="muted">Isogate ${escapeHtml(status.isogate.version)} · generated ${escapeHtml(
    status.generatedAt,
  )} · up ${escapeHtml(uptime(status.uptimeSeconds))}</p>
</body></html>
`
}

function uptime(seconds: number): string {
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`
  return `${Math.floor(seconds / 3600)} h`
}

function summary(status: IsogateStatus): string {
  const iso = status.isolation
  const verdict = iso.isolated
    ? '<span class="ok">isolated</span>'
    : iso.mode === 'report-only'
      ? '<span class="warn">report-only: not isolated, violations reported</span>'
      : '<span class="bad">not isolated</span>'
  const rows: Array<[string, string]> = [
    [
      'viewer',
      status.viewer
        ? `${link(status.viewer.url, status.viewer.url)} · OHIF ` +
          escapeHtml(status.viewer.version ?? '(version unknown)') +
          (status.viewer.bundled ? ' (bundled)' : '')
        : '<span class="muted">none (sources only)</span>',
    ],
    ['listening on', `<code>${escapeHtml(status.origin)}</code>`],
    ['isolation', `${verdict} — <code>${escapeHtml(iso.mode)}</code>`],
    ['what it means', escapeHtml(iso.summary)],
    [
      'reports go to',
      iso.reportingEndpoint
        ? `<code>${escapeHtml(iso.reportingEndpoint)}</code>`
        : '<span class="muted">no reporting endpoint</span>',
    ],
    ['ready', status.ready ? '<span class="ok">yes</span>' : '<span class="warn">starting</span>'],
  ]
  return `<h2>Summary</h2>${table(['', ''], rows, true)}`
}

function planSection(status: IsogateStatus): string {
  const rows: Array<[string, string]> = Object.entries(status.plan.classes).map(
    ([responseClass, headers]) => [
      `<code>${escapeHtml(responseClass)}</code>`,
      headers.length === 0
        ? '<span class="muted">(none)</span>'
        : headers
            .map((h) => `<div class="mono">${escapeHtml(h.name)}: ${escapeHtml(h.value)}</div>`)
            .join(''),
    ],
  )
  rows.push([
    '<span class="muted">viewer files</span>',
    `<div>hashed names: ${mono(`Cache-Control: ${status.plan.hashedAssetCache}`)}</div>` +
      `<div>other files: ${mono(`Cache-Control: ${status.plan.assetCache}`)}</div>`,
  ])
  return `<h2>Header plan per response class</h2>${table(['class', 'headers'], rows)}`
}

function sourcesSection(status: IsogateStatus): string {
  if (status.sources.length === 0) return '<h2>Data sources</h2><p class="muted">none</p>'
  return `<h2>Data sources</h2>${status.sources.map(sourceBlock).join('\n')}`
}

function sourceBlock(source: Source): string {
  const { skipped, ...rest } = source.details
  const facts: Array<[string, string]> = Object.entries(rest).map(([key, value]) => [
    escapeHtml(key),
    mono(typeof value === 'string' ? value : JSON.stringify(value)),
  ])
  if (source.lastError)
    facts.unshift(['last error', `<span class="bad">${escapeHtml(source.lastError)}</span>`])
  let skippedTable = ''
  if (Array.isArray(skipped) && skipped.length > 0) {
    const rows = skipped.map((entry): [string, string] => {
      const item = (entry ?? {}) as { path?: unknown; reason?: unknown }
      return [
        `<span class="mono">${escapeHtml(item.path ?? '')}</span>`,
        escapeHtml(item.reason ?? ''),
      ]
    })
    skippedTable =
      '<p>Skipped files (not served), with the reason:</p>' + table(['file', 'reason'], rows)
  }
  return `<h3><code>${escapeHtml(source.name)}</code> · ${escapeHtml(source.mode)}
<span class="badge ${escapeHtml(source.health)}">${escapeHtml(source.health)}</span></h3>
${table(['', ''], facts, true)}${skippedTable}`
}

function tlsSection(status: IsogateStatus): string {
  const tls = status.tls
  if (!tls) {
    return (
      '<h2>TLS certificate</h2><p class="muted">Plain http: browsers treat only loopback ' +
      '(localhost, 127.0.0.1, ::1) as a secure context, so serve https (--tls auto) for other ' +
      'machines.</p>'
    )
  }
  const expiry = tls.daysLeft < 30 ? 'bad' : 'ok'
  const rows: Array<[string, string]> = [
    [
      'file',
      `<span class="mono">${escapeHtml(tls.certPath)}</span>${tls.generated ? ' (generated)' : ''}`,
    ],
    ['names', tls.subjectAltNames.map((n) => `<code>${escapeHtml(n)}</code>`).join(' ')],
    [
      'valid until',
      `<span class="${expiry}">${escapeHtml(tls.validTo)}</span> (${tls.daysLeft} days)`,
    ],
    ['SPKI SHA-256', `<span class="mono">${escapeHtml(tls.spkiSha256)}</span>`],
    ['fingerprint', `<span class="mono">${escapeHtml(tls.fingerprintSha256)}</span>`],
    ['issuer', `${escapeHtml(tls.issuer)}${tls.selfSigned ? ' (self-signed)' : ''}`],
  ]
  const trust = tls.trust.map((t): [string, string] => [
    `${escapeHtml(t.platform)}<div class="muted">${escapeHtml(t.covers)}</div>`,
    t.steps.map((s) => `<div class="mono">${escapeHtml(s)}</div>`).join(''),
  ])
  return `<h2>TLS certificate</h2>${table(['', ''], rows, true)}
<h3>Trusting it</h3>${table(['where', 'steps'], trust)}`
}

function reportsSection(status: IsogateStatus): string {
  const { counters, items, capacity } = status.reports
  const dropped = counters.malformed + counters.tooLarge + counters.rateLimited + counters.truncated
  const head =
    `<p>${counters.received} received, ${items.length} distinct kept (of ${capacity}), ` +
    `${counters.ignored} of other types ignored, ${dropped} dropped ` +
    `(${counters.malformed} malformed, ${counters.tooLarge} too large, ` +
    `${counters.rateLimited} over the rate limit, ${counters.truncated} beyond a batch). ` +
    'Anyone who can reach the gateway can send reports: treat them as leads, not proof.</p>'
  if (items.length === 0) {
    return (
      `<h2>Violation reports</h2>${head}` +
      '<p class="muted">No reports yet. Browsers batch them: allow a minute.</p>'
    )
  }
  const rows = items.map(reportRow)
  return `<h2>Violation reports</h2>${head}${table(
    ['last seen', 'what', 'blocked', 'page', 'fix'],
    rows,
  )}`
}

function reportRow(report: Report): string[] {
  const mode = report.disposition === 'reporting' ? 'report-only' : 'enforced'
  return [
    `${escapeHtml(report.lastSeen)}<div class="muted">×${report.count}</div>`,
    `${code(report.kind)} ${escapeHtml(report.detail)}<div class="muted">${mode}` +
      (report.destination ? ` · ${escapeHtml(report.destination)}` : '') +
      '</div>',
    `<span class="mono">${escapeHtml(report.blockedUrl ?? '')}</span>`,
    `<span class="mono">${escapeHtml(report.documentUrl)}</span>`,
    escapeHtml(report.fix),
  ]
}

function table(headers: string[], rows: string[][], keyed = false): string {
  const head = keyed ? '' : `<tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr>`
  const cell = (c: string, i: number) => (keyed && i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)
  const body = rows.map((cells) => `<tr>${cells.map(cell).join('')}</tr>`).join('\n')
  return `<table>${head}${body}</table>`
}

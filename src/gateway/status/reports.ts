/**
 * Violation reports the browser POSTs to the gateway's reporting endpoint: Reporting API
 * batches (`application/reports+json`, types `coep`, `coop`, `csp-violation`) and the legacy
 * CSP form (`application/csp-report`). They are parsed into one shape, given a fix, and kept
 * in a bounded ring where repeats of the same violation are counted, not stored again.
 *
 * Anyone who can reach the gateway can POST here, so nothing in a report is trusted: bodies
 * are size-limited before parsing, each batch is cut to a few reports, every string is
 * clipped, URLs lose their query (it may name a patient or carry a signature), and the page
 * escapes everything it shows.
 */
import { fixFor, type ReportFacts } from './report-fix.js'
import { clip, redactUrl } from './redact.js'

/** Largest report body read; Chromium's batches of a few reports are a few KiB. */
export const MAX_REPORT_BODY_BYTES = 64 * 1024
/** Reports kept from one POST; the rest are counted as dropped. */
export const MAX_REPORTS_PER_POST = 32
/** Distinct violations kept; the least recently seen go first. */
export const REPORT_RING_CAPACITY = 100

/** Media types the collector reads (the essence, before any parameters). */
export const REPORT_MEDIA_TYPES: readonly string[] = [
  'application/reports+json',
  'application/csp-report',
  'application/json',
]

export type Disposition = 'enforce' | 'reporting'

/** One report as the collector understood it, before it enters the ring. */
export interface ParsedReport extends ReportFacts {
  readonly disposition: Disposition
  readonly userAgent: string | undefined
}

/** One distinct violation in the ring. */
export interface StoredReport extends ParsedReport {
  readonly id: number
  readonly firstSeen: string
  readonly lastSeen: string
  readonly count: number
  readonly fix: string
}

export interface ReportCounters {
  /** Reports stored or counted as a repeat. */
  received: number
  /** Reports of other types (deprecation, intervention…), not kept. */
  ignored: number
  malformed: number
  tooLarge: number
  rateLimited: number
  /** Reports beyond MAX_REPORTS_PER_POST in one batch. */
  truncated: number
}

export interface ReportSnapshot {
  readonly capacity: number
  readonly counters: Readonly<ReportCounters>
  /** Most recently seen first. */
  readonly items: readonly StoredReport[]
}

export interface ParseResult {
  readonly reports: ParsedReport[]
  readonly ignored: number
  readonly malformed: number
  readonly truncated: number
}

/** The essence of a Content-Type header, lower-cased: `application/reports+json`. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/**
 * Parses a report body of an accepted media type; the form is told by its shape, since some
 * browsers label legacy CSP reports application/json. Never throws; bad input is counted.
 */
export function parseReports(text: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { reports: [], ignored: 0, malformed: 1, truncated: 0 }
  }
  // A legacy CSP report is one object under "csp-report"; the Reporting API sends an array.
  const items = Array.isArray(value) ? value : [value]
  const kept = items.slice(0, MAX_REPORTS_PER_POST)
  const result = { reports: [] as ParsedReport[], ignored: 0, malformed: 0 }
  for (const item of kept) {
    const parsed = isRecord(item) && 'csp-report' in item ? legacyCsp(item) : reportingApi(item)
    if (parsed === 'ignored') result.ignored++
    else if (parsed === undefined) result.malformed++
    else result.reports.push(parsed)
  }
  return { ...result, truncated: items.length - kept.length }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return clip(value, 512)
  if (typeof value === 'number') return String(value)
  return undefined
}

function url(value: unknown): string | undefined {
  const raw = text(value)
  return raw === undefined ? undefined : redactUrl(typeof value === 'string' ? value : raw)
}

function disposition(value: unknown): Disposition {
  return value === 'reporting' || value === 'report' ? 'reporting' : 'enforce'
}

/** One entry of a Reporting API batch: `{type, url, body, user_agent, age}`. */
function reportingApi(item: unknown): ParsedReport | 'ignored' | undefined {
  if (!isRecord(item) || typeof item.type !== 'string' || !isRecord(item.body)) return undefined
  const body = item.body
  const documentUrl = url(item.url) ?? url(body.documentURL)
  if (documentUrl === undefined) return undefined
  const userAgent = text(item.user_agent)
  switch (item.type) {
    case 'coep':
      return {
        kind: 'coep',
        detail: text(body.type) ?? 'corp',
        documentUrl,
        blockedUrl: url(body.blockedURL),
        destination: text(body.destination),
        disposition: disposition(body.disposition),
        userAgent,
      }
    case 'coop':
      return {
        kind: 'coop',
        detail: text(body.type) ?? 'unknown',
        documentUrl,
        // Navigation reports name the page on the other side of the group switch.
        blockedUrl:
          url(body.nextResponseURL) ??
          url(body.previousResponseURL) ??
          url(body.openerURL) ??
          url(body.otherDocumentURL),
        destination: text(body.property),
        disposition: disposition(body.disposition),
        userAgent,
      }
    case 'csp-violation':
      return {
        kind: 'csp',
        detail: text(body.effectiveDirective) ?? 'unknown',
        documentUrl,
        blockedUrl: url(body.blockedURL),
        disposition: disposition(body.disposition),
        userAgent,
      }
    default:
      return 'ignored'
  }
}

/** `{"csp-report": {"document-uri", "blocked-uri", "effective-directive", …}}` (report-uri). */
function legacyCsp(item: Record<string, unknown>): ParsedReport | undefined {
  const body = item['csp-report']
  if (!isRecord(body)) return undefined
  const documentUrl = url(body['document-uri'])
  if (documentUrl === undefined) return undefined
  const directive = text(body['effective-directive']) ?? text(body['violated-directive'])
  return {
    kind: 'csp',
    detail: directive?.split(' ')[0] ?? 'unknown',
    documentUrl,
    blockedUrl: url(body['blocked-uri']),
    disposition: disposition(body.disposition),
    userAgent: undefined,
  }
}

/** The ring of distinct violations, with counters for everything refused or dropped. */
export class ReportRing {
  private readonly items = new Map<string, StoredReport>()
  private nextId = 1
  readonly counters: ReportCounters = {
    received: 0,
    ignored: 0,
    malformed: 0,
    tooLarge: 0,
    rateLimited: 0,
    truncated: 0,
  }

  constructor(
    private readonly now: () => number = Date.now,
    readonly capacity: number = REPORT_RING_CAPACITY,
  ) {}

  /** Adds a parsed batch: repeats of a known violation raise its count and move it up. */
  add(result: ParseResult): void {
    this.counters.ignored += result.ignored
    this.counters.malformed += result.malformed
    this.counters.truncated += result.truncated
    const at = new Date(this.now()).toISOString()
    for (const report of result.reports) {
      this.counters.received++
      const key = [
        report.kind,
        report.detail,
        report.disposition,
        report.documentUrl,
        report.blockedUrl ?? '',
      ].join('\n')
      const known = this.items.get(key)
      this.items.delete(key)
      this.items.set(
        key,
        known
          ? { ...known, lastSeen: at, count: known.count + 1, userAgent: report.userAgent }
          : {
              ...report,
              id: this.nextId++,
              firstSeen: at,
              lastSeen: at,
              count: 1,
              fix: fixFor(report),
            },
      )
      if (this.items.size > this.capacity) {
        const oldest = this.items.keys().next().value
        if (oldest !== undefined) this.items.delete(oldest)
      }
    }
  }

  /** Counts a refused POST (over the size limit or the rate limit). */
  drop(reason: 'tooLarge' | 'rateLimited' | 'malformed'): void {
    this.counters[reason]++
  }

  snapshot(): ReportSnapshot {
    return {
      capacity: this.capacity,
      counters: { ...this.counters },
      items: [...this.items.values()].reverse(),
    }
  }
}

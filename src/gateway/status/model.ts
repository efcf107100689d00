/**
 * Building the status document from what the running gateway knows: its plan, its sources'
 * own statuses, its certificate and the reports received. Pure (the time is passed in), and
 * everything a source or a browser supplied is redacted on the way in.
 */
import type { SourceStatus } from '../../dicomweb/source.js'
import {
  isolationSummary,
  RESPONSE_CLASSES,
  type HeaderPlan,
  type Isolation,
} from '../../policy/plan.js'
import { redactDetails, redactUrl, stripUserinfo } from './redact.js'
import type { ReportSnapshot } from './reports.js'
import { STATUS_SCHEMA_VERSION, type IsogateStatus } from './schema.js'
import type { TlsFacts } from './tls-facts.js'

export interface StatusSource extends Omit<SourceStatus, 'health'> {
  /** `unknown` for direct sources, which the browser calls without the gateway. */
  readonly health: SourceStatus['health'] | 'unknown'
}

export interface StatusInput {
  readonly version: string
  readonly startedAt: number
  readonly now: number
  readonly viewer: IsogateStatus['viewer']
  readonly origin: string
  readonly publicUrl?: string | undefined
  readonly isolation: Isolation
  readonly plan: HeaderPlan
  readonly sources: readonly StatusSource[]
  readonly tls: TlsFacts | null
  readonly reports: ReportSnapshot
  readonly allowRemote: boolean
}

/** True once no source is still starting: what `/__isogate/readyz` answers. */
export function sourcesReady(sources: readonly StatusSource[]): boolean {
  return sources.every((source) => source.health !== 'starting')
}

/** The status document, as served at `/__isogate/status.json`. */
export function buildStatus(input: StatusInput): IsogateStatus {
  const classes: Record<string, Array<{ name: string; value: string }>> = {}
  for (const responseClass of RESPONSE_CLASSES) {
    classes[responseClass] = input.plan.classes[responseClass].map(([name, value]) => ({
      name,
      value,
    }))
  }
  const reportingEndpoint = input.plan.intent.reportingEndpoint
  return {
    schema: STATUS_SCHEMA_VERSION,
    isogate: { version: input.version },
    generatedAt: new Date(input.now).toISOString(),
    startedAt: new Date(input.startedAt).toISOString(),
    uptimeSeconds: Math.max(0, Math.floor((input.now - input.startedAt) / 1000)),
    viewer: input.viewer,
    origin: input.origin,
    ...(input.publicUrl ? { publicUrl: redactUrl(input.publicUrl) } : {}),
    isolation: {
      mode: input.isolation,
      isolated: input.isolation === 'require-corp' || input.isolation === 'credentialless',
      summary: isolationSummary(input.isolation),
      ...(reportingEndpoint ? { reportingEndpoint } : {}),
    },
    plan: {
      classes,
      hashedAssetCache: input.plan.hashedAssetCache,
      assetCache: input.plan.assetCache,
    },
    sources: input.sources.map((source) => ({
      name: source.name,
      mode: source.mode,
      health: source.health,
      ...(source.lastError ? { lastError: stripUserinfo(source.lastError) } : {}),
      details: redactDetails(source.details) as Record<string, unknown>,
    })),
    ready: sourcesReady(input.sources),
    tls: input.tls
      ? {
          ...input.tls,
          subjectAltNames: [...input.tls.subjectAltNames],
          trust: input.tls.trust.map((t) => ({ ...t, steps: [...t.steps] })),
        }
      : null,
    reports: {
      capacity: input.reports.capacity,
      counters: { ...input.reports.counters },
      items: input.reports.items.map((item) => ({
        id: item.id,
        kind: item.kind,
        detail: item.detail,
        disposition: item.disposition,
        documentUrl: item.documentUrl,
        ...(item.blockedUrl !== undefined ? { blockedUrl: item.blockedUrl } : {}),
        ...(item.destination !== undefined ? { destination: item.destination } : {}),
        ...(item.userAgent !== undefined ? { userAgent: item.userAgent } : {}),
        firstSeen: item.firstSeen,
        lastSeen: item.lastSeen,
        count: item.count,
        fix: item.fix,
      })),
    },
    status: { allowRemote: input.allowRemote },
  }
}

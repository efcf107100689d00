/**
 * The status part of the gateway, assembled from what `startGateway` has: the plan, the data
 * sources, the certificate and the viewer. It owns the report ring and gives back the mount to
 * register and the paths the plan and the start-up text need.
 */
import { readFileSync } from 'node:fs'

import type { IsogateConfig } from '../../config/schema.js'
import type { DataSource } from '../../dicomweb/source.js'
import type { HeaderPlan, Isolation } from '../../policy/plan.js'
import type { ViewerBuild } from '../../viewer/locate.js'
import type { Mount } from '../server.js'
import type { TlsSetup } from '../tls.js'
import { buildStatus, type StatusSource } from './model.js'
import { statusPlugin } from './plugin.js'
import { ReportRing } from './reports.js'
import type { IsogateStatus } from './schema.js'
import { tlsFacts } from './tls-facts.js'

export { ReportRing } from './reports.js'
export type { IsogateStatus } from './schema.js'

/** The status root under a base path: `/__isogate/` or `/viewer/__isogate/`. */
export function statusBase(basePath: string): string {
  return `${basePath}__isogate/`
}

/** The path browsers POST violation reports to, named in Reporting-Endpoints. */
export function reportingEndpoint(basePath: string): string {
  return `${statusBase(basePath)}reports`
}

export interface StatusPartOptions {
  readonly config: IsogateConfig
  readonly plan: HeaderPlan
  readonly sources: readonly DataSource[]
  readonly viewer: ViewerBuild | undefined
  readonly tls: TlsSetup | undefined
  /** Known once the gateway listens: the viewer URL and the listening origin. */
  readonly where: () => { readonly url: string; readonly origin: string }
  readonly now?: () => number
}

export interface StatusPart {
  readonly mount: Mount
  readonly ring: ReportRing
  /** The status document as of now (what status.json serves). */
  status(): IsogateStatus
}

const VERSION = readVersion()

/** Builds the status part; register `mount` before the viewer (whose fallback is `*`). */
export function createStatusPart(options: StatusPartOptions): StatusPart {
  const now = options.now ?? Date.now
  const startedAt = now()
  const ring = new ReportRing(now)
  const base = statusBase(options.config.viewer.basePath)
  const status = (): IsogateStatus => {
    const at = now()
    const tls = options.tls ? tlsFacts(options.tls, at) : null
    const where = options.where()
    return buildStatus({
      version: VERSION,
      startedAt,
      now: at,
      viewer: options.viewer
        ? {
            url: where.url,
            basePath: options.config.viewer.basePath,
            ...(options.viewer.version ? { version: options.viewer.version } : {}),
            bundled: options.viewer.bundled,
          }
        : null,
      origin: where.origin,
      publicUrl: options.config.publicUrl,
      isolation: options.config.isolation as Isolation,
      plan: options.plan,
      sources: sourceStatuses(options.config, options.sources),
      tls,
      reports: ring.snapshot(),
      allowRemote: options.config.status.allowRemote,
    })
  }

  const plugin = statusPlugin({
    base,
    allowRemote: options.config.status.allowRemote,
    ring,
    status,
    now,
  })
  return { mount: { prefix: base.slice(0, -1), plugin }, ring, status }
}

/** Every source's own status, plus the direct ones, which the gateway only names. */
function sourceStatuses(config: IsogateConfig, sources: readonly DataSource[]): StatusSource[] {
  const statuses: StatusSource[] = sources.map((source) => source.status())
  for (const source of config.sources) {
    if (source.mode !== 'direct') continue
    statuses.push({
      name: source.name,
      mode: 'direct',
      health: 'unknown',
      details: {
        url: source.url,
        note: 'the viewer calls this server itself; run `isogate doctor` to check it',
      },
    })
  }
  return statuses
}

function readVersion(): string {
  try {
    const url = new URL('../../../package.json', import.meta.url)
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

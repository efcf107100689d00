/**
 * What the gateway needs from a data source, whatever its mode. A source is a fastify plugin
 * mounted under `mountPath` on the viewer's origin (the gateway registers it there), plus a
 * status for the start-up line and the status page.
 */
import type { FastifyPluginAsync } from 'fastify'

import type { Logger } from '../log.js'
import type { HeaderList, HeaderPlan, ResponseClass } from '../policy/plan.js'

export type SourceMode = 'embedded' | 'proxy' | 'front' | 'direct'

export interface SourceStatus {
  readonly name: string
  readonly mode: SourceMode
  /** `up` when the last request or health check succeeded. */
  readonly health: 'up' | 'down' | 'starting'
  readonly lastError?: string | undefined
  /** Free-form facts for the status page (index counts, upstream URLs, skipped files). */
  readonly details: Record<string, unknown>
}

export interface SourceContext {
  /** Path prefix on the viewer's origin, e.g. `/dicomweb/pacs` (no trailing slash). */
  readonly mountPath: string
  /**
   * The public origin the browser uses (scheme://host:port), known once the gateway listens or
   * from `publicUrl`. Absolute URLs in replies must use it (never an upstream's own origin).
   */
  readonly publicOrigin: () => string
  readonly stateDir: string
  readonly logger: Logger
  readonly plan: HeaderPlan
  /** For routes that write to the raw socket themselves: the plan's headers for a reply. */
  readonly headersFor: (responseClass: ResponseClass, status: number) => HeaderList
}

export interface DataSource {
  readonly name: string
  readonly mode: SourceMode
  /** Routes, relative to the mount path (`/studies`, `/studies/:study/series`, …). */
  readonly plugin: FastifyPluginAsync
  /** The roots OHIF should use for this source, relative to the viewer's origin. */
  readonly roots: { readonly qidoRoot: string; readonly wadoRoot: string }
  /** OHIF data-source options that this source needs (acceptHeader, supportsWildcard, …). */
  readonly ohifOptions: Record<string, unknown>
  status(): SourceStatus
  close(): Promise<void>
}

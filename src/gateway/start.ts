/**
 * Starting the whole gateway from a validated config: the header plan, TLS, the data sources
 * mounted under the viewer's origin, the viewer itself, then listening. This is what
 * `isogate serve` and `isogate front` run, and what tests call to get a live server and its URL.
 */
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'

import type { FastifyInstance } from 'fastify'

import { intentOf, sourceMountPath, stateDirOf } from '../config/load.js'
import type {
  EmbeddedSourceConfig,
  FrontSourceConfig,
  IsogateConfig,
  ProxySourceConfig,
  SourceConfig,
} from '../config/schema.js'
import { createEmbeddedSource } from '../dicomweb/embedded/index.js'
import { createProxySource } from '../dicomweb/proxy/index.js'
import type { DataSource, SourceContext } from '../dicomweb/source.js'
import { IsogateError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import { planHeaders, type HeaderPlan, type Isolation } from '../policy/plan.js'
import type { ViewerDataSource } from '../viewer/app-config.js'
import { renderAppConfig } from '../viewer/app-config.js'
import { locateViewer, type ViewerBuild } from '../viewer/locate.js'
import { viewerPlugin } from '../viewer/plugin.js'
import { RewrittenCopies } from '../viewer/rewritten-copies.js'
import { headersFor } from './headers.js'
import { assertSecureListen } from './secure-listen.js'
import { createGateway, type GatewayTimeouts, type Mount } from './server.js'
import { createStatusPart, reportingEndpoint, statusBase, type StatusPart } from './status/index.js'
import { resolveTls, type TlsSetup } from './tls.js'

/** Builds a data source of one mode; the embedded and proxy modules each export one. */
export type SourceFactory = (config: SourceConfig, context: SourceContext) => Promise<DataSource>

export interface StartOptions {
  readonly logger?: Logger
  /** Serve the viewer (default). `false` serves sources only, e.g. `isogate front`. */
  readonly viewer?: boolean
  /** A source to mount at `/` instead of under `dicomweb/` (front mode without a viewer). */
  readonly rootSource?: string
  /** Factories by source mode, replacing the built-in ones (for embedding Isogate). */
  readonly sourceFactories?: Partial<Record<'embedded' | 'proxy' | 'front', SourceFactory>>
  /** Extra parts of the site (a status page), mounted before the viewer. */
  readonly mounts?: readonly Mount[]
  /** Connection timeouts, for tests that must see a slow client cut off in seconds. */
  readonly timeouts?: Partial<GatewayTimeouts>
}

export interface RunningGateway {
  /** The viewer's URL (origin + base path), or the origin when there is no viewer. */
  readonly url: string
  /** scheme://host:port the gateway answers on. */
  readonly origin: string
  readonly port: number
  readonly app: FastifyInstance
  readonly plan: HeaderPlan
  readonly sources: readonly DataSource[]
  readonly viewer: ViewerBuild | undefined
  readonly tls: TlsSetup | undefined
  /** The status page, its JSON and the violation-report ring. */
  readonly status: StatusPart
  /** URL of the status page (`/__isogate/` under the base path, on the listening origin). */
  readonly statusUrl: string
  /** Stops accepting, lets in-flight requests finish, closes the sources. */
  close(): Promise<void>
}

/** The source used when none is configured: the embedded demo study. */
export const DEMO_SOURCE: SourceConfig = { name: 'demo', mode: 'embedded', watch: true }

/** Modules that provide each mode's factory; loaded only when a source of that mode is used. */
/** The source factory for each mode that Isogate serves itself. */
const FACTORIES: Record<'embedded' | 'proxy' | 'front', SourceFactory> = {
  embedded: (config, context) => createEmbeddedSource(config as EmbeddedSourceConfig, context),
  proxy: (config, context) =>
    createProxySource(config as ProxySourceConfig | FrontSourceConfig, context),
  front: (config, context) =>
    createProxySource(config as ProxySourceConfig | FrontSourceConfig, context),
}

/** Starts the gateway and resolves once it listens. */
export async function startGateway(
  config: IsogateConfig,
  options: StartOptions = {},
): Promise<RunningGateway> {
  const logger = options.logger ?? silentLogger()
  const withViewer = options.viewer !== false
  const basePath = config.viewer.basePath
  const stateDir = stateDirOf(config)

  assertSecureListen({
    host: config.listen.host,
    tls: config.tls !== 'off',
    publicUrl: config.publicUrl,
  })
  const viewer = withViewer ? locateViewer(config.viewer.root) : undefined
  const tls = await resolveTls(config, stateDir)
  // Every document names the collector, so browsers report what COEP/COOP block (or would
  // block, with --isolation report-only) to the status page.
  const plan = planHeaders(intentOf(config, reportingEndpoint(basePath)))

  const sourceConfigs =
    withViewer && config.sources.length === 0 ? [DEMO_SOURCE] : [...config.sources]
  if (
    options.rootSource !== undefined &&
    !sourceConfigs.some((s) => s.name === options.rootSource)
  ) {
    throw new IsogateError('ISOGATE_E_CONFIG_INVALID', `rootSource: names no source`)
  }

  let origin = config.publicUrl ? new URL(config.publicUrl).origin : ''
  let listenOrigin = ''
  const sources: DataSource[] = []
  const viewerSources: ViewerDataSource[] = []
  const mounts: Mount[] = []
  // Reads `sources` when asked, so it sees the sources created below.
  const status = createStatusPart({
    config,
    plan,
    sources,
    viewer,
    tls,
    where: () => ({ url: `${origin}${withViewer ? basePath : '/'}`, origin: listenOrigin }),
  })
  try {
    for (const source of sourceConfigs) {
      if (source.mode === 'direct') {
        viewerSources.push({
          name: source.name,
          qidoRoot: source.url,
          wadoRoot: source.url,
          options: {},
        })
        continue
      }
      const mountPath =
        source.name === options.rootSource ? '' : sourceMountPath(basePath, source.name)
      const factory = options.sourceFactories?.[source.mode] ?? FACTORIES[source.mode]
      const created = await factory(source, {
        mountPath,
        publicOrigin: () => origin,
        stateDir,
        logger: logger.child({ source: source.name }),
        plan,
        headersFor: (responseClass, status) => headersFor(plan, responseClass, status),
      })
      sources.push(created)
      mounts.push({ prefix: mountPath === '' ? '/' : mountPath, plugin: created.plugin })
      viewerSources.push({
        name: created.name,
        qidoRoot: created.roots.qidoRoot,
        wadoRoot: created.roots.wadoRoot,
        options: created.ohifOptions,
      })
    }
    mounts.push(...(options.mounts ?? []))
    mounts.push(status.mount)

    if (viewer) {
      const original = await readFile(`${viewer.root}/app-config.js`, 'utf8').catch(() => '')
      const appConfig = renderAppConfig(original, {
        basePath,
        sources: viewerSources,
        defaultSource: config.defaultSource,
        isolation: config.isolation as Isolation,
        version: viewer.version,
      })
      const copies = new RewrittenCopies(viewer.root, basePath, stateDir)
      const plugin = viewerPlugin({
        root: viewer.root,
        basePath,
        appConfig,
        plan,
        copies,
        reserved: ['dicomweb/', '__isogate/'],
      })
      mounts.push({ prefix: '/', plugin })
    }
  } catch (error) {
    await Promise.allSettled(sources.map((s) => s.close()))
    throw error
  }

  const app = await createGateway({ plan, logger, tls, mounts, timeouts: options.timeouts })
  let port: number
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port })
    port = (app.server.address() as AddressInfo).port
  } catch (cause) {
    await app.close().catch(() => undefined)
    await Promise.allSettled(sources.map((s) => s.close()))
    const code = (cause as { code?: string }).code
    throw new IsogateError(
      'ISOGATE_E_GATEWAY_LISTEN',
      `cannot listen on ${config.listen.host}:${config.listen.port}` +
        (code === 'EADDRINUSE' ? ': the port is in use' : ''),
      { cause },
    )
  }

  listenOrigin = `${tls ? 'https' : 'http'}://${urlHost(config.listen.host)}:${port}`
  if (origin === '') origin = listenOrigin
  return {
    url: `${origin}${withViewer ? basePath : '/'}`,
    origin: listenOrigin,
    port,
    app,
    plan,
    sources,
    viewer,
    tls,
    status,
    statusUrl: `${listenOrigin}${statusBase(basePath)}`,
    async close() {
      await app.close()
      await Promise.allSettled(sources.map((s) => s.close()))
    },
  }
}

/** A host as it appears in a URL: IPv6 in brackets, any-address shown as localhost. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

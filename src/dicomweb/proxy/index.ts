/**
 * Proxied and fronted sources: an upstream DICOMweb root (Orthanc, dcm4chee, a cloud service)
 * served under a path of Isogate's origin. `proxy` mounts it for the viewer on the same origin
 * (no CORS needed, R-CORS-14); `front` serves it to viewers on other origins with CORS for an
 * allowlist. This is the entry point the gateway calls for both modes.
 */
import type { FrontSourceConfig, ProxySourceConfig } from '../../config/schema.js'
import type { IsogateError } from '../../errors.js'
import type { CorsPolicy } from '../../policy/cors.js'
import type { DataSource, SourceContext, SourceStatus } from '../source.js'
import { PREFLIGHT_MAX_AGE_S } from './front.js'
import { proxyPlugin } from './plugin.js'
import { repairsFor } from './repairs.js'
import { Upstream } from './upstream.js'

/** How long the start-up probe may take before the source is reported as still starting. */
const PROBE_TIMEOUT_MS = 3_000

export interface ProxyDataSource extends DataSource {
  /** Upstream counters (connections opened, requests, failures), e.g. to check reuse. */
  readonly upstream: Upstream
}

/**
 * Creates a proxied (`mode: 'proxy'`) or fronted (`mode: 'front'`) source. It probes the first
 * upstream root once (`GET …/studies?limit=1`, a few seconds at most) so the start-up line can
 * say whether it answers; a failed probe is reported, never thrown, since the upstream may come
 * up later.
 */
export async function createProxySource(
  config: ProxySourceConfig | FrontSourceConfig,
  ctx: SourceContext,
): Promise<ProxyDataSource> {
  const state: { health: SourceStatus['health']; lastError: string | undefined } = {
    health: 'starting',
    lastError: undefined,
  }
  const pooled = config.upstream.length > 1
  const upstream = new Upstream(config.upstream, config.timeoutMs, {
    healthCheckMs: config.healthCheckMs,
    // With one upstream every failed request is logged already; with several, say which one
    // left or rejoined the rotation.
    onChange: (member, from) => {
      if (!pooled) return
      const fields = { upstream: member.url, from, to: member.state, error: member.lastError }
      if (member.state === 'down') ctx.logger.warn(fields, 'upstream taken out of the pool')
      else ctx.logger.info(fields, 'upstream back in the pool')
    },
    onHealthRound: () => {
      state.health = upstream.available ? 'up' : 'down'
      if (!upstream.available) state.lastError = upstream.members[0]?.lastError
    },
  })
  const repairs = repairsFor(config.kind, config.repairs)
  const report = (error: IsogateError | undefined) => {
    state.health = error === undefined ? 'up' : 'down'
    if (error !== undefined) state.lastError = error.message
  }

  const cors: CorsPolicy | undefined =
    config.mode === 'front'
      ? {
          allowOrigins: config.allowOrigins,
          credentials: config.credentials,
          writeMethods: config.writeMethods,
          maxAgeSeconds: PREFLIGHT_MAX_AGE_S,
        }
      : undefined

  const plugin = proxyPlugin({
    name: config.name,
    upstream,
    mountPath: ctx.mountPath,
    publicOrigin: ctx.publicOrigin,
    repairs,
    writeMethods: config.writeMethods,
    cors,
    logger: ctx.logger,
    report,
  })

  await probeAll(upstream, Math.min(PROBE_TIMEOUT_MS, config.timeoutMs))
  for (const member of upstream.status()) {
    if (member.state !== 'down') continue
    ctx.logger.warn(
      { upstream: member.url, error: member.lastError },
      pooled
        ? 'this upstream does not answer yet; the others take its requests until it does'
        : 'the upstream does not answer yet; requests will fail until it does',
    )
  }

  const root = ctx.mountPath === '' ? '/' : ctx.mountPath
  return {
    name: config.name,
    mode: config.mode,
    plugin,
    roots: { qidoRoot: root, wadoRoot: root },
    ohifOptions: ohifOptionsFor(config.kind, repairs.splitIncludefield),
    upstream,
    status: () => ({
      name: config.name,
      mode: config.mode,
      health: state.health,
      lastError: state.lastError,
      details: {
        upstream: config.upstream,
        kind: config.kind,
        repairs,
        ...(cors ? { allowOrigins: cors.allowOrigins, credentials: cors.credentials } : {}),
        ...upstream.stats,
        upstreams: upstream.status(),
      },
    }),
    close: () => upstream.close(),
  }
}

/**
 * The first health check of every upstream, then the periodic ones. Any HTTP answer below 500
 * (even 401 from an upstream that wants credentials) counts as up; the wait is bounded, and an
 * upstream still unchecked then stays `starting` until the check ends.
 */
async function probeAll(upstream: Upstream, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    upstream.startHealthChecks(),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ])
  clearTimeout(timer)
}

/**
 * OHIF options for an upstream kind. Orthanc's plugin honours `includefield` only as repeated
 * parameters, so OHIF may ask for fields (study description) only while that repair is on.
 */
function ohifOptionsFor(kind: ProxySourceConfig['kind'], splitIncludefield: boolean) {
  return {
    qidoSupportsIncludeField: kind !== 'orthanc' || splitIncludefield,
    supportsWildcard: true,
    supportsFuzzyMatching: false,
    supportsReject: false,
    supportsStow: false,
    dicomUploadEnabled: false,
    imageRendering: 'wadors',
    thumbnailRendering: 'wadors',
    enableStudyLazyLoad: true,
    staticWado: false,
  }
}

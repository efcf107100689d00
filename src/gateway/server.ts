/**
 * The gateway: one fastify instance serving the viewer and its data sources, HTTP/1.1 on
 * loopback or HTTPS with HTTP/2 (ALPN, HTTP/1.1 still answered). It owns routing, the header
 * hook, and turning every failure into a JSON error reply that keeps the isolation headers.
 */
import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify'
import { fastify, LogController } from 'fastify'

import { IsogateError, isIsogateError } from '../errors.js'
import { setResponseClass } from '../http/response-class.js'
import type { Logger } from '../log.js'
import type { HeaderPlan } from '../policy/plan.js'
import { registerPlanHook } from './headers.js'

export interface TlsMaterial {
  readonly cert: string | Buffer
  readonly key: string | Buffer
}

/** A part of the site, registered under a path prefix (a data source, the viewer, status). */
export interface Mount {
  readonly prefix: string
  readonly plugin: FastifyPluginAsync
}

export interface GatewayOptions {
  readonly plan: HeaderPlan
  readonly logger: Logger
  readonly tls?: TlsMaterial | undefined
  /** Mounted in order; the viewer (with its SPA fallback) should come last. */
  readonly mounts: readonly Mount[]
  /** Upper bound on request headers; DICOMweb GETs are small. */
  readonly maxHeaderBytes?: number
}

export async function createGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const common = {
    loggerInstance: options.logger,
    // Request lines are ours (one at debug, below); fastify's own would double them.
    logController: new LogController({ disableRequestLogging: true }),
    // Nothing the gateway serves takes a large body; proxies with writes stream theirs.
    bodyLimit: 1024 * 1024,
    requestTimeout: 120_000,
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle' as const,
    // Paths are compared after decoding by our own resolvers; keep fastify's defaults strict.
    routerOptions: {
      ignoreTrailingSlash: false,
      ignoreDuplicateSlashes: false,
      maxParamLength: 200,
    },
  }

  const app = (options.tls
    ? fastify({
        ...common,
        http2: true,
        https: {
          allowHTTP1: true,
          cert: options.tls.cert,
          key: options.tls.key,
          // Sane HTTP/2 stream limits: a browser opens at most a few hundred at once.
          settings: { maxConcurrentStreams: 256 },
        },
      })
    : fastify(common)) as unknown as FastifyInstance

  registerPlanHook(app, options.plan)

  // One line per request at debug; quiet otherwise (style.md: logs are quiet by default).
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    )
  })

  app.setErrorHandler((error: FastifyError | IsogateError, request, reply) => {
    const failure = toIsogateError(error)
    const status = failure.status ?? 500
    if (status >= 500) {
      request.log.error(
        { err: error, url: request.url.split('?')[0], code: failure.code },
        'failed',
      )
    }
    setResponseClass(reply, 'error')
    if (reply.sent || reply.raw.headersSent) return
    reply.code(status).type('application/json; charset=utf-8').send(failure.toJSON())
  })

  app.setNotFoundHandler((request, reply) => {
    setResponseClass(reply, 'error')
    const failure = new IsogateError(
      'ISOGATE_E_STATIC_NOT_FOUND',
      `nothing is served at ${request.url.split('?')[0]}`,
    )
    reply.code(404).type('application/json; charset=utf-8').send(failure.toJSON())
  })

  for (const mount of options.mounts) {
    await app.register(mount.plugin, { prefix: mount.prefix === '/' ? '' : mount.prefix })
  }

  return app
}

/** Maps whatever was thrown onto an IsogateError with a status and a stable code. */
export function toIsogateError(error: unknown): IsogateError {
  if (isIsogateError(error)) return error
  const fastifyError = error as Partial<FastifyError>
  const status = fastifyError.statusCode
  if (status === 413) {
    return new IsogateError('ISOGATE_E_GATEWAY_TOO_LARGE', 'request body too large', {
      cause: error,
    })
  }
  if (status === 415 || status === 400) {
    return new IsogateError('ISOGATE_E_DICOM_BAD_REQUEST', fastifyError.message ?? 'bad request', {
      cause: error,
    })
  }
  return new IsogateError('ISOGATE_E_GATEWAY_INTERNAL', 'internal error', { cause: error })
}

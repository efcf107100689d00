/**
 * The routes under `<base path>__isogate/`: the status page and its JSON (loopback clients
 * only, unless `status.allowRemote`), liveness and readiness for orchestrators, and the
 * violation-report collector (open to every client, since reports come from users' browsers,
 * but size- and rate-limited).
 *
 * Access is decided by the TCP peer address alone. X-Forwarded-For and friends are never read
 * here: anyone can send them, so they cannot grant access. Behind a reverse proxy on the same
 * machine every client looks local; docs/status.md says to keep allowRemote off and not to
 * expose `__isogate/` through such a proxy.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { IsogateError } from '../../errors.js'
import { setResponseClass } from '../../http/response-class.js'
import { isLoopbackHost } from '../secure-listen.js'
import { renderStatusPage } from './page.js'
import { REPORT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js'
import {
  MAX_REPORT_BODY_BYTES,
  mediaTypeOf,
  parseReports,
  REPORT_MEDIA_TYPES,
  type ReportRing,
} from './reports.js'
import { statusJsonSchema, type IsogateStatus } from './schema.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `local`: answered to loopback peers only, unless status.allowRemote. */
    statusAccess?: 'local' | 'open'
  }
}

export interface StatusPluginOptions {
  /** Where the routes are mounted, with a trailing slash, e.g. `/__isogate/`. */
  readonly base: string
  readonly allowRemote: boolean
  readonly ring: ReportRing
  /** The status document as of now. */
  readonly status: () => IsogateStatus
  readonly now?: () => number
  readonly rateLimit?: RateLimitOptions
}

/** The TCP peer's address: the only thing access is decided on. */
export function peerAddress(request: FastifyRequest): string {
  return request.raw.socket?.remoteAddress ?? ''
}

/** The fastify plugin; register it with the prefix `base` without its trailing slash. */
export function statusPlugin(options: StatusPluginOptions): FastifyPluginAsync {
  const limiter = new RateLimiter(options.rateLimit ?? REPORT_RATE_LIMIT, options.now ?? Date.now)

  return async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      setResponseClass(reply, 'static')
      if (request.routeOptions.config?.statusAccess !== 'local' || options.allowRemote) return
      const peer = peerAddress(request)
      // A loopback peer that forwards for someone (nginx balancing gateways on one machine)
      // is not the person at this machine: every client behind it would look local.
      const forwarded =
        request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined
      if (forwarded && isLoopbackHost(peer)) {
        throw new IsogateError(
          'ISOGATE_E_GATEWAY_FORBIDDEN',
          'the status page answers loopback clients only, not requests forwarded by a proxy',
          {
            hint: 'Open it on the gateway machine, not through a proxy; or set status.allowRemote.',
          },
        )
      }
      if (!isLoopbackHost(peer)) {
        throw new IsogateError(
          'ISOGATE_E_GATEWAY_FORBIDDEN',
          `the status page answers loopback clients only; ${peer || 'this client'} is not one`,
          { hint: 'Open it on the gateway machine (or an SSH tunnel), or set status.allowRemote.' },
        )
      }
    })

    // Reports only: every body is read as text, up to the limit, whatever its type.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: MAX_REPORT_BODY_BYTES },
      (_request, body, done) => done(null, body),
    )

    app.setErrorHandler((error) => {
      if ((error as { statusCode?: number }).statusCode === 413) {
        options.ring.drop('tooLarge')
        throw new IsogateError(
          'ISOGATE_E_GATEWAY_TOO_LARGE',
          `report bodies are limited to ${MAX_REPORT_BODY_BYTES / 1024} KiB`,
          { cause: error, hint: 'Browsers send small batches; this was not one.' },
        )
      }
      throw error
    })

    const json = (reply: FastifyReply, value: unknown) =>
      reply
        .header('Cache-Control', 'no-store')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(value, null, 2))

    app.get('/', { config: { statusAccess: 'local' } }, async (_request, reply) => {
      setResponseClass(reply, 'document')
      return reply
        .type('text/html; charset=utf-8')
        .send(renderStatusPage(options.status(), options.base))
    })

    app.get('/status.json', { config: { statusAccess: 'local' } }, async (_request, reply) =>
      json(reply, options.status()),
    )

    const schema = statusJsonSchema()
    app.get('/status.schema.json', { config: { statusAccess: 'local' } }, async (_request, reply) =>
      json(reply, schema),
    )

    // Liveness says only that the process answers; it reveals nothing and needs no access.
    app.get('/healthz', { config: { statusAccess: 'open' } }, async (_request, reply) =>
      json(reply, { status: 'ok' }),
    )

    app.get('/readyz', { config: { statusAccess: 'open' } }, async (_request, reply) => {
      const status = options.status()
      const starting = status.sources.filter((s) => s.health === 'starting').map((s) => s.name)
      if (starting.length > 0) {
        throw new IsogateError(
          'ISOGATE_E_GATEWAY_NOT_READY',
          `source(s) still starting: ${starting.join(', ')}`,
          { details: { starting } },
        )
      }
      return json(reply, { status: 'ready' })
    })

    app.post(
      '/reports',
      {
        config: { statusAccess: 'open' },
        // Refused before the body is read: a flood costs a header parse, not a body.
        onRequest: async (request, reply) => {
          if (!limiter.take(peerAddress(request))) {
            options.ring.drop('rateLimited')
            reply.header('Retry-After', '60')
            throw new IsogateError('ISOGATE_E_GATEWAY_RATE_LIMITED', 'too many reports')
          }
          const type = mediaTypeOf(request.headers['content-type'])
          if (!REPORT_MEDIA_TYPES.includes(type)) {
            options.ring.drop('malformed')
            throw new IsogateError(
              'ISOGATE_E_GATEWAY_MEDIA_TYPE',
              `reports must be ${REPORT_MEDIA_TYPES.join(' or ')}, not ${type || '(none)'}`,
            )
          }
        },
      },
      async (request, reply) => {
        options.ring.add(parseReports(typeof request.body === 'string' ? request.body : ''))
        return reply.code(204).send()
      },
    )
  }
}

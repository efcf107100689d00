/**
 * CORS for a source in front mode: viewers on other origins read the upstream through Isogate.
 * The answers come from the pure policy (src/policy/cors.ts); this module puts them on replies.
 * Preflights are answered here and never reach the upstream; every other reply, errors included
 * (R-CORS-8), carries the CORS headers for its Origin and `Vary: Origin`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

import { IsogateError } from '../../errors.js'
import { setResponseClass } from '../../http/response-class.js'
import { corsForPreflight, corsForResponse, type CorsPolicy } from '../../policy/cors.js'
import type { HeaderList } from '../../policy/plan.js'
import { mergeVary } from './headers.js'

/**
 * How long a browser may reuse a preflight answer. Chromium caps it at 7200 s; the cache is per
 * URL, so it helps repeated QIDO and metadata URLs, not each new frame.
 */
export const PREFLIGHT_MAX_AGE_S = 7200

declare module 'fastify' {
  interface FastifyReply {
    isogateCorsDone: boolean
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function writeCors(reply: FastifyReply, headers: HeaderList): void {
  for (const [name, value] of headers) {
    if (name === 'Vary') reply.header('Vary', mergeVary(reply.getHeader('vary'), value))
    else reply.header(name, value)
  }
}

/** Adds CORS to every reply of the instance (a source's encapsulated plugin). */
export function registerCors(app: FastifyInstance, policy: CorsPolicy): void {
  app.decorateReply('isogateCorsDone', false)
  app.addHook('onSend', async (request, reply, payload) => {
    if (!reply.isogateCorsDone) {
      writeCors(reply, corsForResponse(policy, single(request.headers.origin)).headers)
    }
    return payload
  })
}

/**
 * Refuses a request from an Origin not in the allowlist before it costs the upstream anything.
 * A browser would block the reply anyway; saying so in a 403 makes the reason visible (to the
 * doctor, and in the network panel) instead of an opaque CORS failure.
 */
export function checkOrigin(policy: CorsPolicy, request: FastifyRequest): void {
  const origin = single(request.headers.origin)
  if (origin === undefined) return
  const verdict = corsForResponse(policy, origin)
  if (!verdict.allowed) {
    throw new IsogateError('ISOGATE_E_PROXY_ORIGIN_REFUSED', verdict.reason, {
      details: { origin },
    })
  }
}

/** Answers an OPTIONS request itself: 204 with the preflight headers, or 403 with the reason. */
export function answerPreflight(
  policy: CorsPolicy,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const origin = single(request.headers.origin)
  const method = single(request.headers['access-control-request-method'])
  const verdict = corsForPreflight(
    policy,
    origin,
    method,
    single(request.headers['access-control-request-headers']),
  )
  setResponseClass(reply, 'preflight')
  reply.isogateCorsDone = true
  writeCors(reply, verdict.headers)
  if (!verdict.allowed && origin !== undefined) {
    const failure = new IsogateError('ISOGATE_E_PROXY_ORIGIN_REFUSED', verdict.reason, {
      details: { origin, ...(method ? { method } : {}) },
    })
    return reply.code(403).type('application/json; charset=utf-8').send(failure.toJSON())
  }
  // OPTIONS without Origin is not a preflight: say what the resource allows.
  reply.header('Allow', ['GET', 'HEAD', 'OPTIONS', ...policy.writeMethods].join(', '))
  return reply.code(204).send()
}

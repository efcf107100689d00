/**
 * How a route says which class its reply belongs to, so that the gateway's one header hook can
 * apply the plan. A route either declares it statically (`config: { responseClass }`) or sets it
 * per reply (a static file route knows only after looking at the file).
 */
import type { FastifyReply } from 'fastify'

import type { ResponseClass } from '../policy/plan.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    responseClass?: ResponseClass
  }
  interface FastifyReply {
    isogateClass: ResponseClass | undefined
  }
}

export function setResponseClass(reply: FastifyReply, responseClass: ResponseClass): void {
  reply.isogateClass = responseClass
}

export function responseClassOf(reply: FastifyReply): ResponseClass | undefined {
  return reply.isogateClass ?? reply.request.routeOptions.config?.responseClass
}

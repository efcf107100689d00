/**
 * The one place where the header plan meets replies. Every reply passes through `applyPlan`
 * (as an onSend hook, or called directly by the few routes that write to the socket
 * themselves), so no route can forget an isolation header, and error replies carry the same
 * ones as successes.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'

import { responseClassOf } from '../http/response-class.js'
import {
  headersFor,
  PLANNED_HEADER_NAMES,
  type HeaderList,
  type HeaderPlan,
} from '../policy/plan.js'

/** Re-exported for routes that write to the socket themselves. */
export { headersFor }

/** Writes a plan's headers on a reply, replacing any copy an upstream or a plugin set. */
export function writeHeaders(
  set: (name: string, value: string) => void,
  remove: (name: string) => void,
  existing: Iterable<string>,
  headers: HeaderList,
): void {
  // A second copy of COOP/COEP/CORP makes the browser ignore the header (R-SF-1, R-CORP-1).
  for (const name of existing) {
    if (PLANNED_HEADER_NAMES.has(name.toLowerCase())) remove(name)
  }
  for (const [name, value] of headers) set(name, value)
}

export function applyPlan(plan: HeaderPlan, reply: FastifyReply): void {
  const responseClass = responseClassOf(reply) ?? 'error'
  writeHeaders(
    (name, value) => void reply.header(name, value),
    (name) => void reply.removeHeader(name),
    Object.keys(reply.getHeaders()),
    headersFor(plan, responseClass, reply.statusCode),
  )
}

/** Registers the hook on an instance; every route registered on it is covered. */
export function registerPlanHook(app: FastifyInstance, plan: HeaderPlan): void {
  app.decorateReply('isogateClass', undefined)
  app.addHook('onSend', async (_request, reply, payload) => {
    applyPlan(plan, reply)
    return payload
  })
}

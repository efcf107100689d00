/**
 * The upstream side of a proxied source: one undici Pool per upstream origin, kept alive,
 * requests spread round-robin over the roots that are up (pool.ts keeps their health), one
 * retry on another root for a request that never got an answer, and failures mapped onto stable
 * ISOGATE_E_PROXY_* codes.
 */
import type { Readable } from 'node:stream'

import { Pool, type Dispatcher } from 'undici'

import { IsogateError } from '../../errors.js'
import {
  DEFAULT_HEALTH_CHECK_MS,
  HealthChecker,
  Member,
  RoundRobin,
  type MemberState,
  type MemberStatus,
} from './pool.js'

/**
 * Orthanc answers `Keep-Alive: timeout=1`. undici subtracts this threshold from the hint; with
 * its default (1 s) nothing is left and every connection is closed after one response (a
 * TIME-WAIT socket per frame, ~40 % more CPU per frame; proxy-notes.md). 200 ms still leaves
 * room for the request to reach the upstream before its idle timer fires.
 */
export const KEEP_ALIVE_THRESHOLD_MS = 200

/** Replies of one pool member that send an idempotent request to another member. */
const RETRIED_STATUSES = new Set([500, 502, 503, 504])

/** Connections per upstream origin; a browser opens at most a few dozen to us. */
const CONNECTIONS = 32

/** Node socket errors that mean nobody answered at that address. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
])

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
])

export interface UpstreamRequest {
  readonly method: string
  /** Path below the root plus `?query`, already checked by resolveTarget. */
  readonly url: (root: URL) => string
  readonly headers: Record<string, string>
  readonly body?: Readable | undefined
  readonly signal: AbortSignal
}

export interface UpstreamResponse {
  readonly root: URL
  readonly statusCode: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Readable
}

/** Counters for the status page and for tests of connection reuse. */
export interface UpstreamStats {
  connectionsOpened: number
  requests: number
  failures: number
  /** Requests sent a second time, on another upstream when there is one. */
  retries: number
}

export interface UpstreamOptions {
  /** Period of the health checks; see DEFAULT_HEALTH_CHECK_MS. */
  readonly healthCheckMs?: number | undefined
  /** A member went up or down (never called for the first check of a `starting` member). */
  readonly onChange?: (member: MemberStatus, from: MemberState) => void
  /** After each round of health checks. */
  readonly onHealthRound?: () => void
}

export class Upstream {
  readonly roots: readonly URL[]
  readonly stats: UpstreamStats = { connectionsOpened: 0, requests: 0, failures: 0, retries: 0 }
  /** One per root, in configured order. */
  readonly members: readonly Member[]
  private readonly pools = new Map<string, Pool>()
  private readonly timeoutMs: number
  private readonly robin = new RoundRobin()
  private readonly checker: HealthChecker

  constructor(roots: readonly string[], timeoutMs: number, options: UpstreamOptions = {}) {
    this.roots = roots.map((root) => new URL(root))
    this.timeoutMs = timeoutMs
    this.members = this.roots.map(
      (root) =>
        new Member(root, (member, from) => {
          if (from !== 'starting') options.onChange?.(member.status(), from)
        }),
    )
    const intervalMs = options.healthCheckMs ?? DEFAULT_HEALTH_CHECK_MS
    this.checker = new HealthChecker(this.members, {
      intervalMs,
      timeoutMs: Math.min(timeoutMs, Math.max(2 * intervalMs, 2_000)),
      keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
      onRound: options.onHealthRound,
    })
  }

  private pool(root: URL): Pool {
    let pool = this.pools.get(root.origin)
    if (pool === undefined) {
      pool = new Pool(root.origin, {
        connections: CONNECTIONS,
        keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        connectTimeout: Math.min(this.timeoutMs, 10_000),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      })
      pool.on('connect', () => this.stats.connectionsOpened++)
      this.pools.set(root.origin, pool)
    }
    return pool
  }

  /** Checks every upstream now, then every `healthCheckMs` until `close()`. */
  async startHealthChecks(): Promise<void> {
    await this.checker.checkAll()
    this.checker.start()
  }

  /** Each upstream's state, latency and error count. */
  status(): MemberStatus[] {
    return this.members.map((member) => member.status())
  }

  /** True when at least one upstream is up (or not checked yet). */
  get available(): boolean {
    return this.members.some((member) => member.state !== 'down')
  }

  /**
   * Sends a request to the next upstream that is up (round-robin). A GET or HEAD that found
   * nobody at the address, or whose connection was reset before any reply, is sent once more:
   * on another upstream when there is one, else on a fresh connection to the same (only after a
   * reset). A GET or HEAD that one member of a pool answers with 500/502/503/504 goes once to
   * another member: replicas of one store share the data, so a transient fault of one (a
   * database conflict, a restart) need not reach the viewer. Otherwise, once response headers
   * are back the request is never repeated; a reply that breaks off mid-body is cut short.
   */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.stats.requests++
    const idempotent = request.method === 'GET' || request.method === 'HEAD'
    const order = this.robin.order(this.members)
    let lastError: IsogateError | undefined
    for (let attempt = 0; attempt < (idempotent ? 2 : 1) && order.length > 0; attempt++) {
      const member = order[Math.min(attempt, order.length - 1)] as Member
      const root = member.root
      if (attempt > 0) this.stats.retries++
      member.requests++
      const started = performance.now()
      try {
        const response = await this.pool(root).request({
          method: request.method as Dispatcher.HttpMethod,
          path: request.url(root).slice(root.origin.length),
          headers: request.headers,
          body: request.body ?? null,
          signal: request.signal,
        })
        member.answered(performance.now() - started)
        const another = attempt === 0 && order.length > 1
        if (idempotent && another && RETRIED_STATUSES.has(response.statusCode)) {
          // Nothing of this reply has been sent on: drop it and ask the next member.
          // (undici's body reports its own destruction as an error: nobody needs it.)
          response.body.on('error', () => undefined)
          response.body.destroy()
          lastError = new IsogateError(
            'ISOGATE_E_PROXY_BAD_RESPONSE',
            `the upstream ${root.origin} answered ${response.statusCode}`,
            { details: { upstream: root.origin, reason: `HTTP ${response.statusCode}` } },
          )
          member.failed(lastError.message, false)
          continue
        }
        return {
          root,
          statusCode: response.statusCode,
          headers: response.headers,
          body: response.body,
        }
      } catch (error) {
        if (request.signal.aborted) throw error
        lastError = upstreamFailure(error, root)
        const nobodyThere = isConnectFailure(error)
        const reset = isResetBeforeReply(error)
        member.failed(lastError.message, nobodyThere)
        if (!(nobodyThere || reset)) break
        // With a single upstream only a reset is worth a second try (a fresh connection).
        if (order.length === 1 && !reset) break
      }
    }
    this.stats.failures++
    throw lastError ?? new IsogateError('ISOGATE_E_PROXY_UNREACHABLE', 'no upstream configured')
  }

  async close(): Promise<void> {
    await this.checker.close()
    await Promise.allSettled([...this.pools.values()].map((pool) => pool.close()))
    this.pools.clear()
  }
}

function codeOf(error: unknown): string {
  const seen = new Set<unknown>()
  let current: unknown = error
  // undici wraps socket errors; the first code found along `cause` decides.
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') return code
    current = (current as { cause?: unknown }).cause
  }
  return ''
}

/** Nobody took the connection: the request never reached the upstream. */
function isConnectFailure(error: unknown): boolean {
  const code = codeOf(error)
  return UNREACHABLE_CODES.has(code) || code === 'UND_ERR_CONNECT_TIMEOUT'
}

function isResetBeforeReply(error: unknown): boolean {
  const code = codeOf(error)
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE'
}

/**
 * Maps an undici or socket failure onto a stable code. The message names the upstream for the
 * log; the JSON reply (toJSON) carries it too only through `details.upstream`, which the plugin
 * leaves out so that internal addresses never reach the browser.
 */
export function upstreamFailure(error: unknown, root: URL): IsogateError {
  if (error instanceof IsogateError) return error
  const code = codeOf(error)
  const where = `${root.origin}${root.pathname.replace(/\/+$/, '')}`
  if (TIMEOUT_CODES.has(code)) {
    return new IsogateError('ISOGATE_E_PROXY_TIMEOUT', `the upstream ${where} timed out`, {
      cause: error,
      details: { upstream: where, reason: code },
    })
  }
  if (UNREACHABLE_CODES.has(code)) {
    return new IsogateError('ISOGATE_E_PROXY_UNREACHABLE', `the upstream ${where} is unreachable`, {
      cause: error,
      details: { upstream: where, reason: code },
    })
  }
  return new IsogateError(
    'ISOGATE_E_PROXY_BAD_RESPONSE',
    `the upstream ${where} sent a broken reply`,
    { cause: error, details: { upstream: where, reason: code || 'unknown' } },
  )
}

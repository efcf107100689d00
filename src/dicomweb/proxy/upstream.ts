/**
 * The upstream side of a proxied source: one undici Pool per upstream origin, kept alive, with
 * failover between the configured roots and failures mapped onto stable ISOGATE_E_PROXY_* codes.
 */
import type { Readable } from 'node:stream'

import { Pool, type Dispatcher } from 'undici'

import { IsogateError } from '../../errors.js'

/**
 * Orthanc answers `Keep-Alive: timeout=1`. undici subtracts this threshold from the hint; with
 * its default (1 s) nothing is left and every connection is closed after one response (a
 * TIME-WAIT socket per frame, ~40 % more CPU per frame; proxy-notes.md). 200 ms still leaves
 * room for the request to reach the upstream before its idle timer fires.
 */
export const KEEP_ALIVE_THRESHOLD_MS = 200

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
}

export class Upstream {
  readonly roots: readonly URL[]
  readonly stats: UpstreamStats = { connectionsOpened: 0, requests: 0, failures: 0 }
  private readonly pools = new Map<string, Pool>()
  private readonly timeoutMs: number
  /** The root that answered last; requests start there and fail over to the others. */
  private preferred = 0

  constructor(roots: readonly string[], timeoutMs: number) {
    this.roots = roots.map((root) => new URL(root))
    this.timeoutMs = timeoutMs
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

  /**
   * Sends a request, trying each root in turn while they are unreachable. A GET or HEAD whose
   * reused connection the upstream closed before answering is sent once more on a fresh one.
   */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.stats.requests++
    const idempotent = request.method === 'GET' || request.method === 'HEAD'
    let lastError: IsogateError | undefined
    for (let i = 0; i < this.roots.length; i++) {
      const index = (this.preferred + i) % this.roots.length
      const root = this.roots[index] as URL
      for (let attempt = 0; attempt < (idempotent ? 2 : 1); attempt++) {
        try {
          const response = await this.pool(root).request({
            method: request.method as Dispatcher.HttpMethod,
            path: request.url(root).slice(root.origin.length),
            headers: request.headers,
            body: request.body ?? null,
            signal: request.signal,
          })
          this.preferred = index
          return {
            root,
            statusCode: response.statusCode,
            headers: response.headers,
            body: response.body,
          }
        } catch (error) {
          if (request.signal.aborted) throw error
          lastError = upstreamFailure(error, root)
          const retry = idempotent && attempt === 0 && isResetBeforeReply(error)
          if (!retry) break
        }
      }
      // Only "nobody there" moves on to the next root; a slow or broken one answered.
      if (lastError?.code !== 'ISOGATE_E_PROXY_UNREACHABLE' || !idempotent) break
    }
    this.stats.failures++
    throw lastError ?? new IsogateError('ISOGATE_E_PROXY_UNREACHABLE', 'no upstream configured')
  }

  async close(): Promise<void> {
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

/**
 * The members of an upstream pool: several roots of one store (Orthanc processes on one
 * PostgreSQL index, dcm4chee nodes), each with its own state, latency and error count. Requests
 * go round-robin over the members that are up; a member that refuses connections, fails
 * repeatedly or stops answering the periodic health check is taken out until a check succeeds.
 * No logging here: state changes are handed to `onChange`, and the source decides what to say.
 */
import { Client } from 'undici'

/** `starting`: not checked yet. `down`: taken out of rotation until a check succeeds. */
export type MemberState = 'starting' | 'up' | 'down'

/** One upstream as the status page and `isogate status --json` show it. */
export interface MemberStatus {
  readonly url: string
  readonly state: MemberState
  /** Smoothed time to response headers (requests and checks), in milliseconds. */
  readonly latencyMs: number | null
  readonly requests: number
  readonly errors: number
  readonly checks: number
  readonly lastError: string | undefined
  /** When the member last changed state (ISO 8601). */
  readonly since: string
}

/** Consecutive failed requests (other than refused connections) that take a member out. */
const FAILURES_TO_DOWN = 3

/** Weight of a new latency sample in the moving average. */
const LATENCY_WEIGHT = 0.2

/** A health-check reply larger than this is not read to the end (the connection is dropped). */
const CHECK_BODY_LIMIT = 64 * 1024

/** The default health-check period when the source sets none (`healthCheckMs`). */
export const DEFAULT_HEALTH_CHECK_MS = 5_000

export class Member {
  readonly root: URL
  state: MemberState = 'starting'
  requests = 0
  errors = 0
  checks = 0
  lastError: string | undefined
  private latency: number | undefined
  private consecutive = 0
  private since = new Date()
  private readonly onChange: (member: Member, from: MemberState) => void

  constructor(root: URL, onChange: (member: Member, from: MemberState) => void) {
    this.root = root
    this.onChange = onChange
  }

  /** The root as configured, without a trailing slash. */
  get url(): string {
    return `${this.root.origin}${this.root.pathname.replace(/\/+$/, '')}`
  }

  /** A request or check got response headers after `ms`. */
  answered(ms: number): void {
    this.latency =
      this.latency === undefined ? ms : this.latency + LATENCY_WEIGHT * (ms - this.latency)
    this.consecutive = 0
    this.set('up')
  }

  /**
   * A request or check failed. `takeOut`: nobody answered at the address (refused, connect
   * timeout) or a health check failed, so the member leaves rotation at once; other failures
   * take it out after a few in a row.
   */
  failed(message: string, takeOut: boolean): void {
    this.errors++
    this.consecutive++
    this.lastError = message
    if (takeOut || this.consecutive >= FAILURES_TO_DOWN) this.set('down')
  }

  status(): MemberStatus {
    return {
      url: this.url,
      state: this.state,
      latencyMs: this.latency === undefined ? null : Math.round(this.latency * 10) / 10,
      requests: this.requests,
      errors: this.errors,
      checks: this.checks,
      lastError: this.lastError,
      since: this.since.toISOString(),
    }
  }

  private set(state: MemberState): void {
    if (state === this.state) return
    const from = this.state
    this.state = state
    this.since = new Date()
    this.onChange(this, from)
  }
}

/**
 * Round-robin over the members: each call starts one further along, members that are up (or
 * not yet checked) first, then those taken out, as a last resort when nothing else answers.
 */
export class RoundRobin {
  private next = 0

  order(members: readonly Member[]): Member[] {
    const start = this.next
    this.next = (this.next + 1) % Math.max(1, members.length)
    const rotated = [...members.slice(start), ...members.slice(0, start)]
    return [
      ...rotated.filter((member) => member.state !== 'down'),
      ...rotated.filter((member) => member.state === 'down'),
    ]
  }
}

export interface HealthCheckOptions {
  readonly intervalMs: number
  /** Longest wait for a check's response headers. */
  readonly timeoutMs: number
  readonly keepAliveTimeoutThreshold: number
  /** Called after each round of checks, whatever changed. */
  readonly onRound?: () => void
}

/**
 * Periodic `GET <root>/studies?limit=1` on every member, on a connection of its own (so checks
 * never count as proxied traffic). Any answer below 500 puts a member back; an error, a
 * timeout or a 5xx takes it out. The timer does not keep the process alive.
 */
export class HealthChecker {
  private readonly clients = new Map<Member, Client>()
  private readonly running = new Set<Member>()
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly members: readonly Member[],
    private readonly options: HealthCheckOptions,
  ) {}

  start(): void {
    if (this.timer !== undefined || this.closed) return
    this.timer = setInterval(() => void this.checkAll(), this.options.intervalMs)
    this.timer.unref()
  }

  /** Checks every member once, concurrently; resolves when all have an outcome. */
  async checkAll(): Promise<void> {
    await Promise.all(this.members.map((member) => this.check(member)))
    if (!this.closed) this.options.onRound?.()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    const clients = [...this.clients.values()]
    this.clients.clear()
    await Promise.allSettled(clients.map((client) => client.destroy()))
  }

  private client(member: Member): Client {
    let client = this.clients.get(member)
    if (client === undefined) {
      client = new Client(member.root.origin, {
        keepAliveTimeoutThreshold: this.options.keepAliveTimeoutThreshold,
        connectTimeout: this.options.timeoutMs,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      })
      this.clients.set(member, client)
    }
    return client
  }

  private async check(member: Member): Promise<void> {
    if (this.running.has(member) || this.closed) return
    this.running.add(member)
    const started = performance.now()
    try {
      const response = await this.client(member).request({
        method: 'GET',
        path: `${member.root.pathname.replace(/\/+$/, '')}/studies?limit=1`,
        headers: { accept: 'application/dicom+json' },
      })
      const ms = performance.now() - started
      const length = Number(response.headers['content-length'] ?? Number.NaN)
      // A small reply is read so the connection is kept; anything else is cut off.
      if (length <= CHECK_BODY_LIMIT) await response.body.dump({ limit: CHECK_BODY_LIMIT })
      // undici's body turns a plain destroy() into an 'error' event: give it a listener.
      else response.body.on('error', () => undefined).destroy()
      if (this.closed) return
      member.checks++
      if (response.statusCode >= 500) {
        member.failed(`health check: HTTP ${response.statusCode} from ${member.url}`, true)
      } else {
        member.answered(ms)
      }
    } catch (error) {
      if (this.closed) return
      member.checks++
      const code = (error as { code?: unknown }).code
      const reason = typeof code === 'string' ? code : (error as Error).name
      member.failed(`health check of ${member.url} failed (${reason})`, true)
    } finally {
      this.running.delete(member)
    }
  }
}

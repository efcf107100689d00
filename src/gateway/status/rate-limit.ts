/**
 * Token buckets keyed by client address, plus one shared bucket, so that one noisy or hostile
 * client cannot fill the report ring or spend the gateway's time. The clock is passed in, so the
 * limits are tested without waiting.
 */

export interface RateLimitOptions {
  /** Posts one client may send in a burst. */
  readonly burst: number
  /** Posts one client regains per minute. */
  readonly perMinute: number
  /** Posts all clients together may send per minute (also the shared burst). */
  readonly globalPerMinute: number
  /** Clients remembered at once; the least recently seen are forgotten first. */
  readonly maxClients: number
}

export const REPORT_RATE_LIMIT: RateLimitOptions = {
  burst: 20,
  perMinute: 30,
  globalPerMinute: 300,
  maxClients: 1024,
}

interface Bucket {
  tokens: number
  at: number
}

export class RateLimiter {
  private readonly clients = new Map<string, Bucket>()
  private readonly shared: Bucket

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.shared = { tokens: options.globalPerMinute, at: now() }
  }

  /** Takes one token for `client`; false when the client or everyone together is over. */
  take(client: string): boolean {
    const now = this.now()
    let bucket = this.clients.get(client)
    if (bucket) {
      this.clients.delete(client)
    } else {
      bucket = { tokens: this.options.burst, at: now }
      if (this.clients.size >= this.options.maxClients) {
        const oldest = this.clients.keys().next().value
        if (oldest !== undefined) this.clients.delete(oldest)
      }
    }
    // Re-inserting keeps the map in least-recently-seen order for eviction.
    this.clients.set(client, bucket)
    refill(bucket, now, this.options.perMinute, this.options.burst)
    refill(this.shared, now, this.options.globalPerMinute, this.options.globalPerMinute)
    if (bucket.tokens < 1 || this.shared.tokens < 1) return false
    bucket.tokens -= 1
    this.shared.tokens -= 1
    return true
  }
}

function refill(bucket: Bucket, now: number, perMinute: number, cap: number): void {
  const elapsed = Math.max(0, now - bucket.at)
  bucket.tokens = Math.min(cap, bucket.tokens + (elapsed * perMinute) / 60_000)
  bucket.at = now
}

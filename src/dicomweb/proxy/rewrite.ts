/**
 * Rewriting the upstream's absolute URLs to the public ones, in headers and, streaming, in
 * bodies. Upstreams build BulkDataURI and RetrieveURL from their own idea of where they live
 * (user cases B15, B20); the browser must only ever see the public origin and the mount path.
 * The body rewriter works on bytes, holding back only as many as the longest URL prefix, so a
 * prefix split across chunks is still found and memory stays flat whatever the body size.
 */
import { Transform, type TransformCallback } from 'node:stream'

/** One upstream URL prefix and its public replacement (neither with a trailing slash). */
export interface UrlMapping {
  readonly from: string
  readonly to: string
}

interface Pattern {
  readonly from: Buffer
  readonly to: Buffer
  /** `from`'s bytes read as latin1 (as header values are), for a quick look in those. */
  readonly text: string
}

/**
 * A prefix matches only where the URL continues with a path, query or fragment, or ends: so
 * `http://pacs:8042/dicom-web` is not found inside `http://pacs:80421/…` or `…/dicom-web2/`.
 * Letters, digits and `-._~%:` would continue a host, port or segment.
 */
function continuesName(byte: number | undefined): boolean {
  if (byte === undefined) return false
  return (
    (byte >= 0x30 && byte <= 0x39) ||
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x5f ||
    byte === 0x7e ||
    byte === 0x25 ||
    byte === 0x3a
  )
}

/**
 * The byte patterns for a set of mappings: each URL as written, and as JSON writes it when it
 * escapes `/` as `\/` (some servers do). Longest first, so the most specific prefix wins.
 */
function compile(mappings: readonly UrlMapping[]): readonly Pattern[] {
  const patterns: Pattern[] = []
  for (const { from, to } of mappings) {
    if (from === to) continue
    const plain = Buffer.from(from)
    patterns.push({ from: plain, to: Buffer.from(to), text: plain.toString('latin1') })
    if (from.includes('/')) {
      const escaped = Buffer.from(from.replaceAll('/', '\\/'))
      patterns.push({
        from: escaped,
        to: Buffer.from(to.replaceAll('/', '\\/')),
        text: escaped.toString('latin1'),
      })
    }
  }
  return patterns.sort((a, b) => b.from.length - a.from.length)
}

/**
 * Compiled patterns by mapping set. Every reply builds its mappings afresh (the public origin
 * may change), but their content is almost always the same: a multipart frame reply would
 * otherwise compile them again for each part's Content-Location. Bounded: a proxy has a few
 * upstream roots and public origins, and anything beyond is simply compiled again.
 */
const compiled = new Map<string, readonly Pattern[]>()
const COMPILED_MAX = 64

function compileCached(mappings: readonly UrlMapping[]): readonly Pattern[] {
  let key = ''
  for (const { from, to } of mappings) key += `${from}\n${to}\n`
  let patterns = compiled.get(key)
  if (patterns === undefined) {
    patterns = compile(mappings)
    if (compiled.size >= COMPILED_MAX) compiled.clear()
    compiled.set(key, patterns)
  }
  return patterns
}

/** Rewrites every mapped prefix in a header value (Location, Content-Location, Link). */
export function rewriteValue(value: string, mappings: readonly UrlMapping[]): string {
  const patterns = compileCached(mappings)
  // Most header values name no upstream URL: nothing to copy or convert back.
  if (!patterns.some((p) => value.includes(p.text))) return value
  return rewriteBuffer(Buffer.from(value, 'latin1'), patterns).toString('latin1')
}

function rewriteBuffer(input: Buffer, patterns: readonly Pattern[]): Buffer {
  const out: Buffer[] = []
  const end = scan(input, 0, input.length, true, patterns, out)
  out.push(input.subarray(end))
  return Buffer.concat(out)
}

/**
 * Copies `buf` from `start` into `out`, replacing matches that start before `limit`; returns
 * where it stopped (bytes from there on are held back for the next chunk). `final` says no more
 * bytes will come, so a prefix that ends the buffer is a complete URL.
 */
function scan(
  buf: Buffer,
  start: number,
  limit: number,
  final: boolean,
  patterns: readonly Pattern[],
  out: Buffer[],
): number {
  let pos = start
  // Where each pattern next occurs (-1: nowhere), searched again only once passed: a pattern
  // that never occurs is looked for once per buffer, not once per match of the others.
  const next = patterns.map(() => -2)
  while (pos < limit) {
    let best = -1
    let bestPattern: Pattern | undefined
    for (let i = 0; i < patterns.length; i++) {
      const pattern = patterns[i] as Pattern
      let at = next[i] as number
      if (at !== -1 && at < pos) next[i] = at = buf.indexOf(pattern.from, pos)
      if (at >= 0 && at < limit && (best < 0 || at < best)) {
        best = at
        bestPattern = pattern
      }
    }
    if (bestPattern === undefined) {
      out.push(buf.subarray(pos, limit))
      return limit
    }
    const after = best + bestPattern.from.length
    if (!final && after >= buf.length) {
      // The byte that decides the match has not arrived; keep everything from here.
      out.push(buf.subarray(pos, best))
      return best
    }
    if (continuesName(buf[after])) {
      out.push(buf.subarray(pos, best + 1))
      pos = best + 1
      continue
    }
    out.push(buf.subarray(pos, best), bestPattern.to)
    pos = after
  }
  return pos
}

/**
 * Rewrites URL prefixes in a byte stream fed in pieces, synchronously: `update` returns what
 * is ready, holding back at most the longest prefix's length; `finish` returns the rest.
 */
export class PrefixRewriter {
  private readonly patterns: readonly Pattern[]
  private readonly hold: number
  private carry: Buffer = Buffer.alloc(0)

  constructor(mappings: readonly UrlMapping[]) {
    this.patterns = compileCached(mappings)
    this.hold = this.patterns.reduce((max, p) => Math.max(max, p.from.length), 0)
  }

  update(chunk: Buffer): Buffer {
    if (this.patterns.length === 0) return chunk
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    // A match starting at or after `limit` might still be incomplete.
    const limit = Math.max(0, buf.length - this.hold)
    const out: Buffer[] = []
    const stop = scan(buf, 0, limit, false, this.patterns, out)
    // Copy what is held back: `buf` may be the caller's chunk, reused after we return.
    this.carry = Buffer.from(buf.subarray(stop))
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out)
  }

  finish(): Buffer {
    const rest = this.carry.length > 0 ? rewriteBuffer(this.carry, this.patterns) : this.carry
    this.carry = Buffer.alloc(0)
    return rest
  }
}

/** A Transform around PrefixRewriter, for whole bodies of a text type. */
export class UrlRewriter extends Transform {
  private readonly rewriter: PrefixRewriter

  constructor(mappings: readonly UrlMapping[]) {
    super()
    this.rewriter = new PrefixRewriter(mappings)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const ready = this.rewriter.update(chunk)
    if (ready.length > 0) this.push(ready)
    done()
  }

  override _flush(done: TransformCallback): void {
    const rest = this.rewriter.finish()
    if (rest.length > 0) this.push(rest)
    done()
  }
}

/**
 * The mappings for one upstream root: URLs on the upstream's own origin (what it builds from
 * the Host header it is sent) and URLs on the public origin with the upstream's path (what an
 * upstream honouring X-Forwarded-Host builds, since none of them knows our mount path).
 */
export function mappingsFor(
  upstreamOrigin: string,
  upstreamPath: string,
  publicBase: string,
): UrlMapping[] {
  const publicOrigin = new URL(publicBase).origin
  return [
    { from: `${upstreamOrigin}${upstreamPath}`, to: publicBase },
    { from: `${publicOrigin}${upstreamPath}`, to: publicBase },
  ].filter((m) => m.from !== m.to)
}

/**
 * Content types whose bodies may hold absolute URLs and are safe to rewrite as text. Multipart
 * bodies are not text: multipart.ts rewrites them part by part.
 */
export function isRewritable(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? ''
  return (
    type === 'application/dicom+json' ||
    type === 'application/json' ||
    type === 'application/dicom+xml' ||
    type === 'application/xml' ||
    type === 'text/xml' ||
    type === 'text/html' ||
    type === 'text/plain'
  )
}

/**
 * Rewriting inside multipart/related replies (frames, bulk data, XML metadata). Orthanc puts a
 * `Content-Location` with its own absolute URL in every part's headers, and a `Content-Length`
 * in each. The rewriter walks the parts as they stream: part headers are rewritten, text parts
 * (DICOM JSON or XML) have their URLs rewritten and lose their now-wrong Content-Length (the
 * delimiter alone frames a part, RFC 2046 §5.1.1), and binary parts pass byte for byte.
 */
import { Transform, type TransformCallback } from 'node:stream'

import { isRewritable, PrefixRewriter, rewriteValue, type UrlMapping } from './rewrite.js'

/** Part headers larger than this are not DICOMweb; the rest of the body passes untouched. */
const MAX_PART_HEADERS = 16 * 1024

/** The boundary parameter of a multipart content type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '')
  return match?.[1] ?? match?.[2]
}

type State = 'preamble' | 'headers' | 'body' | 'epilogue'

export class MultipartRewriter extends Transform {
  private readonly mappings: readonly UrlMapping[]
  /** `\r\n--boundary`: what ends a part body (the first delimiter may lack the CRLF). */
  private readonly delimiter: Buffer
  private state: State = 'preamble'
  private carry: Buffer = Buffer.alloc(0)
  /** Rewriter for the current part's body when it is text, else undefined (pass through). */
  private part: PrefixRewriter | undefined

  constructor(boundary: string, mappings: readonly UrlMapping[]) {
    super()
    this.mappings = mappings
    this.delimiter = Buffer.from(`\r\n--${boundary}`)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.passBinary(chunk)) return done()
    this.carry = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    this.drain(false)
    // Keep our own copy of what is held back: the caller may reuse its chunk.
    this.carry = Buffer.from(this.carry)
    done()
  }

  /**
   * The hot path of frames: inside a binary part, a chunk with no delimiter in it nor across
   * the seam with what is held back passes on as it came, without being copied onto the held
   * bytes (a 512 KiB frame would otherwise be copied once more on its way through). Returns
   * false when the general path must handle the chunk.
   */
  private passBinary(chunk: Buffer): boolean {
    const length = this.delimiter.length
    if (this.state !== 'body' || this.part !== undefined || chunk.length <= length) return false
    if (this.carry.length > length) return false
    if (chunk.indexOf(this.delimiter) >= 0) return false
    if (this.carry.length > 0) {
      const seam = Buffer.concat([this.carry, chunk.subarray(0, length - 1)])
      if (seam.indexOf(this.delimiter) >= 0) return false
      this.push(this.carry)
    }
    const safe = chunk.length - length
    this.push(chunk.subarray(0, safe))
    // Our own copy of the held-back tail: the caller may reuse its chunk.
    this.carry = Buffer.from(chunk.subarray(safe))
    return true
  }

  override _flush(done: TransformCallback): void {
    this.drain(true)
    if (this.carry.length > 0) this.emitBody(this.carry)
    this.endPart()
    this.carry = Buffer.alloc(0)
    done()
  }

  private drain(final: boolean): void {
    for (;;) {
      const buf = this.carry
      if (this.state === 'epilogue') {
        if (buf.length > 0) this.push(buf)
        this.carry = Buffer.alloc(0)
        return
      }
      if (this.state === 'preamble') {
        // The first delimiter may open the body without a preceding CRLF.
        const bare = this.delimiter.subarray(2)
        const at = buf.indexOf(bare)
        if (at < 0) {
          if (final || buf.length > MAX_PART_HEADERS) this.giveUp()
          return
        }
        if (buf.length < at + bare.length + 2) return
        this.push(buf.subarray(0, at + bare.length))
        this.afterDelimiter(buf.subarray(at + bare.length))
        continue
      }
      if (this.state === 'headers') {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) {
          if (final || buf.length > MAX_PART_HEADERS) this.giveUp()
          return
        }
        this.push(this.rewriteHeaders(buf.subarray(0, end).toString('latin1')))
        this.push(Buffer.from('\r\n\r\n'))
        this.carry = buf.subarray(end + 4)
        this.state = 'body'
        continue
      }
      // Body: everything before a possible delimiter start is safe to hand on.
      const at = buf.indexOf(this.delimiter)
      if (at < 0) {
        const safe = Math.max(0, buf.length - this.delimiter.length)
        if (safe > 0) this.emitBody(buf.subarray(0, safe))
        this.carry = buf.subarray(safe)
        return
      }
      if (buf.length < at + this.delimiter.length + 2) {
        if (at > 0) this.emitBody(buf.subarray(0, at))
        this.carry = buf.subarray(at)
        if (!final) return
        this.endPart()
        this.state = 'epilogue'
        continue
      }
      this.emitBody(buf.subarray(0, at))
      this.endPart()
      this.push(this.delimiter)
      this.afterDelimiter(buf.subarray(at + this.delimiter.length))
    }
  }

  /** After `--boundary`: `--` closes the body, a line break opens the next part's headers. */
  private afterDelimiter(rest: Buffer): void {
    if (rest.subarray(0, 2).toString('latin1') === '--') {
      this.state = 'epilogue'
      this.carry = rest
      return
    }
    this.state = 'headers'
    this.carry = rest
  }

  private rewriteHeaders(block: string): Buffer {
    const lines = block.split('\r\n')
    const type = lines.find((l) => /^\s*content-type\s*:/i.test(l))?.replace(/^[^:]*:/, '')
    const text = isRewritable(type?.trim())
    this.part = text ? new PrefixRewriter(this.mappings) : undefined
    const kept = lines
      // A rewritten text part changes length; its delimiter still frames it.
      .filter((line) => !(text && /^\s*content-length\s*:/i.test(line)))
      .map((line) =>
        /^\s*(content-location|location)\s*:/i.test(line)
          ? rewriteValue(line, this.mappings)
          : line,
      )
    return Buffer.from(kept.join('\r\n'), 'latin1')
  }

  private emitBody(bytes: Buffer): void {
    if (bytes.length === 0) return
    if (this.part) {
      const ready = this.part.update(bytes)
      if (ready.length > 0) this.push(ready)
    } else {
      this.push(bytes)
    }
  }

  private endPart(): void {
    if (this.part) {
      const rest = this.part.finish()
      if (rest.length > 0) this.push(rest)
      this.part = undefined
    }
  }

  /** Not the multipart body it claimed to be: what is held passes as it came. */
  private giveUp(): void {
    this.state = 'epilogue'
  }
}

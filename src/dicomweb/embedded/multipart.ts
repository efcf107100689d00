/**
 * Content negotiation for frames and bulk data (PS3.18 8.7), and the multipart/related writer
 * that streams parts from byte ranges without holding them in memory. Pure except for the
 * parts' bodies, which are async iterables supplied by the caller.
 */
import { randomUUID } from 'node:crypto'

import { TS } from '../dicom/head.js'

/** Media types of encapsulated transfer syntaxes (PS3.18 Table 8.7.3-5). */
export const MEDIA_TYPE_FOR_TS: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
  '1.2.840.10008.1.2.4.92': 'image/jpx',
  '1.2.840.10008.1.2.4.93': 'image/jpx',
  '1.2.840.10008.1.2.5': 'image/dicom-rle',
  '1.2.840.10008.1.2.4.201': 'image/jphc',
  '1.2.840.10008.1.2.4.202': 'image/jphc',
  '1.2.840.10008.1.2.4.203': 'image/jphc',
}

export interface MediaRange {
  readonly type: string
  readonly params: Readonly<Record<string, string>>
  readonly q: number
}

/** Parses an Accept header into media ranges, highest q first (stable for equal q). */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header || header.trim() === '') return [{ type: '*/*', params: {}, q: 1 }]
  const ranges: MediaRange[] = []
  // Commas inside quoted parameter values are rare in DICOMweb; quotes are honoured anyway.
  for (const part of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const [type, ...rest] = part.split(';').map((s) => s.trim())
    if (!type) continue
    const params: Record<string, string> = {}
    for (const p of rest) {
      const eq = p.indexOf('=')
      if (eq < 0) continue
      params[p.slice(0, eq).trim().toLowerCase()] = p
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '')
    }
    const q = params.q === undefined ? 1 : Number(params.q)
    ranges.push({ type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 })
  }
  return ranges.filter((r) => r.q > 0).sort((a, b) => b.q - a.q)
}

export interface FrameOffer {
  /** The part's media type. */
  readonly partType: string
  readonly transferSyntax: string
}

/**
 * Picks how to send frames stored in `storedTs`. Native frames go as little-endian
 * octet-stream (PS3.18 8.7.3.3.2); encapsulated frames only in the stored syntax, since this
 * source does not transcode. Returns the reason when nothing in Accept can be given.
 */
export function negotiateFrames(accept: string | undefined, storedTs: string): FrameOffer | string {
  const native = storedTs === TS.implicitLittle || storedTs === TS.explicitLittle
  const nativeBig = storedTs === TS.explicitBig
  const offeredTs = native || nativeBig ? TS.explicitLittle : storedTs
  const encapsulatedType = MEDIA_TYPE_FOR_TS[storedTs]
  const octet: FrameOffer = { partType: 'application/octet-stream', transferSyntax: offeredTs }
  const asked: string[] = []
  for (const range of parseAccept(accept)) {
    if (range.type === '*/*' || (range.type === 'multipart/related' && !range.params.type)) {
      return octet
    }
    if (range.type !== 'multipart/related') {
      asked.push(range.type)
      continue
    }
    const type = range.params.type!.toLowerCase()
    const ts = range.params['transfer-syntax']
    asked.push(`${type}${ts ? ` (transfer-syntax ${ts})` : ''}`)
    if (type === 'application/octet-stream') {
      if (ts === '*' || ts === offeredTs) return octet
      // Implicit and explicit VR little endian frames are the same bytes.
      if (ts === TS.implicitLittle && offeredTs === TS.explicitLittle) {
        return { ...octet, transferSyntax: TS.implicitLittle }
      }
      if (ts === undefined && offeredTs === TS.explicitLittle) return octet
      continue
    }
    if (encapsulatedType && (type === encapsulatedType || type === 'image/*')) {
      if (ts === undefined || ts === '*' || ts === storedTs) {
        return { partType: encapsulatedType, transferSyntax: storedTs }
      }
    }
  }
  return (
    `frames are stored as ${storedTs} and this source sends them only as ` +
    `${encapsulatedType ?? 'application/octet-stream'} with transfer-syntax ${offeredTs} ` +
    `(it does not transcode); the request accepted: ${asked.join(', ') || 'nothing usable'}`
  )
}

export interface Part {
  readonly contentType: string
  readonly location?: string | undefined
  readonly body: AsyncIterable<Buffer>
}

/** A fresh boundary; never appears in frame data with any real chance. */
export function newBoundary(): string {
  return `isogate-${randomUUID()}`
}

/** The Content-Type of a multipart/related reply. */
export function multipartType(boundary: string, partType: string, transferSyntax?: string): string {
  const ts = transferSyntax ? `; transfer-syntax=${transferSyntax}` : ''
  return `multipart/related; type="${partType}"${ts}; boundary=${boundary}`
}

/** Writes parts as multipart/related (RFC 2387), one chunk at a time. */
export async function* multipartBody(
  boundary: string,
  parts: AsyncIterable<Part> | Iterable<Part>,
): AsyncGenerator<Buffer> {
  for await (const part of parts) {
    const location = part.location ? `Content-Location: ${part.location}\r\n` : ''
    yield Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\n${location}\r\n`)
    for await (const chunk of part.body) yield chunk
    yield Buffer.from('\r\n')
  }
  yield Buffer.from(`--${boundary}--\r\n`)
}

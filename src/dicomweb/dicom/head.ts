/**
 * Reading a Part 10 file's header without its pixel data: the file head is read in growing
 * chunks until dicom-parser reaches the Pixel Data tag (or the end of a file without one), and
 * for encapsulated pixel data only the 8-byte item headers of the fragments are read.
 */
import type { FileHandle } from 'node:fs/promises'

import dicomParser, { type DataSet, type Element } from 'dicom-parser'

import { dictionaryVr } from './vr.js'

export const PIXEL_DATA = 'x7fe00010'

export const TS = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  explicitBig: '1.2.840.10008.1.2.2',
} as const

/** Transfer syntaxes whose pixel data is native (not encapsulated). */
export const NATIVE_TS: ReadonlySet<string> = new Set([
  TS.implicitLittle,
  TS.explicitLittle,
  TS.explicitBig,
])

/** Why a file cannot be served; `reason` is shown to the user with the path. */
export class UnreadableDicom extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'UnreadableDicom'
  }
}

export interface ParsedHead {
  readonly dataSet: DataSet
  readonly transferSyntax: string
  /** The Pixel Data element's header (value not read), when the file has one. */
  readonly pixelData?: Element | undefined
  /** Bytes of the file that were read to parse it. */
  readonly headBytes: number
}

const FIRST_READ = 64 * 1024
/** A header this large is a file that is mostly something other than pixel data (a big PDF). */
export const MAX_HEAD_BYTES = 256 * 1024 * 1024

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done === length ? buffer : buffer.subarray(0, done)
}

function message(error: unknown): string {
  if (typeof error === 'string') return error.replace(/^dicomParser\.[A-Za-z0-9]+: /, '')
  if (error instanceof Error) return error.message
  // dicom-parser throws plain objects `{ exception, dataSet }` for some malformed files.
  const inner = (error as { exception?: unknown } | null)?.exception
  return inner !== undefined ? message(inner) : String(error)
}

/** Top-level elements (other than Pixel Data) must lie inside the bytes read. */
function checkBounds(dataSet: DataSet, available: number): void {
  for (const element of Object.values(dataSet.elements)) {
    if (element.tag === PIXEL_DATA) continue
    if (element.dataOffset + element.length > available) {
      throw new UnreadableDicom(
        `truncated: element ${element.tag.slice(1)} ends at byte ` +
          `${element.dataOffset + element.length}, file has ${available}`,
      )
    }
    // Values inside sequence items are served too (bulk data, metadata): a damaged length
    // there must not point past the end of the file any more than at the top level.
    for (const item of element.items ?? []) {
      if (item.dataSet) checkBounds(item.dataSet, available)
    }
  }
}

/**
 * Parses the head of an open file. Throws UnreadableDicom with a reason for anything that is
 * not a Part 10 file this source can serve; never reads the pixel data's value.
 */
export async function readHead(handle: FileHandle, size: number): Promise<ParsedHead> {
  if (size === 0) throw new UnreadableDicom('empty file')
  if (size < 132) throw new UnreadableDicom('not DICOM: shorter than a Part 10 preamble')
  const magic = await readAt(handle, 128, 4)
  if (magic.toString('latin1') !== 'DICM') {
    throw new UnreadableDicom('not a Part 10 file: no DICM prefix (file meta missing)')
  }

  let length = Math.min(size, FIRST_READ)
  for (;;) {
    const bytes = await readAt(handle, 0, length)
    let dataSet: DataSet | undefined
    let failure: unknown
    try {
      dataSet = parse(bytes)
    } catch (error) {
      if (error instanceof UnreadableDicom) throw error
      failure = error
    }
    const reached = dataSet?.elements[PIXEL_DATA] !== undefined
    if (dataSet && (reached || length >= size)) {
      checkBounds(dataSet, bytes.length)
      const transferSyntax = (dataSet.string('x00020010') ?? '').replace(/\0/g, '').trim()
      return { dataSet, transferSyntax, pixelData: dataSet.elements[PIXEL_DATA], headBytes: length }
    }
    if (length >= size) {
      throw new UnreadableDicom(`malformed or truncated: ${message(failure)}`)
    }
    if (length >= MAX_HEAD_BYTES) {
      throw new UnreadableDicom(`header larger than ${MAX_HEAD_BYTES} bytes before pixel data`)
    }
    length = Math.min(size, length * 4, MAX_HEAD_BYTES)
  }
}

function parse(bytes: Buffer): DataSet {
  // The meta group says the transfer syntax; a deflated data set would have to be inflated
  // whole, and its frames have no byte offsets in the file, so such files are not served.
  const meta = dicomParser.readPart10Header(bytes)
  const ts = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim()
  if (ts === '') throw new UnreadableDicom('file meta has no Transfer Syntax UID (0002,0010)')
  if (ts === TS.deflated) {
    throw new UnreadableDicom('deflated transfer syntax: frames have no byte offsets to serve')
  }
  return dicomParser.parseDicom(bytes, {
    untilTag: PIXEL_DATA,
    vrCallback: (tag: string) => dictionaryVr(tag),
  } as dicomParser.ParseDicomOptions)
}

/** One item of encapsulated pixel data: where its value starts in the file and its length. */
export interface Item {
  /** Offset of the item's 8-byte header. */
  readonly headerOffset: number
  /** Offset of its first value byte. */
  readonly offset: number
  readonly length: number
}

/**
 * Reads the item headers of encapsulated pixel data starting at `start` (the element's value):
 * the Basic Offset Table item first, then the fragments, up to the sequence delimiter.
 */
export async function readItems(
  handle: FileHandle,
  start: number,
  size: number,
): Promise<{ offsetTable: Item; fragments: Item[] }> {
  const items: Item[] = []
  let position = start
  for (;;) {
    if (position + 8 > size) {
      throw new UnreadableDicom('truncated: encapsulated pixel data ends before its delimiter')
    }
    const header = await readAt(handle, position, 8)
    const group = header.readUInt16LE(0)
    const element = header.readUInt16LE(2)
    const length = header.readUInt32LE(4)
    if (group === 0xfffe && element === 0xe0dd) break
    if (group !== 0xfffe || element !== 0xe000) {
      throw new UnreadableDicom(
        `malformed encapsulated pixel data: expected an item at byte ${position}`,
      )
    }
    if (length === 0xffffffff || position + 8 + length > size) {
      throw new UnreadableDicom(`truncated or malformed fragment at byte ${position}`)
    }
    items.push({ headerOffset: position, offset: position + 8, length })
    position += 8 + length
  }
  const [offsetTable, ...fragments] = items
  if (!offsetTable) throw new UnreadableDicom('encapsulated pixel data without items')
  return { offsetTable, fragments }
}

/** Reads `length` bytes at `position` (small reads: offset tables, fragment starts). */
export async function readBytes(
  handle: FileHandle,
  position: number,
  length: number,
): Promise<Buffer> {
  return await readAt(handle, position, length)
}

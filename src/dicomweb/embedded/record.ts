/**
 * One indexed file: what QIDO and metadata need, and where every frame and bulk value is in the
 * file. Built from the file's head only (see dicom/head.ts); kept in memory and on disk.
 */
import { open } from 'node:fs/promises'

import type { DataSet } from 'dicom-parser'

import {
  FrameLayoutError,
  encapsulatedFrames,
  nativeFrames,
  startsImage,
  type FrameLayout,
  type Range,
} from '../dicom/frames.js'
import { NATIVE_TS, TS, UnreadableDicom, readBytes, readHead, readItems } from '../dicom/head.js'
import { toDicomJson, type DicomJson } from '../dicom/json.js'

export interface InstanceRecord {
  /** Path relative to the indexed folder, with `/` separators. */
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
  readonly study: string
  readonly series: string
  readonly sop: string
  readonly transferSyntax: string
  readonly numberOfFrames: number
  /** Where the frames are; absent for instances without pixel data (PDF, SR). */
  readonly frames?: FrameLayout | undefined
  /** Why frames could not be located, when the file has pixel data that cannot be served. */
  readonly framesProblem?: string | undefined
  readonly bulk: Record<string, Range>
  /** Instance metadata as DICOM JSON text; BulkDataURIs are relative (`bulk/…`). */
  readonly metadata: string
}

const UID = /^[0-9]+(\.[0-9]+)*$/

function uid(json: DicomJson, tag: string, what: string): string {
  const value = json[tag]?.Value?.[0]
  if (typeof value !== 'string' || value.length > 64 || !UID.test(value)) {
    throw new UnreadableDicom(`missing or invalid ${what} (${tag.slice(0, 4)},${tag.slice(4)})`)
  }
  return value
}

function firstNumber(json: DicomJson, tag: string, fallback: number): number {
  const value = json[tag]?.Value?.[0]
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback
}

/** Reads one file's head and builds its record. Throws UnreadableDicom with a reason. */
export async function indexFile(
  absolutePath: string,
  relativePath: string,
  size: number,
  mtimeMs: number,
): Promise<InstanceRecord> {
  const handle = await open(absolutePath, 'r')
  try {
    const head = await readHead(handle, size)
    const bigEndian = head.transferSyntax === TS.explicitBig
    const { json, bulk } = toDicomJson(head.dataSet, { bigEndian })
    const study = uid(json, '0020000D', 'Study Instance UID')
    const series = uid(json, '0020000E', 'Series Instance UID')
    const sop = uid(json, '00080018', 'SOP Instance UID')
    const numberOfFrames = Math.max(1, Math.trunc(firstNumber(json, '00280008', 1)))

    let frames: FrameLayout | undefined
    let framesProblem: string | undefined
    const pixel = head.pixelData
    if (pixel) {
      try {
        frames = await locateFrames(handle, size, head.dataSet, json, head.transferSyntax, {
          offset: pixel.dataOffset,
          length: pixel.length,
          numberOfFrames,
        })
      } catch (error) {
        if (!(error instanceof FrameLayoutError)) throw error
        framesProblem = error.message
      }
      if (frames?.kind === 'native') bulk['7FE00010'] = [frames.offset, pixel.length]
      else delete bulk['7FE00010']
    }
    return {
      path: relativePath,
      size,
      mtimeMs,
      study,
      series,
      sop,
      transferSyntax: head.transferSyntax,
      numberOfFrames,
      frames,
      framesProblem,
      bulk,
      metadata: JSON.stringify(json),
    }
  } finally {
    await handle.close()
  }
}

async function locateFrames(
  handle: Awaited<ReturnType<typeof open>>,
  size: number,
  dataSet: DataSet,
  json: DicomJson,
  transferSyntax: string,
  pixel: { offset: number; length: number; numberOfFrames: number },
): Promise<FrameLayout> {
  if (NATIVE_TS.has(transferSyntax)) {
    if (pixel.length === 0xffffffff) {
      throw new FrameLayoutError('native transfer syntax with undefined-length pixel data')
    }
    if (pixel.offset + pixel.length > size) {
      throw new UnreadableDicom(
        `truncated: pixel data needs ${pixel.offset + pixel.length} bytes, file has ${size}`,
      )
    }
    return nativeFrames(
      pixel.offset,
      pixel.length,
      {
        rows: firstNumber(json, '00280010', 0),
        columns: firstNumber(json, '00280011', 0),
        samplesPerPixel: firstNumber(json, '00280002', 1),
        bitsAllocated: firstNumber(json, '00280100', 0),
        numberOfFrames: pixel.numberOfFrames,
        photometricInterpretation: json['00280004']?.Value?.[0] as string | undefined,
      },
      transferSyntax === TS.explicitBig,
    )
  }
  if (pixel.length !== 0xffffffff) {
    throw new FrameLayoutError('encapsulated transfer syntax with defined-length pixel data')
  }
  const { offsetTable, fragments } = await readItems(handle, pixel.offset, size)
  const table = await readBytes(handle, offsetTable.offset, offsetTable.length)
  const basicOffsetTable: number[] = []
  for (let p = 0; p + 4 <= table.length; p += 4) basicOffsetTable.push(table.readUInt32LE(p))

  // Frame starts are looked for only when nothing else can map fragments to frames.
  const needMarkers =
    pixel.numberOfFrames > 1 &&
    basicOffsetTable.length !== pixel.numberOfFrames &&
    fragments.length !== pixel.numberOfFrames &&
    !dataSet.elements.x7fe00001
  const withMarkers = needMarkers
    ? await Promise.all(
        fragments.map(async (f) => ({
          ...f,
          startsImage: startsImage(await readBytes(handle, f.offset, Math.min(4, f.length))),
        })),
      )
    : fragments
  return encapsulatedFrames({
    fragments: withMarkers,
    numberOfFrames: pixel.numberOfFrames,
    basicOffsetTable,
    extendedOffsets: uint64s(dataSet, 'x7fe00001'),
    extendedLengths: uint64s(dataSet, 'x7fe00002'),
  })
}

function uint64s(dataSet: DataSet, tag: string): number[] | undefined {
  const element = dataSet.elements[tag]
  if (!element) return undefined
  const bytes = dataSet.byteArray
  const view = new DataView(bytes.buffer, bytes.byteOffset + element.dataOffset, element.length)
  const out: number[] = []
  for (let p = 0; p + 8 <= element.length; p += 8) out.push(Number(view.getBigUint64(p, true)))
  return out
}

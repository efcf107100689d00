/**
 * Where each frame's bytes are in a file: pure arithmetic over what the header says. Native
 * pixel data is a run of equal frames; encapsulated pixel data maps fragments to frames through
 * the Extended Offset Table, the Basic Offset Table, one fragment per frame, or the codec's
 * start-of-image markers, in that order (PS3.5 A.4).
 */

/** A byte range in a file. */
export type Range = readonly [offset: number, length: number]

export type FrameLayout =
  | {
      readonly kind: 'native'
      readonly offset: number
      readonly frameLength: number
      readonly count: number
      /**
       * Bytes per value to reverse when serving, for big-endian files: DICOMweb's native
       * octet-stream is little endian (PS3.18 8.7.3.3.2). 0 when no swap is needed.
       */
      readonly swap: 0 | 2 | 4 | 8
    }
  | { readonly kind: 'encapsulated'; readonly frames: readonly (readonly Range[])[] }

export interface NativeGeometry {
  readonly rows: number
  readonly columns: number
  readonly samplesPerPixel: number
  readonly bitsAllocated: number
  readonly numberOfFrames: number
  /** YBR_FULL_422 native data stores two samples per pixel, not three (PS3.3 C.7.6.3.1.2). */
  readonly photometricInterpretation?: string | undefined
}

/** Why frames cannot be located; the file is still served for metadata and retrieval. */
export class FrameLayoutError extends Error {
  override readonly name = 'FrameLayoutError'
}

/** Frames of native pixel data whose value starts at `offset` and is `length` bytes long. */
export function nativeFrames(
  offset: number,
  length: number,
  geometry: NativeGeometry,
  bigEndian: boolean,
): FrameLayout {
  const { rows, columns, samplesPerPixel, bitsAllocated, numberOfFrames } = geometry
  if (!(rows > 0 && columns > 0 && samplesPerPixel > 0 && numberOfFrames > 0)) {
    throw new FrameLayoutError('Rows, Columns, Samples per Pixel or Number of Frames missing')
  }
  const samples =
    geometry.photometricInterpretation === 'YBR_FULL_422' && samplesPerPixel === 3
      ? 2
      : samplesPerPixel
  const bits = rows * columns * samples * bitsAllocated
  if (bitsAllocated === 1 && numberOfFrames > 1 && bits % 8 !== 0) {
    // 1-bit frames that do not end on a byte boundary share bytes with the next frame.
    throw new FrameLayoutError('multi-frame 1-bit pixel data whose frames are not byte-aligned')
  }
  const frameLength = Math.ceil(bits / 8)
  if (frameLength * numberOfFrames > length) {
    throw new FrameLayoutError(
      `pixel data holds ${length} bytes, ${numberOfFrames} frame(s) need ` +
        `${frameLength * numberOfFrames}`,
    )
  }
  const unit = bitsAllocated / 8
  const swap = bigEndian && (unit === 2 || unit === 4 || unit === 8) ? unit : 0
  return { kind: 'native', offset, frameLength, count: numberOfFrames, swap }
}

export interface Fragment {
  /** Offset of the fragment's item header in the file (offset tables count from the first). */
  readonly headerOffset: number
  readonly offset: number
  readonly length: number
  /** Whether the fragment begins with a codec's start marker (JPEG SOI, J2K SOC); optional. */
  readonly startsImage?: boolean
}

export interface EncapsulatedInput {
  readonly fragments: readonly Fragment[]
  readonly numberOfFrames: number
  /** Basic Offset Table entries (may be empty). */
  readonly basicOffsetTable: readonly number[]
  /** Extended Offset Table (7FE0,0001) and lengths (7FE0,0002), when present. */
  readonly extendedOffsets?: readonly number[] | undefined
  readonly extendedLengths?: readonly number[] | undefined
}

/** Maps fragments to frames; each frame is the concatenation of its fragments' values. */
export function encapsulatedFrames(input: EncapsulatedInput): FrameLayout {
  const { fragments, numberOfFrames } = input
  if (fragments.length === 0) throw new FrameLayoutError('encapsulated pixel data has no fragments')
  const first = fragments[0]!.headerOffset
  const byStart = (starts: readonly number[]): Range[][] => {
    const indexes = starts.map((start) => {
      const index = fragments.findIndex((f) => f.headerOffset - first === start)
      if (index < 0) throw new FrameLayoutError(`offset table entry ${start} matches no fragment`)
      return index
    })
    return indexes.map((from, n) => {
      const to = n + 1 < indexes.length ? indexes[n + 1]! : fragments.length
      if (to <= from) throw new FrameLayoutError('offset table is not increasing')
      return fragments.slice(from, to).map((f) => [f.offset, f.length] as const)
    })
  }

  const { extendedOffsets, extendedLengths, basicOffsetTable } = input
  if (extendedOffsets && extendedOffsets.length === numberOfFrames) {
    // The EOT points at item headers too; its lengths say how many value bytes each frame has,
    // which may end before the last fragment's padding.
    const frames = byStart(extendedOffsets)
    if (extendedLengths && extendedLengths.length === numberOfFrames) {
      return { kind: 'encapsulated', frames: frames.map((f, i) => trim(f, extendedLengths[i]!)) }
    }
    return { kind: 'encapsulated', frames }
  }
  if (numberOfFrames === 1) {
    return { kind: 'encapsulated', frames: [fragments.map((f) => [f.offset, f.length] as const)] }
  }
  if (basicOffsetTable.length === numberOfFrames) {
    return { kind: 'encapsulated', frames: byStart(basicOffsetTable) }
  }
  if (fragments.length === numberOfFrames) {
    return { kind: 'encapsulated', frames: fragments.map((f) => [[f.offset, f.length] as const]) }
  }
  const starts = fragments.filter((f) => f.startsImage).map((f) => f.headerOffset - first)
  if (starts.length === numberOfFrames && fragments[0]!.startsImage) {
    return { kind: 'encapsulated', frames: byStart(starts) }
  }
  throw new FrameLayoutError(
    `${fragments.length} fragments for ${numberOfFrames} frames and no offset table to map them`,
  )
}

function trim(ranges: readonly Range[], length: number): Range[] {
  const out: Range[] = []
  let left = length
  for (const [offset, size] of ranges) {
    if (left <= 0) break
    out.push([offset, Math.min(size, left)])
    left -= size
  }
  return out
}

/** Whether the first bytes of a fragment start an image: JPEG SOI or JPEG 2000 SOC. */
export function startsImage(head: Uint8Array): boolean {
  if (head[0] !== 0xff) return false
  return head[1] === 0xd8 || (head[1] === 0x4f && head[2] === 0xff && head[3] === 0x51)
}

/** Parses a WADO-RS frame list (`1,3,5`, 1-based) against the instance's frame count. */
export function parseFrameList(text: string, count: number): number[] | string {
  const parts = text.split(',').map((s) => s.trim())
  const numbers: number[] = []
  for (const part of parts) {
    if (!/^[1-9][0-9]{0,8}$/.test(part)) return `frame number "${part}" is not a positive integer`
    const n = Number(part)
    if (n > count) return `frame ${n} does not exist; the instance has ${count} frame(s)`
    numbers.push(n)
  }
  return numbers
}

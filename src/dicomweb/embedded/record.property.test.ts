/**
 * Property tests for the DICOM index reader: the file head (dicom/head.ts), the frame layout
 * (dicom/frames.ts), DICOM JSON (dicom/json.ts), one file's record (record.ts) and a folder scan
 * (scan.ts). Inputs are real files (pydicom's test files: native, big-endian, implicit, RLE,
 * JPEG 2000, multi-frame; the demo's CT slice and PDF report) cut short, with bytes flipped,
 * overwritten, inserted or removed, and lengths replaced by extreme values; and bytes that are
 * random from the start. A file in a watched folder is whatever someone put there, so each one
 * must be indexed with every byte range inside the file, or skipped with a reason (the typed
 * UnreadableDicom), and never throw anything else, hang or bring the scan down.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import fc from 'fast-check'

import { writeCtVolume } from '../demo/generate.js'
import { UnreadableDicom } from '../dicom/head.js'
import { indexFile, type InstanceRecord } from './record.js'
import { scan } from './scan.js'
import { holds } from '../../../test/helpers/property.js'

const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
/** One of each layout the reader distinguishes. */
const PYDICOM_SEEDS = [
  'CT_small.dcm',
  'MR_small.dcm',
  'MR_small_bigendian.dcm',
  'MR_small_implicit.dcm',
  'MR_small_RLE.dcm',
  'JPEG2000.dcm',
  'SC_rgb_rle_2frame.dcm',
  'rtdose.dcm',
  'waveform_ecg.dcm',
]
/** Longest one file may take to index: a slow path on a small file is a hang in the making. */
const PER_FILE_MS = 2_000

/** What reading one file gave: a record, or the typed refusal. */
type Outcome =
  { readonly record: InstanceRecord; readonly nestedPastEnd: number } | { readonly skipped: string }

const within = (size: number, offset: number, length: number) =>
  Number.isInteger(offset) &&
  Number.isInteger(length) &&
  offset >= 0 &&
  length >= 0 &&
  offset + length <= size

/**
 * The invariants of a record: every byte range it will serve lies inside the file, nested
 * values included (the count of nested ones past the end is returned, always 0 if it holds).
 */
function checkRecord(record: InstanceRecord, size: number, what: string): number {
  let nestedPastEnd = 0
  const frames = record.frames
  if (frames?.kind === 'native') {
    const span = frames.frameLength * frames.count
    assert.ok(frames.count >= 1 && frames.frameLength > 0, `${what}: empty native frames`)
    assert.ok(within(size, frames.offset, span), `${what}: native frames end past the file`)
  } else if (frames?.kind === 'encapsulated') {
    assert.ok(frames.frames.length >= 1, `${what}: no encapsulated frames`)
    for (const ranges of frames.frames) {
      for (const [offset, length] of ranges) {
        assert.ok(within(size, offset, length), `${what}: fragment ${offset}+${length} > ${size}`)
      }
    }
  }
  for (const [tag, [offset, length]] of Object.entries(record.bulk)) {
    // Values nested in sequences too: the reader bounds-checks every level since a damaged
    // rtdose.dcm was once indexed with a nested range 774 MB past its 7 KB end.
    if (tag.includes('/') && !within(size, offset, length)) nestedPastEnd++
    assert.ok(within(size, offset, length), `${what}: bulk ${tag} ${offset}+${length} > ${size}`)
  }
  for (const uid of [record.study, record.series, record.sop]) {
    assert.match(uid, /^[0-9]+(\.[0-9]+)*$/, what)
  }
  assert.ok(record.numberOfFrames >= 1, what)
  assert.equal(typeof JSON.parse(record.metadata), 'object', what)
  return nestedPastEnd
}

/** Indexes one file; anything thrown other than UnreadableDicom fails the property. */
async function readOne(path: string, what: string): Promise<Outcome> {
  const info = await stat(path)
  const started = performance.now()
  let outcome: Outcome
  try {
    const record = await indexFile(path, 'x.dcm', info.size, info.mtimeMs)
    outcome = { record, nestedPastEnd: checkRecord(record, info.size, what) }
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error
    if (!(error instanceof UnreadableDicom)) {
      const shown = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      throw new Error(`${what}: untyped error ${shown}`, { cause: error })
    }
    assert.ok(error.reason.length > 0, `${what}: a skip without a reason`)
    outcome = { skipped: error.reason }
  }
  const ms = performance.now() - started
  assert.ok(ms < PER_FILE_MS, `${what}: took ${Math.round(ms)} ms`)
  return outcome
}

/** One change to a file's bytes; positions are fractions of the file (or of its head). */
type Mutation =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'flip'; readonly at: number; readonly head: boolean; readonly byte: number }
  | {
      readonly kind: 'overwrite' | 'insert'
      readonly at: number
      readonly head: boolean
      readonly bytes: Uint8Array
    }
  | { readonly kind: 'delete'; readonly at: number; readonly head: boolean; readonly count: number }
  | { readonly kind: 'length'; readonly at: number; readonly head: boolean; readonly value: number }

const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fraction }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fraction,
    head: fc.boolean(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constantFrom('overwrite' as const, 'insert' as const),
    at: fraction,
    head: fc.boolean(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fraction,
    head: fc.boolean(),
    count: fc.integer({ min: 1, max: 64 }),
  }),
  // A value length (or a tag, VR, item header) replaced by one a parser must not trust.
  fc.record({
    kind: fc.constant('length' as const),
    at: fraction,
    head: fc.boolean(),
    value: fc.constantFrom(0, 1, 2, 0xff, 0xffff, 0x7fffffff, 0xfffffffe, 0xffffffff, 0xe000fffe),
  }),
)

/** Where a mutation lands: anywhere, or within the first 2 KB where the header lives. */
function position(bytes: Buffer, at: number, head?: boolean): number {
  const span = head ? Math.min(bytes.length, 2048) : bytes.length
  return Math.floor(at * span)
}

function mutate(original: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(original)
  for (const m of mutations) {
    const at = position(bytes, m.at, 'head' in m ? m.head : false)
    switch (m.kind) {
      case 'truncate':
        bytes = bytes.subarray(0, at)
        break
      case 'flip':
        if (at < bytes.length) bytes[at] = m.byte
        break
      case 'overwrite':
        bytes.set(m.bytes.subarray(0, Math.max(0, bytes.length - at)), at)
        break
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)])
        break
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)])
        break
      case 'length':
        if (at + 4 <= bytes.length) bytes.writeUInt32LE(m.value >>> 0, at)
        break
    }
  }
  return bytes
}

describe('the DICOM index reader', () => {
  let work: string
  const seeds: Array<{ name: string; bytes: Buffer }> = []
  let counter = 0
  const fresh = () => join(work, 'cases', `case-${counter++}.dcm`)

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'isogate-reader-prop-'))
    mkdirSync(join(work, 'cases'))
    for (const name of PYDICOM_SEEDS) seeds.push({ name, bytes: readFileSync(join(PYDICOM, name)) })
    // The demo writer's own output: a CT slice and the encapsulated PDF report.
    const demo = join(work, 'demo')
    await writeCtVolume(demo, { slices: 1, size: 32, seed: 'reader-property', withReport: true })
    for (const name of readdirSync(demo).filter((n) => n.endsWith('.dcm'))) {
      seeds.push({ name: `demo/${name}`, bytes: readFileSync(join(demo, name)) })
    }
    assert.equal(seeds.length, PYDICOM_SEEDS.length + 2)
  })

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('indexes every seed file as it is, with its frames inside the file', async (t) => {
    let framed = 0
    for (const seed of seeds) {
      const path = fresh()
      writeFileSync(path, seed.bytes)
      const outcome = await readOne(path, seed.name)
      assert.ok('record' in outcome, `${seed.name}: ${'skipped' in outcome && outcome.skipped}`)
      if (outcome.record.frames) framed++
    }
    // Most seeds have pixel data the reader locates; a reader that located none would pass
    // every range check above vacuously.
    assert.ok(framed >= seeds.length - 2, `frames located in ${framed} of ${seeds.length}`)
    t.diagnostic(`seed files indexed: ${seeds.length}, with frames: ${framed}`)
  })

  it('skips a file whose value nested in a sequence runs past its end', async () => {
    // Found by the folder-scan property: rtdose.dcm with 5 zero bytes at byte 1420 was indexed
    // with a nested bulk value of 774,911,032 bytes in a 7,568-byte file.
    const bytes = Buffer.from(readFileSync(join(PYDICOM, 'rtdose.dcm')))
    bytes.fill(0, 1420, 1425)
    const path = fresh()
    writeFileSync(path, bytes)
    const outcome = await readOne(path, 'rtdose.dcm damaged at 1420')
    assert.ok('skipped' in outcome, 'indexed although a nested value ends past the file')
    assert.match(outcome.skipped, /truncated|malformed/)
  })

  it('indexes or skips with a reason every mutated file, never anything else', async (t) => {
    const outcomes = { indexed: 0, skipped: 0, nestedBulkPastEnd: 0 }
    await holds(
      t,
      'mutated DICOM files are indexed or skipped',
      fc.asyncProperty(
        fc.nat(),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (which, mutations) => {
          const seed = seeds[which % seeds.length]!
          const path = fresh()
          writeFileSync(path, mutate(seed.bytes, mutations))
          const outcome = await readOne(path, `${seed.name} ${JSON.stringify(mutations)}`)
          outcomes['record' in outcome ? 'indexed' : 'skipped']++
          if ('record' in outcome && outcome.nestedPastEnd > 0) outcomes.nestedBulkPastEnd++
        },
      ),
      1500,
    )
    t.diagnostic(
      `mutated files: ${outcomes.indexed} indexed, ${outcomes.skipped} skipped; indexed with ` +
        `a nested bulk range past the end: ${outcomes.nestedBulkPastEnd}`,
    )
    assert.ok(outcomes.indexed > 0 && outcomes.skipped > 0, JSON.stringify(outcomes))
  })

  it('skips random bytes, with or without a DICM prefix', async (t) => {
    await holds(
      t,
      'random bytes are skipped',
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4096 }),
        fc.boolean(),
        async (random, prefixed) => {
          let bytes = Buffer.from(random)
          if (prefixed) {
            bytes = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), bytes])
          }
          const path = fresh()
          writeFileSync(path, bytes)
          await readOne(path, `random ${bytes.length} bytes`)
        },
      ),
      500,
    )
  })

  it('scans a folder of damaged files without failing, accounting for every file', async (t) => {
    await holds(
      t,
      'folder scan accounts for every file',
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.array(mutation, { maxLength: 3 })), {
          minLength: 1,
          maxLength: 6,
        }),
        async (files) => {
          const folder = join(work, `folder-${counter++}`)
          mkdirSync(folder)
          files.forEach(([which, mutations], i) => {
            const seed = seeds[which % seeds.length]!
            writeFileSync(join(folder, `f${i}.dcm`), mutate(seed.bytes, mutations))
          })
          const result = await scan({ root: folder, indexFile: join(folder, '.index.jsonl') })
          const seen = result.records.map((r) => r.path).concat(result.skipped.map((s) => s.path))
          assert.deepEqual(
            seen.sort(),
            files.map((_, i) => `f${i}.dcm`),
          )
          for (const record of result.records) {
            const size = (await stat(join(folder, record.path))).size
            checkRecord(record, size, record.path)
          }
          for (const skip of result.skipped) assert.ok(skip.reason.length > 0, skip.path)
          rmSync(folder, { recursive: true, force: true })
        },
      ),
      150,
    )
  })
})

import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  FrameLayoutError,
  encapsulatedFrames,
  nativeFrames,
  parseFrameList,
  startsImage,
  type Fragment,
} from './frames.js'

const geometry = { rows: 4, columns: 5, samplesPerPixel: 1, bitsAllocated: 16, numberOfFrames: 3 }

test('native frames are equal runs; big endian asks for a swap of the value size', () => {
  assert.deepEqual(nativeFrames(1000, 120, geometry, false), {
    kind: 'native',
    offset: 1000,
    frameLength: 40,
    count: 3,
    swap: 0,
  })
  assert.equal((nativeFrames(0, 120, geometry, true) as { swap: number }).swap, 2)
  assert.equal(
    (nativeFrames(0, 60, { ...geometry, bitsAllocated: 8 }, true) as { swap: number }).swap,
    0,
  )
  // A padded odd-length value is fine; a short one is not.
  assert.equal(
    (
      nativeFrames(
        0,
        28,
        { ...geometry, bitsAllocated: 8, rows: 3, columns: 3, numberOfFrames: 3 },
        false,
      ) as { frameLength: number }
    ).frameLength,
    9,
  )
  assert.throws(() => nativeFrames(0, 119, geometry, false), FrameLayoutError)
  assert.throws(
    () => nativeFrames(0, 100, { ...geometry, bitsAllocated: 1, rows: 3, columns: 3 }, false),
    /not byte-aligned/,
  )
  const ybr = { ...geometry, samplesPerPixel: 3, bitsAllocated: 8, numberOfFrames: 1 }
  assert.equal(
    (
      nativeFrames(0, 40, { ...ybr, photometricInterpretation: 'YBR_FULL_422' }, false) as {
        frameLength: number
      }
    ).frameLength,
    40,
  )
})

/** Fragments laid out as in a file: 8-byte item header, then the value. */
function fragments(lengths: number[], start = 500): Fragment[] {
  let at = start
  return lengths.map((length) => {
    const f = { headerOffset: at, offset: at + 8, length }
    at += 8 + length
    return f
  })
}

test('encapsulated: one frame takes every fragment', () => {
  const f = fragments([10, 20, 30])
  assert.deepEqual(encapsulatedFrames({ fragments: f, numberOfFrames: 1, basicOffsetTable: [] }), {
    kind: 'encapsulated',
    frames: [
      [
        [508, 10],
        [526, 20],
        [554, 30],
      ],
    ],
  })
})

test('encapsulated: the basic offset table groups fragments into frames', () => {
  const f = fragments([10, 20, 30, 40])
  const layout = encapsulatedFrames({ fragments: f, numberOfFrames: 2, basicOffsetTable: [0, 46] })
  assert.deepEqual(layout, {
    kind: 'encapsulated',
    frames: [
      [
        [508, 10],
        [526, 20],
      ],
      [
        [554, 30],
        [592, 40],
      ],
    ],
  })
  assert.throws(
    () => encapsulatedFrames({ fragments: f, numberOfFrames: 2, basicOffsetTable: [0, 45] }),
    /matches no fragment/,
  )
})

test('encapsulated: no table and one fragment per frame; or start markers', () => {
  const f = fragments([10, 20])
  assert.deepEqual(encapsulatedFrames({ fragments: f, numberOfFrames: 2, basicOffsetTable: [] }), {
    kind: 'encapsulated',
    frames: [[[508, 10]], [[526, 20]]],
  })
  const marked = fragments([10, 20, 30]).map((x, i) => ({ ...x, startsImage: i !== 1 }))
  assert.deepEqual(
    encapsulatedFrames({ fragments: marked, numberOfFrames: 2, basicOffsetTable: [] }),
    {
      kind: 'encapsulated',
      frames: [
        [
          [508, 10],
          [526, 20],
        ],
        [[554, 30]],
      ],
    },
  )
  assert.throws(
    () =>
      encapsulatedFrames({
        fragments: fragments([1, 2, 3]),
        numberOfFrames: 2,
        basicOffsetTable: [],
      }),
    /no offset table/,
  )
})

test('encapsulated: the extended offset table wins, and its lengths trim padding', () => {
  const f = fragments([10, 20, 30])
  const layout = encapsulatedFrames({
    fragments: f,
    numberOfFrames: 2,
    basicOffsetTable: [],
    extendedOffsets: [0, 18],
    extendedLengths: [9, 49],
  })
  assert.deepEqual(layout, {
    kind: 'encapsulated',
    frames: [
      [[508, 9]],
      [
        [526, 20],
        [554, 29],
      ],
    ],
  })
})

test('start markers and frame lists', () => {
  assert.ok(startsImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0])))
  assert.ok(startsImage(Uint8Array.from([0xff, 0x4f, 0xff, 0x51])))
  assert.ok(!startsImage(Uint8Array.from([0x00, 0xd8])))
  assert.deepEqual(parseFrameList('1,3', 3), [1, 3])
  assert.match(String(parseFrameList('4', 3)), /does not exist/)
  assert.match(String(parseFrameList('0', 3)), /positive/)
  assert.match(String(parseFrameList('1;2', 3)), /positive/)
})

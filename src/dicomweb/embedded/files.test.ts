import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { FileReader, StaleFile, type IndexedFile } from './files.js'

const work = mkdtempSync(join(tmpdir(), 'isogate-files-'))
after(() => rmSync(work, { recursive: true, force: true }))

function indexed(name: string, content: Buffer): IndexedFile {
  const path = join(work, name)
  writeFileSync(path, content)
  const stats = statSync(path)
  return { path, size: stats.size, mtimeMs: stats.mtimeMs }
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const chunk of chunks) out.push(chunk)
  return Buffer.concat(out)
}

const bytes = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 31) & 255))

describe('FileReader', () => {
  it('reads ranges across chunk borders, the same through a kept handle', async () => {
    const file = indexed('a.dcm', bytes)
    const reader = new FileReader()
    const ranges: Array<[number, number]> = [
      [10, 5],
      [100_000, 1_500_000],
    ]
    const expected = Buffer.concat(ranges.map(([o, l]) => bytes.subarray(o, o + l)))
    assert.ok((await collect(reader.read(file, ranges))).equals(expected))
    assert.ok((await collect(reader.read(file, ranges))).equals(expected))
    assert.equal(reader.openFiles, 0)
    await reader.close()
  })

  it('swaps big-endian values without splitting any', async () => {
    const file = indexed('b.dcm', bytes)
    const reader = new FileReader()
    const got = await collect(reader.read(file, [[2, 1_048_576 + 8]], 2))
    const want = Buffer.from(bytes.subarray(2, 2 + 1_048_576 + 8)).swap16()
    assert.ok(got.equals(want))
    await reader.close()
  })

  it('never reads a file replaced since it was indexed through the old handle', async () => {
    const file = indexed('c.dcm', bytes)
    const reader = new FileReader()
    await collect(reader.read(file, [[0, 16]]))
    // Another file at the same path: a new index entry (size, mtime) gets a new handle...
    const changed = indexed('c.dcm', Buffer.alloc(1000, 9))
    await utimes(changed.path, new Date(), new Date(Date.now() + 10_000))
    const fresh = { ...changed, mtimeMs: statSync(changed.path).mtimeMs }
    assert.ok((await collect(reader.read(fresh, [[0, 4]]))).equals(Buffer.alloc(4, 9)))
    // ...and the old entry, opened afresh, is refused rather than read at the wrong offsets.
    const other = new FileReader()
    await assert.rejects(collect(other.read(file, [[0, 16]])), StaleFile)
    await Promise.all([reader.close(), other.close()])
  })

  it('refuses a vanished file, and serves many files at once within its limit', async () => {
    const reader = new FileReader(4)
    await assert.rejects(
      collect(reader.read({ path: join(work, 'none.dcm'), size: 1, mtimeMs: 1 }, [[0, 1]])),
      /ENOENT/,
    )
    const files = Array.from({ length: 40 }, (_, i) => indexed(`m${i}.dcm`, bytes.subarray(i)))
    const got = await Promise.all(files.map((f) => collect(reader.read(f, [[0, 64]]))))
    got.forEach((g, i) => assert.ok(g.equals(bytes.subarray(i, i + 64))))
    assert.equal(reader.openFiles, 0)
    await reader.close()
  })

  it('a reader stopped midway (client gone) gives its turn back', async () => {
    const file = indexed('d.dcm', bytes)
    const reader = new FileReader(1)
    for (let i = 0; i < 3; i++) {
      for await (const chunk of reader.read(file, [[0, bytes.length]])) {
        assert.ok(chunk.length > 0)
        break
      }
    }
    assert.equal(reader.openFiles, 0)
    await reader.close()
  })
})

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'

import { CompressedCopies, isCompressible, type SourceFile } from './compressed-copies.js'

const work = mkdtempSync(join(tmpdir(), 'isogate-compressed-'))
after(() => rmSync(work, { recursive: true, force: true }))

function sourceFile(name: string, content: string | Buffer): SourceFile {
  const path = join(work, name)
  writeFileSync(path, content)
  const stats = statSync(path)
  return { path, size: stats.size, mtimeMs: stats.mtimeMs }
}

const script = 'export const answer = () => "isogate compressed copy";\n'.repeat(400)

describe('CompressedCopies', () => {
  it('gives nothing until the copy is made, then a copy that decodes back', async () => {
    const file = sourceFile('app.js', script)
    const copies = new CompressedCopies(join(work, 'state-1'))
    assert.equal(await copies.copyFor(file, 'br'), undefined)
    await copies.idle()
    const br = await copies.copyFor(file, 'br')
    assert.ok(br && br.size < file.size / 10)
    assert.equal(brotliDecompressSync(readFileSync(br.path)).toString(), script)
    assert.equal(await copies.copyFor(file, 'gzip'), undefined)
    await copies.idle()
    const gz = await copies.copyFor(file, 'gzip')
    assert.ok(gz)
    assert.equal(gunzipSync(readFileSync(gz.path)).toString(), script)
  })

  it('makes one copy for many concurrent first requests', async () => {
    const file = sourceFile('many.js', script)
    const state = join(work, 'state-2')
    const copies = new CompressedCopies(state)
    const answers = await Promise.all(Array.from({ length: 20 }, () => copies.copyFor(file, 'br')))
    assert.ok(answers.every((a) => a === undefined))
    await copies.idle()
    assert.equal(readdirSync(join(state, 'viewer-compressed')).length, 1)
  })

  it('reuses copies from an earlier run, and makes new ones when the file changes', async () => {
    const file = sourceFile('reuse.js', script)
    const state = join(work, 'state-3')
    const first = new CompressedCopies(state)
    await first.copyFor(file, 'br')
    await first.idle()
    const again = await new CompressedCopies(state).copyFor(file, 'br')
    assert.ok(again, 'found on disk at once')

    await utimes(file.path, new Date(), new Date(Date.now() + 5_000))
    const changed = { ...file, mtimeMs: statSync(file.path).mtimeMs }
    const second = new CompressedCopies(state)
    assert.equal(await second.copyFor(changed, 'br'), undefined)
    await second.idle()
    assert.notEqual((await second.copyFor(changed, 'br'))?.path, again.path)
  })

  it('keeps sending content that does not compress as it is, and remembers that', async () => {
    const file = sourceFile('random.wasm', randomBytes(64 * 1024))
    const state = join(work, 'state-4')
    const copies = new CompressedCopies(state)
    await copies.copyFor(file, 'br')
    await copies.idle()
    assert.equal(await copies.copyFor(file, 'br'), undefined)
    const names = readdirSync(join(state, 'viewer-compressed'))
    assert.deepEqual(
      names.map((n) => n.endsWith('.same')),
      [true],
    )
  })

  it('reports an unwritable state folder once, and gives no copy', async () => {
    const file = sourceFile('blocked.js', script)
    const blocker = join(work, 'not-a-folder')
    writeFileSync(blocker, 'x')
    const errors: string[] = []
    const copies = new CompressedCopies(blocker, (_error, path) => errors.push(path))
    assert.equal(await copies.copyFor(file, 'br'), undefined)
    await copies.idle()
    assert.equal(await copies.copyFor(file, 'br'), undefined)
    await copies.idle()
    assert.deepEqual(errors, [file.path])
  })

  it('close() stops a build under way and leaves no temporary file', async () => {
    const file = sourceFile('big.js', randomBytes(6 * 1024 * 1024).toString('base64'))
    const state = join(work, 'state-5')
    const copies = new CompressedCopies(state)
    await copies.copyFor(file, 'br')
    await copies.close()
    const left = readdirSync(join(state, 'viewer-compressed'), { withFileTypes: true })
    assert.deepEqual(
      left.filter((e) => e.name.includes('.tmp-')),
      [],
    )
  })
})

describe('isCompressible', () => {
  it('takes text assets and wasm above a small size, not images or fonts', () => {
    assert.equal(isCompressible('app.bundle.0123.js', 20_000), true)
    assert.equal(isCompressible('ort/ort-wasm.wasm', 20_000), true)
    assert.equal(isCompressible('assets/Logo.SVG', 5_000), true)
    assert.equal(isCompressible('index.html', 500), false)
    assert.equal(isCompressible('assets/photo.png', 20_000), false)
    assert.equal(isCompressible('fonts/x.woff2', 20_000), false)
    assert.equal(isCompressible('LICENSE', 20_000), false)
  })
})

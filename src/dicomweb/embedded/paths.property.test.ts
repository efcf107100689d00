/**
 * Property tests for the embedded source's paths. The folder walk (scan.ts) over generated
 * trees of folders, files and symlinks (into the folder, out of it, to `/`, in loops, dangling)
 * must list exactly the regular files inside the folder, each once. And the gateway, answering
 * raw requests under the source's mount built from DICOMweb words, UIDs of a study that sits
 * outside the folder (linked in by a symlink), and every spelling of a way out, must never send
 * a byte of that study or of a secret file next to the folder. Each property prints its count.
 */
import assert from 'node:assert/strict'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, sep } from 'node:path'
import { after, before, describe, it } from 'node:test'

import fc from 'fast-check'

import { validateConfig } from '../../config/load.js'
import { startGateway, type RunningGateway } from '../../gateway/start.js'
import { uidFor, writeCtVolume } from '../demo/generate.js'
import { walk } from './scan.js'
import { holds } from '../../../test/helpers/property.js'

const SECRET = 'SECRET-NEXT-TO-THE-FOLDER'

/** One entry of a generated tree, created in order under an earlier folder. */
interface Entry {
  readonly kind: 'folder' | 'file' | 'link'
  /** Which earlier folder it goes in, and for a link, which place it points at. */
  readonly under: number
  readonly name: string
  readonly to: number
}

const NAMES = ['a', 'b', 'c.dcm', 'd', '.hidden', 'e.dcm']
const entry: fc.Arbitrary<Entry> = fc.record({
  kind: fc.constantFrom('folder' as const, 'file' as const, 'link' as const),
  under: fc.nat(),
  name: fc.constantFrom(...NAMES),
  to: fc.nat(),
})

describe('the folder walk', () => {
  let work: string
  let counter = 0
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'isogate-walk-prop-'))
  })
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('lists each regular file inside the folder once, and nothing outside it', async (t) => {
    await holds(
      t,
      'walk stays inside the folder',
      fc.asyncProperty(fc.array(entry, { maxLength: 14 }), async (entries) => {
        const base = join(work, `tree-${counter++}`)
        const root = join(base, 'root')
        const outside = join(base, 'outside')
        mkdirSync(root, { recursive: true })
        mkdirSync(outside)
        writeFileSync(join(outside, 'secret.dcm'), SECRET)
        const folders = [root]
        const created: string[] = []
        /** Regular files made inside the folder, not under a hidden name: the walk's answer. */
        const expected = new Set<string>()
        const hidden = (path: string) =>
          path
            .slice(root.length)
            .split(sep)
            .some((s) => s[0] === '.')
        for (const e of entries) {
          const parent = folders[e.under % folders.length] as string
          const path = join(parent, e.name)
          try {
            if (e.kind === 'folder') {
              mkdirSync(path)
              folders.push(path)
            } else if (e.kind === 'file') {
              writeFileSync(path, `file ${created.length}`, { flag: 'wx' })
              if (!hidden(path)) expected.add(realpathSync(path))
            } else {
              // Out of the folder, at it, `/`, relative, dangling, itself, or an earlier entry.
              const places = [
                join(outside, 'secret.dcm'),
                outside,
                root,
                '/',
                '..',
                join(parent, 'no-such-file'),
                path,
                ...created,
              ]
              symlinkSync(places[e.to % places.length] as string, path)
            }
            created.push(path)
          } catch {
            // The name is taken already: the entry is simply not made.
          }
        }
        const realRoot = realpathSync(root)
        const { files, skipped } = await walk(realRoot)
        const listed = files.map((f) => f.absolute)
        assert.equal(new Set(listed).size, listed.length, 'a file listed twice')
        for (const file of files) {
          assert.ok(file.absolute.startsWith(realRoot + sep), `outside: ${file.absolute}`)
          assert.ok(!file.relative.split('/').includes('..'), file.relative)
          assert.notEqual(readFileSync(file.absolute, 'utf8'), SECRET)
        }
        // Every file made in a visible folder is reached (directly, or through a link inside).
        for (const path of expected) assert.ok(listed.includes(path), `missed ${path}`)
        for (const skip of skipped) assert.ok(skip.reason.length > 0, skip.path)
        rmSync(base, { recursive: true, force: true })
      }),
      400,
    )
  })
})

interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly text: string
}

/** Sends one request exactly as given and reads the reply until the server closes. */
function exchange(port: number, request: Buffer): Promise<Reply> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const finish = () => {
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      const [statusLine = '', ...lines] = text.slice(0, end < 0 ? text.length : end).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0)
      done({ status, headers, text })
    }
    const timer = setTimeout(finish, 5_000)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', finish)
    socket.on('close', finish)
    socket.write(request)
  })
}

describe('the embedded source served through the gateway', () => {
  let work: string
  let gw: RunningGateway
  const inside = { study: '', series: '', sop: '' }
  const outside = { study: '', series: '', sops: [] as string[], patient: '' }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'isogate-embedded-prop-'))
    const folder = join(work, 'dicom')
    const beside = join(work, 'outside')
    const written = await writeCtVolume(folder, { slices: 2, size: 16, seed: 'paths-inside' })
    inside.study = written.studyInstanceUid
    inside.series = written.ctSeriesUid
    inside.sop = uidFor('paths-inside ct 0')
    const secret = await writeCtVolume(beside, { slices: 2, size: 16, seed: 'paths-outside' })
    outside.study = secret.studyInstanceUid
    outside.series = secret.ctSeriesUid
    outside.sops = [uidFor('paths-outside ct 0'), uidFor('paths-outside ct 1')]
    outside.patient = 'ISOGATE-paths-outside'
    writeFileSync(join(work, 'secret.txt'), SECRET)
    // Ways out of the folder: a link to a file, to the folder beside it, to the secret, to `/`.
    symlinkSync(secret.files[0] as string, join(folder, 'escape.dcm'))
    symlinkSync(beside, join(folder, 'escape-dir'))
    symlinkSync(join(work, 'secret.txt'), join(folder, 'secret.dcm'))
    symlinkSync('/', join(folder, 'system'))
    gw = await startGateway(
      validateConfig({
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: join(work, 'state'),
        sources: [{ name: 'local', mode: 'embedded', folder, watch: false }],
      }),
      { viewer: false },
    )
    // The baseline: the study inside is served, so the refusals below are not a dead source.
    const served = await exchange(
      gw.port,
      request(`/dicomweb/local/studies/${inside.study}/series/${inside.series}/metadata`, {}),
    )
    assert.equal(served.status, 200)
    assert.ok(served.text.includes(inside.sop))
  })

  after(async () => {
    await gw?.close()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  function request(target: string, headers: Record<string, string>): Buffer {
    const lines = [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
    return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8')
  }

  it('never sends the study outside the folder, nor the file beside it', async (t) => {
    const word = fc.constantFrom(
      ...['studies', 'series', 'instances', 'metadata', 'frames', 'bulk', 'rendered'],
      ...['1', '1,2', '7FE00010', '00420011', 'thumbnail', 'escape.dcm', 'escape-dir'],
      ...['secret.dcm', 'system', 'etc', 'passwd', 'dicom', 'outside', 'secret.txt'],
    )
    const way = fc.constantFrom(
      ...['..', '.', '%2e%2e', '%2E%2e', '.%2e', '%252e%252e', '..%2f', '%2f', '%5c', '\\'],
      ...['%00', '\0', '%c0%ae%c0%ae', '%e0%80%ae', '..;', '%3b', '\uff0e\uff0e', '', '%'],
    )
    const uid = fc.constantFrom(
      inside.study,
      inside.series,
      inside.sop,
      inside.sop,
      outside.study,
      outside.series,
      `${outside.study}%00`,
      `${inside.study}/..`,
    )
    const segment = fc.oneof({ arbitrary: word, weight: 3 }, uid, way)
    const free = fc.array(segment, { maxLength: 9 }).map((parts) => parts.join('/'))
    // The routes' own shapes with each UID slot filled by any UID or a way out, and a way out
    // spliced in somewhere, so that refusals are tried next to paths that do resolve.
    const slot = fc.oneof({ arbitrary: uid, weight: 6 }, way)
    const tail = fc.constantFrom('', '/metadata', '/frames/1', '/bulk/7FE00010', '/rendered')
    const shaped = fc
      .tuple(slot, slot, slot, tail, fc.nat(), fc.option(way, { nil: undefined, freq: 2 }))
      .map(([study, series, sop, end, at, extra]) => {
        const parts = `studies/${study}/series/${series}/instances/${sop}${end}`.split('/')
        const cut = parts.slice(0, 2 + (at % (parts.length - 1)))
        if (extra !== undefined) cut.splice(at % (cut.length + 1), 0, extra)
        return cut.join('/')
      })
    const path = fc.oneof(free, shaped)
    const query = fc.constantFrom(
      '',
      `?StudyInstanceUID=${outside.study}`,
      `?SeriesInstanceUID=${outside.series}`,
      '?includefield=all',
      '?limit=1000&offset=0',
      '?PatientName=*',
    )
    const accept = fc.constantFrom<Record<string, string>>(
      {},
      { Accept: 'application/dicom+json' },
      { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
      { Accept: 'multipart/related; type="application/dicom"' },
    )
    let served = 0
    const statuses: Record<number, number> = {}
    await holds(
      t,
      'embedded source serves nothing from outside its folder',
      fc.asyncProperty(path, query, accept, async (p, q, headers) => {
        const target = `/dicomweb/local/${p}${q}`
        const reply = await exchange(gw.port, request(target, headers))
        const shown = `${JSON.stringify(target)} → ${reply.status}`
        for (const marker of [SECRET, outside.patient, ...outside.sops]) {
          assert.ok(!reply.text.includes(marker), `${shown} carries ${marker}`)
        }
        assert.ok(reply.status >= 200 && reply.status < 500, shown)
        if (reply.status === 200) served++
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1
        if (reply.status >= 400) {
          assert.match(reply.headers['cross-origin-embedder-policy'] ?? '', /^require-corp/, shown)
        }
      }),
      700,
    )
    assert.ok(served > 0, 'no generated path reached the study inside')
    t.diagnostic(`embedded paths by status: ${JSON.stringify(statuses)}`)
  })
})

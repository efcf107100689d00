/**
 * Broken inputs never stop the embedded source: truncated, bad-VR and no-meta files, random
 * bytes, an empty file, a FIFO (unreadable without blocking), dangling and looping symlinks
 * and a link out of the folder are skipped with a reason; the good files are served.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'

import { fastify, type FastifyInstance } from 'fastify'

import { createEmbeddedSource, type EmbeddedDataSource } from '../../src/dicomweb/embedded/index.js'
import { headersFor, registerPlanHook } from '../../src/gateway/headers.js'
import { silentLogger } from '../../src/log.js'
import { DEFAULT_INTENT, planHeaders } from '../../src/policy/plan.js'
import { copyPydicomFiles } from '../helpers/dicom-volume.js'

const MOUNT = '/dicomweb/local'

function instancePath(i: Record<string, { Value: string[] }>): string {
  const [study, series, sop] = ['0020000D', '0020000E', '00080018'].map((t) => i[t]!.Value[0])
  return `/studies/${study}/series/${series}/instances/${sop}`
}

describe('embedded source with broken inputs', { timeout: 60_000 }, () => {
  let dir: string
  let outside: string
  let state: string
  let source: EmbeddedDataSource
  let app: FastifyInstance
  let base: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isogate-broken-'))
    outside = mkdtempSync(join(tmpdir(), 'isogate-outside-'))
    state = mkdtempSync(join(tmpdir(), 'isogate-broken-state-'))
    copyPydicomFiles(dir, [
      'MR_truncated.dcm',
      'rtplan_truncated.dcm',
      'badVR.dcm',
      'no_meta.dcm',
      'CT_small.dcm',
      'MR_small_RLE.dcm',
    ])
    // Deterministic "random" bytes, with and without a DICM prefix at 128.
    const noise = Buffer.alloc(4096, 0).map((_, i) => (i * 2654435761) >>> 24)
    writeFileSync(join(dir, 'random.bin'), noise)
    const fake = Buffer.from(noise)
    fake.write('DICM', 128, 'latin1')
    writeFileSync(join(dir, 'random-with-dicm.dcm'), fake)
    writeFileSync(join(dir, 'empty.dcm'), '')
    execFileSync('mkfifo', [join(dir, 'pipe.dcm')])
    symlinkSync(join(dir, 'nowhere.dcm'), join(dir, 'dangling.dcm'))
    symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'))
    symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'))
    mkdirSync(join(dir, 'sub'))
    symlinkSync(dir, join(dir, 'sub', 'up')) // a directory loop
    writeFileSync(join(outside, 'secret.dcm'), 'not yours')
    symlinkSync(join(outside, 'secret.dcm'), join(dir, 'escape.dcm'))

    const plan = planHeaders(DEFAULT_INTENT)
    app = fastify()
    registerPlanHook(app, plan)
    let origin = ''
    source = await createEmbeddedSource(
      { name: 'local', mode: 'embedded', folder: dir, watch: false },
      {
        mountPath: MOUNT,
        publicOrigin: () => origin,
        stateDir: state,
        logger: silentLogger(),
        plan,
        headersFor: (c, s) => headersFor(plan, c, s),
      },
    )
    await app.register(source.plugin, { prefix: MOUNT })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    base = `${origin}${MOUNT}`
  })

  after(async () => {
    await source?.close()
    await app?.close()
    for (const d of [dir, outside, state]) rmSync(d, { recursive: true, force: true })
  })

  test('every broken input is skipped with its path and a reason', () => {
    const details = source.status().details as {
      skipped: { path: string; reason: string }[]
      skippedCount: number
      instances: number
    }
    const reasons = new Map(details.skipped.map((s) => [s.path, s.reason]))
    const expect: Record<string, RegExp> = {
      'MR_truncated.dcm': /truncated/,
      'rtplan_truncated.dcm': /truncated|malformed/,
      'no_meta.dcm': /DICM/,
      'random.bin': /DICM/,
      'random-with-dicm.dcm': /malformed|truncated|meta/,
      'empty.dcm': /empty/,
      'pipe.dcm': /not a regular file/,
      'dangling.dcm': /ENOENT/,
      'loop-a': /loop/,
      'loop-b': /loop/,
      'escape.dcm': /outside the folder/,
    }
    for (const [path, reason] of Object.entries(expect)) {
      assert.match(reasons.get(path) ?? '(not skipped)', reason, path)
    }
    assert.equal(details.skippedCount, details.skipped.length)
    // CT_small, MR_small_RLE and badVR (dicom-parser reads its odd VR as bytes) are served.
    assert.equal(details.instances, 3)
  })

  test('the server keeps answering, and serves the good files', async () => {
    const studies = (await (await fetch(`${base}/studies`)).json()) as unknown[]
    assert.equal(studies.length, 3)
    const instances = (await (await fetch(`${base}/instances`)).json()) as Record<
      string,
      { Value: string[] }
    >[]
    for (const i of instances) {
      const path = instancePath(i)
      const metadata = await fetch(`${base}${path}/metadata`)
      assert.equal(metadata.status, 200)
      const frame = await fetch(`${base}${path}/frames/1`)
      assert.equal(frame.status, 200, path)
      await frame.arrayBuffer()
    }
  })

  test('a file that changes after indexing answers 410, and the re-scan picks it up', async () => {
    const instances = (await (
      await fetch(`${base}/instances?SOPInstanceUID=&limit=10`)
    ).json()) as Record<string, { Value: string[] }>[]
    const ct = instances.find((i) => i['00080016']!.Value[0] === '1.2.840.10008.5.1.4.1.1.2')!
    const path = instancePath(ct)
    writeFileSync(join(dir, 'CT_small.dcm'), 'overwritten')
    const response = await fetch(`${base}${path}/frames/1`)
    assert.equal(response.status, 410)
    assert.equal(response.headers.get('cross-origin-resource-policy'), 'same-origin')
    await source.rescan()
    const after = (source.status().details as { instances: number }).instances
    assert.equal(after, 2)
  })
})

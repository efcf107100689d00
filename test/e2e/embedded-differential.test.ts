/**
 * The embedded source against a real Orthanc DICOMweb plugin on the same files (pydicom's test
 * files plus a synthetic CT and PDF): QIDO results, metadata values and frame bytes must agree
 * for every file both serve. Where they differ on purpose, EXPECTED_DIFFERENCES says why.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'

import { fastify, type FastifyInstance } from 'fastify'

import { createEmbeddedSource, type EmbeddedDataSource } from '../../src/dicomweb/embedded/index.js'
import { headersFor, registerPlanHook } from '../../src/gateway/headers.js'
import { silentLogger } from '../../src/log.js'
import { DEFAULT_INTENT, planHeaders } from '../../src/policy/plan.js'
import { copyPydicomFiles, parseMultipart, writeCtVolume } from '../helpers/dicom-volume.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>

/**
 * Attributes whose values differ between the two on purpose (or by Orthanc's choice), and why.
 * Anything else that differs fails the test.
 */
const EXPECTED_DIFFERENCES: Record<string, string> = {
  '00081190': 'RetrieveURL names each server’s own origin and root',
  '00080056': 'Orthanc adds InstanceAvailability; the embedded source has no such notion',
  '00080054': 'Orthanc adds RetrieveAETitle; the embedded source speaks no DIMSE',
}

const MOUNT = '/dicomweb/local'

/** JSON with object keys sorted, so that key order does not count as a difference. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return v
    const o = v as Record<string, unknown>
    // Where a binary value goes inline or by reference is each server's choice of size.
    if ('BulkDataURI' in o || 'InlineBinary' in o) return { vr: o.vr, binary: true }
    return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)))
  })
}

/** Orthanc's reading of a value differs from PS3.5, per attribute; the reason is given. */
function orthancQuirk(x: unknown, y: unknown, charset: string): string | undefined {
  const a = (x as { Value?: unknown[] } | undefined)?.Value
  const b = (y as { Value?: unknown[] } | undefined)?.Value
  if (!a || !b) return undefined
  // Orthanc keeps the padding space of a value inside a multi-valued CS ("DERIVED "); leading
  // and trailing spaces are not significant in CS (PS3.5 Table 6.2-1), so ours are trimmed.
  const trimmed = a.map((v) => (typeof v === 'string' ? v.trim() : v))
  if (JSON.stringify(trimmed) === JSON.stringify(b)) return 'insignificant CS padding'
  // With ISO 2022 IR 13 (JIS X 0201) Orthanc decodes the value separator 0x5C as a yen sign
  // and then cannot split or parse values; the separator is a backslash in every
  // character set (PS3.5 6.1.2.3).
  if (charset.includes('IR 13')) return 'JIS X 0201 backslash'
  return undefined
}

describe('embedded source vs Orthanc on the same files', { timeout: 170_000 }, () => {
  let dir: string
  let state: string
  let orthanc: OrthancServer
  let source: EmbeddedDataSource
  let app: FastifyInstance
  let ours: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isogate-diff-'))
    state = mkdtempSync(join(tmpdir(), 'isogate-diff-state-'))
    copyPydicomFiles(dir)
    const volume = await writeCtVolume(join(dir, 'volume'), {
      slices: 100,
      size: 128,
      withReport: true,
      seed: 'differential',
    })
    orthanc = await startOrthanc()
    const { readdirSync } = await import('node:fs')
    const files = [
      ...readdirSync(dir)
        .filter((n) => n.endsWith('.dcm'))
        .map((n) => join(dir, n)),
      ...volume.files,
    ]
    const ids = new Set<string>()
    for (const file of files.sort()) {
      let id: string
      try {
        id = await orthanc.upload(file)
      } catch {
        // Orthanc refuses some of pydicom's odd files; only files both serve are compared.
        continue
      }
      // Several pydicom files are one instance in different encodings (same UIDs): keep the
      // first in both servers, or each would serve a different file under one UID.
      if (ids.has(id)) rmSync(file)
      ids.add(id)
    }
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
    ours = `${origin}${MOUNT}`
  })

  after(async () => {
    await source?.close()
    await app?.close()
    await orthanc?.stop()
    rmSync(dir, { recursive: true, force: true })
    rmSync(state, { recursive: true, force: true })
  })

  const getJson = async (url: string): Promise<Json[]> => {
    const response = await fetch(url, { headers: { accept: 'application/dicom+json' } })
    assert.equal(response.status, 200, url)
    return (await response.json()) as Json[]
  }
  const uidOf = (json: Json, tag: string) => String(json[tag]?.Value?.[0])

  test('QIDO studies agree for every study both serve', async () => {
    const include = 'includefield=00081030&includefield=00080060'
    const theirs = await getJson(`${orthanc.dicomWebRoot}/studies?${include}`)
    const mine = await getJson(`${ours}/studies?includefield=00081030%2C00080060`)
    const byUid = new Map(mine.map((s) => [uidOf(s, '0020000D'), s]))
    let compared = 0
    for (const study of theirs) {
      const uid = uidOf(study, '0020000D')
      const other = byUid.get(uid)
      if (!other) continue
      for (const tag of ['00100010', '00100020', '00080020', '00080050', '00081030']) {
        assert.deepEqual(other[tag]?.Value, study[tag]?.Value, `study ${uid} ${tag}`)
      }
      // Orthanc answers a value-less ModalitiesInStudy for a study without Modality (M02);
      // the embedded source leaves the attribute out instead.
      const theirModalities = (study['00080061']?.Value ?? []).slice().sort()
      assert.deepEqual((other['00080061']?.Value ?? []).slice().sort(), theirModalities, uid)
      compared++
    }
    assert.ok(compared >= 10, `only ${compared} studies in common`)
    for (const study of mine) {
      const modalities = study['00080061']
      assert.ok(!modalities || (modalities.Value?.length ?? 0) > 0, 'no value-less modalities')
    }
  })

  test('QIDO matching: wildcard, date range, modality, limit/offset', async () => {
    const cases = [
      'PatientName=ISOGATE*',
      'PatientName=*demo*',
      'StudyDate=20240101-20240102',
      'ModalitiesInStudy=DOC',
      'PatientID=ISOGATE-differential',
    ]
    for (const query of cases) {
      const theirs = (await getJson(`${orthanc.dicomWebRoot}/studies?${query}`)).map((s) =>
        uidOf(s, '0020000D'),
      )
      const mine = (await getJson(`${ours}/studies?${query}`)).map((s) => uidOf(s, '0020000D'))
      assert.deepEqual(mine.sort(), theirs.sort(), query)
      assert.ok(mine.length > 0, `${query} matches something`)
    }
    const all = await getJson(`${ours}/studies`)
    const paged = await getJson(`${ours}/studies?limit=2&offset=1`)
    assert.deepEqual(
      paged.map((s) => uidOf(s, '0020000D')),
      all.slice(1, 3).map((s) => uidOf(s, '0020000D')),
    )
  })

  test('metadata values and frame bytes agree for every instance both serve', async () => {
    const theirs = await getJson(`${orthanc.dicomWebRoot}/instances`)
    const mine = new Set(
      (await getJson(`${ours}/instances?limit=1000`)).map((i) => uidOf(i, '00080018')),
    )
    let instances = 0
    let frames = 0
    const differences: string[] = []
    const seen = new Map<string, number>()
    for (const i of theirs)
      seen.set(uidOf(i, '00080018'), (seen.get(uidOf(i, '00080018')) ?? 0) + 1)
    for (const instance of theirs) {
      const sop = uidOf(instance, '00080018')
      // pydicom reuses one SOP Instance UID in files of different studies (rtdose*, badVR);
      // both servers look instances up by that UID, so such a pair cannot be compared.
      if (!mine.has(sop) || seen.get(sop)! > 1) continue
      const study = uidOf(instance, '0020000D')
      const path = `/studies/${study}/series/${uidOf(instance, '0020000E')}/instances/${sop}`
      const [a] = await getJson(`${orthanc.dicomWebRoot}${path}/metadata`)
      const [b] = await getJson(`${ours}${path}/metadata`)
      for (const tag of new Set([...Object.keys(a!), ...Object.keys(b!)])) {
        if (tag in EXPECTED_DIFFERENCES) continue
        const x = a![tag]
        const y = b![tag]
        if (x?.BulkDataURI || y?.BulkDataURI) continue
        const charset = JSON.stringify(b!['00080005']?.Value ?? [])
        if (canonical(x) !== canonical(y) && !orthancQuirk(x, y, charset)) {
          differences.push(`${sop} ${tag}: orthanc ${canonical(x)} ours ${canonical(y)}`)
        }
      }
      instances++
      if (!b!['7FE00010']) continue
      const count = Number(b!['00280008']?.Value?.[0] ?? 1)
      for (let n = 1; n <= count; n++) {
        const accept = {
          accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
        }
        const [ra, rb] = await Promise.all([
          fetch(`${orthanc.dicomWebRoot}${path}/frames/${n}`, { headers: accept }),
          fetch(`${ours}${path}/frames/${n}`, { headers: accept }),
        ])
        if (ra.status !== 200) continue // Orthanc cannot give this frame; nothing to compare.
        assert.equal(rb.status, 200, `${path}/frames/${n}`)
        const pa = parseMultipart(
          ra.headers.get('content-type')!,
          Buffer.from(await ra.arrayBuffer()),
        )
        const pb = parseMultipart(
          rb.headers.get('content-type')!,
          Buffer.from(await rb.arrayBuffer()),
        )
        assert.equal(pb.length, 1)
        if (!pa[0]!.body.equals(pb[0]!.body)) {
          differences.push(
            `${path} frame ${n}: orthanc ${pa[0]!.body.length} bytes ` +
              `(${pa[0]!.headers['content-type']}), ours ${pb[0]!.body.length} ` +
              `(${pb[0]!.headers['content-type']})`,
          )
        }
        frames++
      }
    }
    assert.deepEqual(differences, [])
    assert.ok(instances >= 100, `compared ${instances} instances`)
    assert.ok(frames >= 100, `compared ${frames} frames`)
  })
})

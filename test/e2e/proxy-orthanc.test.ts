/**
 * A proxied source in front of the real Debian Orthanc (1.10, DICOMweb plugin 1.7): replies are
 * byte-identical to Orthanc's own except for rewritten URLs, no upstream origin reaches the
 * client, the two Orthanc repairs work, isolation headers are on success and error replies, and
 * upstream connections are reused despite Orthanc's `Keep-Alive: timeout=1`.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import dcmjs from 'dcmjs'

import { PYDICOM_FILES } from '../helpers/dicom-volume.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import {
  everything,
  header,
  mountProxy,
  proxyConfig,
  rawExchange,
  rawStatus,
  request,
  type MountedProxy,
  type Reply,
} from './proxy-kit.js'

const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'

/** MR_small.dcm with its Modality element removed, written back as Part 10 by dcmjs. */
function mrWithoutModality(): Buffer {
  const file = readFileSync(join(PYDICOM_FILES, 'MR_small.dcm'))
  const message = (
    dcmjs.data as unknown as {
      DicomMessage: {
        readFile(b: ArrayBuffer): { dict: Record<string, unknown>; write(): ArrayBuffer }
      }
    }
  ).DicomMessage
  const parsed = message.readFile(
    file.buffer.slice(file.byteOffset, file.byteOffset + file.length) as ArrayBuffer,
  )
  delete parsed.dict['00080060']
  return Buffer.from(parsed.write())
}

type Dataset = Record<string, { vr: string; Value?: unknown[] } | undefined>

function json(reply: Reply): Dataset[] {
  return JSON.parse(reply.body.toString('utf8')) as Dataset[]
}

describe('proxy in front of the real Orthanc', { timeout: 150_000 }, () => {
  let orthanc: OrthancServer
  let proxy: MountedProxy
  let upstreamOrigin: string
  let ctStudy: string
  let ctSeries: string
  let ctInstance: string
  let mrStudy: string

  before(async () => {
    orthanc = await startOrthanc()
    upstreamOrigin = orthanc.url
    await orthanc.upload(join(PYDICOM_FILES, 'CT_small.dcm'))
    await orthanc.upload(mrWithoutModality())
    proxy = await mountProxy([
      { ...proxyConfig(orthanc.dicomWebRoot, { kind: 'orthanc' }), mountPath: '/dicomweb/pacs' },
      {
        ...proxyConfig(orthanc.dicomWebRoot, { name: 'raw', kind: 'generic' }),
        mountPath: '/dicomweb/raw',
      },
    ])
    const studies = json(await request(orthanc.dicomWebRoot, '/dicom-web/studies'))
    for (const study of studies) {
      const uid = study['0020000D']?.Value?.[0] as string
      if (study['00080061']?.Value?.includes('CT')) ctStudy = uid
      else mrStudy = uid
    }
    const series = json(await request(orthanc.url, `/dicom-web/studies/${ctStudy}/series`))
    ctSeries = series[0]?.['0020000E']?.Value?.[0] as string
    const path = `/dicom-web/studies/${ctStudy}/series/${ctSeries}/instances`
    ctInstance = json(await request(orthanc.url, path))[0]?.['00080018']?.Value?.[0] as string
    assert.ok(ctStudy && mrStudy && ctSeries && ctInstance, 'both studies are in Orthanc')
  })

  after(async () => {
    await proxy?.close()
    await orthanc?.stop()
  })

  /** The same request direct and through the raw (no-repair) mount. */
  async function both(path: string, headers: Record<string, string> = {}) {
    const direct = await request(orthanc.url, `/dicom-web${path}`, headers)
    const proxied = await request(proxy.origin, `/dicomweb/raw${path}`, headers)
    return { direct, proxied }
  }

  function assertNoUpstream(reply: Reply, what: string): void {
    const text = everything(reply)
    assert.ok(!text.includes(upstreamOrigin), `${what}: upstream origin leaked`)
    assert.ok(!text.includes(`:${orthanc.port}`), `${what}: upstream port leaked`)
  }

  it('QIDO and metadata: identical to Orthanc except the rewritten URLs', async () => {
    const publicBase = `${proxy.origin}/dicomweb/raw`
    const paths = [
      '/studies',
      `/studies/${ctStudy}/series`,
      `/studies/${ctStudy}/series/${ctSeries}/instances`,
      `/studies/${ctStudy}/metadata`,
      `/studies/${ctStudy}/series/${ctSeries}/metadata`,
    ]
    for (const path of paths) {
      const { direct, proxied } = await both(path, { accept: 'application/dicom+json' })
      assert.equal(proxied.status, 200, path)
      const expected = direct.body.toString('utf8').replaceAll(orthanc.dicomWebRoot, publicBase)
      assert.ok(direct.body.toString().includes(orthanc.dicomWebRoot), `${path} has URLs`)
      assert.equal(proxied.body.toString('utf8'), expected, path)
      assert.equal(header(proxied, 'content-type'), header(direct, 'content-type'))
      assert.equal(header(proxied, 'cross-origin-resource-policy'), 'same-origin', path)
      assertNoUpstream(proxied, path)
      assert.ok(!/timeout=1\b/.test(header(proxied, 'keep-alive') ?? ''), 'upstream Keep-Alive')
    }
  })

  it('BulkDataURI and RetrieveURL point at the mount and work from there', async () => {
    const meta = await request(
      proxy.origin,
      `/dicomweb/pacs/studies/${ctStudy}/series/${ctSeries}/metadata`,
    )
    const urls = [...meta.body.toString().matchAll(/"(https?:\/\/[^"]+)"/g)].map((m) => m[1]!)
    assert.ok(urls.length > 0)
    for (const url of urls) assert.ok(url.startsWith(`${proxy.origin}/dicomweb/pacs/`), url)
    const bulk = urls.find((u) => u.includes('/bulk/'))
    assert.ok(bulk, 'a BulkDataURI')
    const fetched = await request(proxy.origin, new URL(bulk).pathname, {
      accept: 'multipart/related; type="application/octet-stream"',
    })
    assert.equal(fetched.status, 200)
  })

  it('frames with the quoted Accept and transfer-syntax=*: byte-identical', async () => {
    const path = `/studies/${ctStudy}/series/${ctSeries}/instances/${ctInstance}/frames/1`
    const { direct, proxied } = await both(path, { accept: FRAME_ACCEPT })
    assert.equal(direct.status, 200)
    assert.equal(proxied.status, 200)
    // Orthanc draws a fresh boundary per reply: compare with it swapped back.
    const boundary = (reply: Reply) =>
      /boundary=([^;\s]+)/.exec(header(reply, 'content-type')!)![1]!
    const type = (reply: Reply) => header(reply, 'content-type')!.replace(boundary(reply), 'B')
    assert.equal(type(proxied), type(direct))
    // Each part names its frame in Content-Location, rewritten like every other URL; the
    // pixel bytes and their part's Content-Length are untouched.
    const swapped = proxied.body
      .toString('latin1')
      .replaceAll(boundary(proxied), boundary(direct))
      .replaceAll(`${proxy.origin}/dicomweb/raw`, orthanc.dicomWebRoot)
    assert.ok(direct.body.toString('latin1').includes('Content-Location: http'))
    assert.ok(Buffer.from(swapped, 'latin1').equals(direct.body), 'frame bytes differ')
    assert.equal(header(proxied, 'cross-origin-resource-policy'), 'same-origin')
    assertNoUpstream(proxied, 'frame')
  })

  it('rendered: same image, class rendered with CORP', async () => {
    const path = `/studies/${ctStudy}/series/${ctSeries}/instances/${ctInstance}/rendered`
    const { direct, proxied } = await both(path, { accept: 'image/jpeg' })
    assert.equal(proxied.status, 200)
    assert.equal(header(proxied, 'content-type'), 'image/jpeg')
    assert.ok(proxied.body.equals(direct.body))
    assert.equal(header(proxied, 'cross-origin-resource-policy'), 'same-origin')
  })

  it("repair: OHIF's comma-joined includefield gets the study description", async () => {
    const query = '/studies?includefield=00081030%2C00080060'
    const raw = json(await request(proxy.origin, `/dicomweb/raw${query}`))
    const ct = (list: Dataset[]) => list.find((s) => s['0020000D']?.Value?.[0] === ctStudy)
    assert.equal(ct(raw)?.['00081030'], undefined, 'Orthanc ignores the comma form')
    const repaired = json(await request(proxy.origin, `/dicomweb/pacs${query}`))
    assert.deepEqual(ct(repaired)?.['00081030']?.Value, ['e+1'])
    const plain = json(
      await request(proxy.origin, '/dicomweb/pacs/studies?includefield=00081030,00080060'),
    )
    assert.deepEqual(ct(plain)?.['00081030']?.Value, ['e+1'])
  })

  it('repair: a study without modality gets no value-less ModalitiesInStudy', async () => {
    const mr = (list: Dataset[]) => list.find((s) => s['0020000D']?.Value?.[0] === mrStudy)
    const raw = json(await request(proxy.origin, '/dicomweb/raw/studies'))
    assert.deepEqual(mr(raw)?.['00080061'], { vr: 'CS' }, 'the fault exists upstream')
    const repairedReply = await request(proxy.origin, '/dicomweb/pacs/studies')
    const repaired = json(repairedReply)
    const element = mr(repaired)?.['00080061']
    assert.ok(element === undefined || (element.Value?.length ?? 0) > 0, JSON.stringify(element))
    // The study that has a modality keeps it; the reply is still fully rewritten.
    const ct = repaired.find((s) => s['0020000D']?.Value?.[0] === ctStudy)
    assert.deepEqual(ct?.['00080061']?.Value, ['CT'])
    assertNoUpstream(repairedReply, 'repaired study list')
  })

  it("Debian's plugin ignores X-Forwarded-*, takes a quoted Forwarded host literally", async () => {
    const path = `/dicom-web/studies/${ctStudy}/series`
    const retrieve = (reply: Reply) => json(reply)[0]?.['00081190']?.Value?.[0] as string
    const xf = await request(orthanc.url, path, {
      'x-forwarded-host': 'viewer.example:9443',
      'x-forwarded-proto': 'https',
    })
    assert.ok(retrieve(xf).startsWith(`${orthanc.url}/dicom-web/`), retrieve(xf))
    const forwarded = await request(orthanc.url, path, {
      forwarded: 'host="viewer.example:9443";proto=https',
    })
    assert.ok(retrieve(forwarded).startsWith('https://"viewer.example:9443"/'), retrieve(forwarded))
    // Neither carries the mount path either; the proxy's rewrite is what makes URLs right.
    const proxied = await request(proxy.origin, `/dicomweb/pacs/studies/${ctStudy}/series`)
    assert.ok(retrieve(proxied).startsWith(`${proxy.origin}/dicomweb/pacs/studies/`))
  })

  it('upstream 404: passed on with isolation headers and no upstream address', async () => {
    const reply = await request(proxy.origin, '/dicomweb/pacs/studies/1.2.3/metadata')
    assert.equal(reply.status, 404)
    assert.equal(header(reply, 'cross-origin-embedder-policy'), 'require-corp')
    assert.equal(header(reply, 'cross-origin-opener-policy'), 'same-origin')
    assert.equal(header(reply, 'cross-origin-resource-policy'), 'same-origin')
    assertNoUpstream(reply, '404')
  })

  it('only the root is reachable: traversal and absolute-form targets are refused', async () => {
    const host = `Host: ${new URL(proxy.origin).host}\r\nConnection: close\r\n\r\n`
    const attempts = [
      '/dicomweb/pacs/../system',
      '/dicomweb/pacs/%2e%2e/system',
      '/dicomweb/pacs/%2E%2E/system',
      '/dicomweb/pacs/%252e%252e/system',
      '/dicomweb/pacs/..%2fsystem',
      '/dicomweb/pacs/..%5csystem',
      '/dicomweb/pacs/..\\system',
      '/dicomweb/pacs//127.0.0.1/system',
      `http://127.0.0.1:${orthanc.port}/system`,
    ]
    for (const target of attempts) {
      const reply = await rawExchange(proxy.origin, `GET ${target} HTTP/1.1\r\n${host}`)
      const status = rawStatus(reply)
      assert.ok(status === 400 || status === 404, `${target} → ${status}`)
      assert.ok(!reply.includes('ApiVersion'), `${target} reached Orthanc's /system`)
    }
    const refused = await rawExchange(
      proxy.origin,
      `GET /dicomweb/pacs/%2e%2e/system HTTP/1.1\r\n${host}`,
    )
    assert.match(refused, /ISOGATE_E_PROXY_FORBIDDEN_TARGET/)
    assert.match(refused, /cross-origin-embedder-policy: require-corp/i)
    // Host games: the upstream is chosen by config, never by the Host header.
    const hosted = await rawExchange(
      proxy.origin,
      'GET /dicomweb/pacs/studies HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    )
    assert.equal(rawStatus(hosted), 200, hosted.slice(0, 300))
    assert.ok(!hosted.includes('evil.example'))
  })

  it('writes are refused unless configured', async () => {
    const reply = await request(proxy.origin, '/dicomweb/pacs/studies', {}, 'POST')
    assert.equal(reply.status, 405)
    assert.match(reply.body.toString(), /ISOGATE_E_PROXY_METHOD/)
    assert.equal(header(reply, 'allow'), 'GET, HEAD')
  })

  it('reuses upstream connections despite Keep-Alive: timeout=1', async () => {
    const source = proxy.sources[0]!
    const before = source.upstream.stats.connectionsOpened
    for (let i = 0; i < 30; i++) {
      const reply = await request(proxy.origin, `/dicomweb/pacs/studies/${ctStudy}/series`)
      assert.equal(reply.status, 200)
      // Some idle time, well under Orthanc's one second, to exercise the idle timer.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 300))
    }
    const opened = source.upstream.stats.connectionsOpened - before
    assert.ok(opened <= 2, `30 sequential requests opened ${opened} upstream connections`)
  })
})

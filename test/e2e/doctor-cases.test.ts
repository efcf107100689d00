/**
 * The doctor on reduced versions of the reported cases (../shared/cases/user-cases.md), served
 * for real on loopback: the bundled OHIF build behind a plain static server with each case's
 * header mistakes, a real Orthanc (behind a small reverse proxy) for the DICOMweb cases, and
 * fake DICOMweb servers for the CORS cases. B01 needs a non-loopback host, so the engine is fed
 * its URL instead.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import { diagnose, type DoctorReport } from '../../src/doctor/diagnose.js'
import { misspelledHeaders } from '../../src/doctor/document.js'
import { headerLines, topLevelIsolation } from '../../src/policy/rules/index.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import {
  appConfigFor,
  ohifRouter,
  proxyTo,
  startSite,
  type Pairs,
  type Router,
  type Site,
} from './doctor-site.js'

const ISO: Pairs = [
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Embedder-Policy', 'require-corp'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
]
const CT = '/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm'

const started: Site[] = []
let orthanc: OrthancServer

async function site(router: Router): Promise<Site> {
  const s = await startSite(router)
  started.push(s)
  return s
}

const codes = (report: DoctorReport): string[] => report.findings.map((f) => f.code)

function expectCodes(report: DoctorReport, expected: string[], exitCode: 0 | 1): void {
  for (const code of expected) {
    assert.ok(codes(report).includes(code), `expected ${code}; got ${codes(report).join(', ')}`)
  }
  assert.equal(report.verdict.exitCode, exitCode)
}

/** A fake DICOMweb server: one study, series and instance; `cors` adds headers per request. */
function fakeDicomweb(
  cors: (req: { method: string; status: number }) => Pairs,
  extra: Partial<{
    rendered: Pairs
    preflight: Pairs
  }> = {},
): Router {
  const json = (body: unknown, status = 200) => ({
    status,
    headers: [
      ['Content-Type', 'application/dicom+json'],
      ...cors({ method: 'GET', status }),
    ] as Pairs,
    body: JSON.stringify(body),
    options: {
      status: 204,
      headers: [...cors({ method: 'OPTIONS', status: 204 }), ...(extra.preflight ?? [])],
    },
  })
  const ui = (v: string) => ({ vr: 'UI', Value: [v] })
  return (_req, url) => {
    const p = url.pathname
    if (p === '/dicom-web/studies') {
      return json([
        {
          '0020000D': ui('1.2.3'),
          '00081030': { vr: 'LO', Value: ['x'] },
          '00080061': { vr: 'CS', Value: ['CT'] },
        },
      ])
    }
    if (p === '/dicom-web/studies/1.2.3/series') return json([{ '0020000E': ui('1.2.3.4') }])
    if (p === '/dicom-web/studies/1.2.3/series/1.2.3.4/metadata')
      return json([{ '00080018': ui('1.2.3.4.5') }])
    if (p.endsWith('/frames/1')) {
      return {
        headers: [
          ['Content-Type', 'multipart/related; type="application/octet-stream"; boundary=b'],
          ...cors({ method: 'GET', status: 200 }),
        ],
        body: '--b\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n--b--',
        options: {
          status: 204,
          headers: [...cors({ method: 'OPTIONS', status: 204 }), ...(extra.preflight ?? [])],
        },
      }
    }
    if (p.endsWith('/rendered')) {
      return { headers: [['Content-Type', 'image/jpeg'], ...(extra.rendered ?? [])], body: 'jpeg' }
    }
    if (p.startsWith('/dicom-web/'))
      return { status: 404, headers: cors({ method: 'GET', status: 404 }), body: '' }
    return undefined
  }
}

before(async () => {
  orthanc = await startOrthanc()
  await orthanc.upload(CT)
  // M02: a copy of the study without Modality (Orthanc's own modify, new UIDs).
  const studies = (await (await fetch(`${orthanc.url}/studies`)).json()) as string[]
  const modified = await fetch(`${orthanc.url}/studies/${studies[0]}/modify`, {
    method: 'POST',
    body: JSON.stringify({ Remove: ['Modality'], Force: true }),
  })
  assert.equal(modified.status, 200)
})

after(async () => {
  for (const s of started) await s.close()
  await orthanc?.stop()
})

describe('doctor on the reported cases', { timeout: 170_000 }, () => {
  it('B01: plain http on a LAN address is "not a secure context", not "headers missing"', () => {
    const url = 'http://10.0.0.5:8099/viewer?StudyInstanceUIDs=1'
    const headers = headerLines([
      ...ISO,
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Allow_Credentials', 'true'],
    ])
    const result = topLevelIsolation({ url, headers })
    assert.equal(result.coi, false)
    assert.equal(result.findings[0]?.code, 'INSECURE_CONTEXT')
    assert.ok(!result.findings.some((f) => f.code === 'COOP_MISSING' || f.code === 'COEP_MISSING'))
    assert.deepEqual(
      misspelledHeaders(url, headers).map((f) => f.code),
      ['HEADER_NAME_MISSPELLED'],
    )
    const wildcard = headerLines([
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Allow-Credentials', 'true'],
    ])
    assert.deepEqual(
      misspelledHeaders(url, wildcard).map((f) => f.code),
      ['CORS_WILDCARD_WITH_CREDENTIALS'],
    )
  })

  it('B05: the start page is isolated but the TMTV deep link is not', async () => {
    const s = await site(
      ohifRouter({
        headers: (path) => (path === '/' || /\.[a-z]+$/.test(path) ? ISO : []),
        appConfig: 'window.config = { dataSources: [] }',
      }),
    )
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['DEEP_LINK_NOT_ISOLATED'], 1)
    assert.equal(report.viewer.version, '3.13.2')
  })

  it('B06: headers on index.html only; the worker scripts lack COEP', async () => {
    const s = await site(
      ohifRouter({
        headers: (path) => (path === '/' || !/\.[a-z]+$/.test(path) ? ISO.slice(0, 2) : []),
        appConfig: 'window.config = { dataSources: [] }',
      }),
    )
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['WORKER_COEP_MISSING'], 1)
    assert.equal(report.verdict.isolated, true)
    assert.deepEqual(report.document.headers['cross-origin-embedder-policy'], ['require-corp'])
  })

  it('B23: a nested block for scripts drops the inherited isolation headers', async () => {
    const s = await site(
      ohifRouter({
        headers: (path) =>
          path.endsWith('.js') && path !== '/app-config.js'
            ? [['Cache-Control', 'immutable']]
            : ISO,
        appConfig: 'window.config = { dataSources: [] }',
      }),
    )
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['WORKER_COEP_MISSING'], 1)
    assert.ok(report.viewer.assets.some((a) => a.kind === 'worker' && !a.loads))
  })

  it('B13: a docker service name, and a cross-origin Orthanc without CORS', async () => {
    const s1 = await site(
      ohifRouter({ headers: () => ISO, appConfig: appConfigFor('http://orthanc:8042/dicom-web') }),
    )
    const internal = await diagnose({ url: `${s1.origin}/` })
    expectCodes(internal, ['SOURCE_HOST_INTERNAL'], 1)
    const s2 = await site(
      ohifRouter({
        headers: () => ISO,
        appConfig: appConfigFor(`${orthanc.url.replace('127.0.0.1', 'localhost')}/dicom-web`),
      }),
    )
    const cross = await diagnose({ url: `${s2.origin}/` })
    expectCodes(cross, ['CORS_ACAO_MISSING'], 1)
    assert.equal(cross.verdict.sourcesReachable, false)
  })

  it('B15: the upstream builds BulkDataURI from the Host it was given', async () => {
    const s = await site(
      ohifRouter({
        headers: () => ISO,
        appConfig: appConfigFor('/dicom-web'),
        extra: proxyTo(orthanc.url, () => 'localhost'),
      }),
    )
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['BULKDATA_URI_FOREIGN'], 1)
  })

  it('M01, M02: Orthanc ignores a comma-joined includefield; a study lacks Modality', async () => {
    const s = await site(
      ohifRouter({
        headers: () => ISO,
        appConfig: appConfigFor('/dicom-web'),
        extra: proxyTo(orthanc.url, (req) => req.headers.host ?? ''),
      }),
    )
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['QIDO_INCLUDEFIELD_IGNORED', 'QIDO_EMPTY_VALUE'], 0)
    assert.ok(!codes(report).includes('BULKDATA_URI_FOREIGN'))
  })

  it('B17: the preflight for the quoted frame Accept does not allow accept', async () => {
    let viewer = ''
    const pacs = await site(
      fakeDicomweb(() => [['Access-Control-Allow-Origin', viewer]], {
        preflight: [['Access-Control-Allow-Headers', 'authorization']],
      }),
    )
    const s = await site(
      ohifRouter({ headers: () => ISO, appConfig: appConfigFor(`${pacs.origin}/dicom-web`) }),
    )
    viewer = s.origin
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['PREFLIGHT_HEADERS_MISSING'], 1)
    assert.ok(
      pacs.log.some(
        (r) => r.method === 'OPTIONS' && r.headers['access-control-request-headers'] === 'accept',
      ),
    )
    // With the quotes omitted there is no preflight, and the source is reachable.
    const s2 = await site(
      ohifRouter({
        headers: () => ISO,
        appConfig: appConfigFor(`${pacs.origin}/dicom-web`, {
          omitQuotationForMultipartRequest: true,
        }),
      }),
    )
    viewer = s2.origin
    const fixed = await diagnose({ url: `${s2.origin}/` })
    assert.equal(fixed.verdict.sourcesReachable, true, codes(fixed).join(', '))
  })

  it('B19: rendered images with a default CORP same-origin, loaded cross-origin', async () => {
    let viewer = ''
    const pacs = await site(
      fakeDicomweb(
        () => [
          ['Access-Control-Allow-Origin', viewer],
          ['Access-Control-Allow-Headers', 'accept'],
        ],
        {
          rendered: [['Cross-Origin-Resource-Policy', 'same-origin']],
        },
      ),
    )
    const s = await site(
      ohifRouter({
        headers: () => ISO,
        appConfig: appConfigFor(`${pacs.origin}/dicom-web`, { thumbnailRendering: 'rendered' }),
      }),
    )
    viewer = s.origin
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['CORP_BLOCKED'], 1)
  })

  it('B22: error replies lose the isolation and CORS headers (no `always`)', async () => {
    let viewer = ''
    const pacs = await site(
      fakeDicomweb(({ status }) =>
        status < 400
          ? [
              ['Access-Control-Allow-Origin', viewer],
              ['Access-Control-Allow-Headers', 'accept'],
            ]
          : [],
      ),
    )
    const s = await site(
      ohifRouter({
        headers: (_p, status) => (status < 400 ? ISO : []),
        appConfig: appConfigFor(`${pacs.origin}/dicom-web`),
      }),
    )
    viewer = s.origin
    const report = await diagnose({ url: `${s.origin}/` })
    expectCodes(report, ['ERROR_PAGE_HEADERS_MISSING', 'CORS_ACAO_MISSING_ON_ERROR'], 0)
    assert.equal(report.verdict.sourcesReachable, true)
  })

  it('B09: the viewer framed by an app on another port (--embedded-in)', async () => {
    const viewer = await site(
      ohifRouter({
        headers: () => ISO.slice(0, 2),
        appConfig: 'window.config = { dataSources: [] }',
      }),
    )
    const viewerUrl = `${viewer.origin.replace('127.0.0.1', 'localhost')}/viewer`
    const frame = (parentHeaders: Pairs, allow: string) =>
      site(() => ({
        headers: [['Content-Type', 'text/html'], ...parentHeaders],
        body: `<!doctype html><iframe src="${viewerUrl}" allow="${allow}"></iframe>`,
      }))
    // As reported: a plain parent, an iframe with an unrelated allow.
    const plain = await frame([], 'xr-spatial-tracking')
    const before = await diagnose({
      url: viewerUrl,
      embeddedIn: [plain.origin.replace('127.0.0.1', 'localhost') + '/'],
    })
    expectCodes(before, ['FRAME_ANCESTOR_NOT_ISOLATED'], 1)
    // Parent isolated, still no delegation; and the viewer lacks CORP for its cross-origin parent.
    const isolated = await frame(ISO.slice(0, 2), 'xr-spatial-tracking')
    const half = await diagnose({
      url: viewerUrl,
      embeddedIn: [isolated.origin.replace('127.0.0.1', 'localhost') + '/'],
    })
    expectCodes(half, ['IFRAME_CORP_MISSING'], 1)
    assert.equal(half.frames[1]?.loads, false)
  })

  it('exit code 2 territory: an unreachable host throws ISOGATE_E_DOCTOR_UNREACHABLE', async () => {
    const s = await site(() => undefined)
    const port = s.port
    await s.close()
    started.splice(started.indexOf(s), 1)
    await assert.rejects(diagnose({ url: `http://127.0.0.1:${port}/` }), {
      code: 'ISOGATE_E_DOCTOR_UNREACHABLE',
    })
    await assert.rejects(diagnose({ url: 'ftp://x/' }), { code: 'ISOGATE_E_DOCTOR_URL' })
  })
})

/**
 * `isogate recipe apache`, proven on Debian's Apache httpd: `apache2 -t` passes on a
 * self-contained httpd.conf around the rendered VirtualHost, and on loopback in front of the
 * bundled OHIF build and a real Orthanc every response class carries the plan's headers once.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { renderRecipe } from '../../src/recipes/index.js'
import { contextOf, type RecipeContext } from '../../src/recipes/model.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import { freePort } from '../helpers/ports.js'
import {
  checkProbes,
  countingProxy,
  dicomwebProbes,
  firstInstance,
  headerValues,
  planMismatches,
  rawRequest,
  renderedProbes,
  viewerFolder,
  viewerProbes,
  type CountingProxy,
} from '../helpers/recipe-check.js'
import {
  apacheMainConf,
  check,
  startApache,
  writeRecipe,
  type RunningServer,
} from '../helpers/recipe-servers.js'

const DATA = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
const VIEWER_ORIGIN = 'https://viewer.example.org'

describe('recipe apache on a real httpd, OHIF and Orthanc', () => {
  let dir: string
  let orthanc: OrthancServer
  let upstream: CountingProxy
  let server: RunningServer
  let ctx: RecipeContext
  let study = ''
  let series = ''

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isogate-recipe-apache-'))
    // httpd refuses to serve as root; its www-data workers must read the viewer folder.
    chmodSync(dir, 0o755)
    orthanc = await startOrthanc()
    await orthanc.upload(join(DATA, 'CT_small.dcm'))
    const studies = (await (await fetch(`${orthanc.dicomWebRoot}/studies`)).json()) as Array<
      Record<string, { Value: string[] }>
    >
    study = studies[0]!['0020000D']!.Value[0]!
    const list = (await (
      await fetch(`${orthanc.dicomWebRoot}/studies/${study}/series`)
    ).json()) as Array<Record<string, { Value: string[] }>>
    series = list[0]!['0020000E']!.Value[0]!
    upstream = await countingProxy(orthanc.url, await freePort())
    const port = await freePort()
    const options = {
      root: viewerFolder(dir, '/dicom-web'),
      upstream: `${upstream.url}/dicom-web`,
      mode: 'front' as const,
      allowOrigins: [VIEWER_ORIGIN],
      serverName: '127.0.0.1',
      port,
    }
    ctx = contextOf(options)
    const output = renderRecipe('apache', options)
    writeRecipe(dir, output)
    const conf = apacheMainConf(dir, join(dir, 'isogate-apache.conf'), port)
    const verdict = check('/usr/sbin/apache2', ['-t', '-f', conf])
    assert.equal(verdict.status, 0, verdict.output)
    server = await startApache(conf, port)
  })

  after(async () => {
    await server?.stop()
    await upstream?.close()
    await orthanc?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('every viewer response class carries the plan headers exactly once', async () => {
    assert.deepEqual(await checkProbes(ctx, server.base, viewerProbes()), [])
  })

  it('fronted QIDO, metadata, upstream 404 and preflight carry the plan and CORS', async () => {
    const probes = dicomwebProbes('/dicom-web', study, series, VIEWER_ORIGIN)
    assert.deepEqual(await checkProbes(ctx, server.base, probes), [])
  })

  it('preflights never reach the upstream; unlisted origins get no ACAO', async () => {
    const seen = upstream.seen.length
    const res = await rawRequest(`${server.base}/dicom-web/studies`, {
      method: 'OPTIONS',
      headers: { Origin: VIEWER_ORIGIN, 'Access-Control-Request-Method': 'GET' },
    })
    assert.equal(res.status, 204)
    assert.equal(upstream.seen.length, seen)
    const other = await rawRequest(`${server.base}/dicom-web/studies`, {
      headers: { Origin: 'https://evil.example' },
    })
    assert.deepEqual(headerValues(other, 'access-control-allow-origin'), [])
    assert.deepEqual(headerValues(other, 'vary'), ['Origin'])
  })

  it('rendered: bare COEP, CORP and CORS on /rendered, error set on a missing one', async () => {
    const sop = await firstInstance(orthanc.dicomWebRoot, study, series)
    const probes = renderedProbes('/dicom-web', study, series, sop, VIEWER_ORIGIN)
    assert.deepEqual(await checkProbes(ctx, server.base, probes), [])
  })

  it('upstream absolute URLs do not leak into metadata', async () => {
    const res = await rawRequest(
      `${server.base}/dicom-web/studies/${study}/series/${series}/metadata`,
    )
    const body = res.body.toString()
    assert.ok(!body.includes(upstream.url) && !body.includes(orthanc.url), body.slice(0, 300))
    assert.ok(body.includes(`${server.base}/dicom-web/studies/`), body.slice(0, 300))
  })

  it('a 502 when the upstream is down keeps the error set and CORS', async () => {
    await upstream.close()
    const path = '/dicom-web/studies'
    const res = await rawRequest(`${server.base}${path}`, { headers: { Origin: VIEWER_ORIGIN } })
    assert.ok(res.status === 502 || res.status === 503, String(res.status))
    assert.deepEqual(planMismatches(ctx, res, 'dicomweb', path, VIEWER_ORIGIN), [])
  })
})

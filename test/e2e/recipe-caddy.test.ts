/**
 * `isogate recipe caddy`, proven on Debian's Caddy: `caddy validate` passes, and on loopback in
 * front of the bundled OHIF build and a real Orthanc every response class carries the plan's
 * headers exactly once, preflights stay off the upstream and errors keep the headers.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
  planMismatches,
  rawRequest,
  renderedProbes,
  viewerFolder,
  viewerProbes,
  type CountingProxy,
} from '../helpers/recipe-check.js'
import { check, startCaddy, writeRecipe, type RunningServer } from '../helpers/recipe-servers.js'

const DATA = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
const VIEWER_ORIGIN = 'https://viewer.example.org'

describe('recipe caddy on a real Caddy, OHIF and Orthanc', () => {
  let dir: string
  let orthanc: OrthancServer
  let upstream: CountingProxy
  let server: RunningServer
  let ctx: RecipeContext
  let study = ''
  let series = ''

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isogate-recipe-caddy-'))
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
    writeRecipe(dir, renderRecipe('caddy', options))
    // Our own process: no admin endpoint on a port we did not pick.
    const file = join(dir, 'Caddyfile')
    writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${readFileSync(file, 'utf8')}`)
    const verdict = check('caddy', ['validate', '--config', file, '--adapter', 'caddyfile'])
    assert.equal(verdict.status, 0, verdict.output)
    server = await startCaddy(file, port)
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

  it('preflights never reach the upstream', async () => {
    const seen = upstream.seen.length
    const res = await rawRequest(`${server.base}/dicom-web/studies`, {
      method: 'OPTIONS',
      headers: { Origin: VIEWER_ORIGIN, 'Access-Control-Request-Method': 'GET' },
    })
    assert.equal(res.status, 204)
    assert.equal(upstream.seen.length, seen)
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
    assert.equal(res.status, 502)
    assert.deepEqual(planMismatches(ctx, res, 'dicomweb', path, VIEWER_ORIGIN), [])
  })
})

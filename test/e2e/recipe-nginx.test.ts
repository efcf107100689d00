/**
 * `isogate recipe nginx`, proven on Debian's nginx: the rendered site passes `nginx -t`, runs
 * on loopback in front of the bundled OHIF build and a real Orthanc, every response class
 * carries the plan's headers exactly once, the classic traps are covered, and Chromium is
 * isolated and lists the Orthanc study through it.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { renderRecipe } from '../../src/recipes/index.js'
import { contextOf, type RecipeContext, type RecipeOptions } from '../../src/recipes/model.js'
import { dcm4cheeOptions, orthancOptions } from '../../src/recipes/sources.js'
import { launchChromium, newContext, screenshotDir } from '../helpers/chromium.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import { freePort } from '../helpers/ports.js'
import {
  checkProbes,
  countingProxy,
  dicomwebProbes,
  doctorErrors,
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
  check,
  nginxMainConf,
  startNginx,
  writeRecipe,
  type RunningServer,
} from '../helpers/recipe-servers.js'

const DATA = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
const VIEWER_ORIGIN = 'https://viewer.example.org'

interface Site {
  ctx: RecipeContext
  server: RunningServer
  conf: string
}

describe('recipe nginx on a real nginx, OHIF and Orthanc', () => {
  let dir: string
  let orthanc: OrthancServer
  let upstream: CountingProxy
  let proxySite: Site
  let frontSite: Site
  let orthancSite: Site
  let dcm4cheeSite: Site
  let study = ''
  let series = ''

  async function site(
    name: string,
    options: RecipeOptions,
    target = 'nginx',
    prepare = (o: RecipeOptions) => o,
  ): Promise<Site> {
    const siteDir = join(dir, name)
    mkdirSync(siteDir, { recursive: true })
    const full = prepare({ ...options, includeDir: join(siteDir, 'isogate') })
    const output = renderRecipe(target, full)
    writeRecipe(siteDir, output)
    const conf = nginxMainConf(siteDir, join(siteDir, 'isogate.conf'))
    const verdict = check('nginx', ['-t', '-p', siteDir, '-c', conf])
    assert.equal(verdict.status, 0, verdict.output)
    const server = await startNginx(siteDir, conf, Number(options.port))
    return { ctx: contextOf(full), server, conf }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isogate-recipe-nginx-'))
    orthanc = await startOrthanc()
    await orthanc.upload(join(DATA, 'CT_small.dcm'))
    await orthanc.upload(join(DATA, 'MR_small.dcm'))
    const studies = (await (await fetch(`${orthanc.dicomWebRoot}/studies`)).json()) as Array<
      Record<string, { Value: string[] }>
    >
    study = studies[0]!['0020000D']!.Value[0]!
    const list = (await (
      await fetch(`${orthanc.dicomWebRoot}/studies/${study}/series`)
    ).json()) as Array<Record<string, { Value: string[] }>>
    series = list[0]!['0020000E']!.Value[0]!
    upstream = await countingProxy(orthanc.url, await freePort())
    const root = viewerFolder(dir, '/dicom-web')
    proxySite = await site('proxy', {
      root,
      upstream: `${upstream.url}/dicom-web`,
      port: await freePort(),
    })
    frontSite = await site('front', {
      root,
      upstream: `${upstream.url}/dicom-web`,
      mode: 'front',
      allowOrigins: [VIEWER_ORIGIN],
      port: await freePort(),
    })
    const upstreamRoot = `${upstream.url}/dicom-web`
    const cors = { upstream: upstreamRoot, allowOrigins: [VIEWER_ORIGIN], port: await freePort() }
    orthancSite = await site('orthanc', cors, 'orthanc-nginx-cors', orthancOptions)
    const rendered = { upstream: upstreamRoot, port: await freePort() }
    dcm4cheeSite = await site('dcm4chee', rendered, 'dcm4chee-rendered-corp', dcm4cheeOptions)
  })

  after(async () => {
    await proxySite?.server.stop()
    await frontSite?.server.stop()
    await orthancSite?.server.stop()
    await dcm4cheeSite?.server.stop()
    await upstream?.close()
    await orthanc?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('every viewer response class carries the plan headers exactly once', async () => {
    const failures = await checkProbes(proxySite.ctx, proxySite.server.base, viewerProbes())
    assert.deepEqual(failures, [])
  })

  it('proxied QIDO, metadata, upstream 404 and preflight carry the plan headers', async () => {
    const probes = dicomwebProbes('/dicom-web', study, series)
    const failures = await checkProbes(proxySite.ctx, proxySite.server.base, probes)
    assert.deepEqual(failures, [])
  })

  it('rendered: a bare COEP and CORP on /rendered, the error set on a missing one', async () => {
    const sop = await firstInstance(orthanc.dicomWebRoot, study, series)
    const probes = renderedProbes('/dicom-web', study, series, sop)
    assert.deepEqual(await checkProbes(proxySite.ctx, proxySite.server.base, probes), [])
    const front = renderedProbes('/dicom-web', study, series, sop, VIEWER_ORIGIN)
    assert.deepEqual(await checkProbes(frontSite.ctx, frontSite.server.base, front), [])
  })

  it('trap: a location with its own add_header still has the isolation set (B23)', async () => {
    // The hashed-JS and wasm locations add Cache-Control and a type of their own.
    for (const path of ['/app.bundle.0f6159c501addfe9.js', '/0ddf166f7a343eda.wasm']) {
      const res = await rawRequest(`${proxySite.server.base}${path}`)
      assert.deepEqual(headerValues(res, 'cache-control'), ['public, max-age=31536000, immutable'])
      assert.deepEqual(headerValues(res, 'cross-origin-embedder-policy'), ['require-corp'])
      assert.deepEqual(headerValues(res, 'cross-origin-resource-policy'), ['same-origin'])
    }
  })

  it('trap: errors keep the headers (`always`, B22): nginx 404 and upstream 404', async () => {
    const own = await rawRequest(`${proxySite.server.base}/no-such-chunk.js`)
    const missing = '/dicom-web/studies/1.2.3.404/metadata'
    const up = await rawRequest(`${proxySite.server.base}${missing}`)
    for (const res of [own, up]) {
      assert.equal(res.status, 404)
      assert.deepEqual(headerValues(res, 'cross-origin-embedder-policy'), ['require-corp'])
      assert.deepEqual(headerValues(res, 'cross-origin-opener-policy'), ['same-origin'])
      assert.deepEqual(headerValues(res, 'cache-control'), ['no-store'])
    }
  })

  it('front mode: listed origin echoed with Vary: Origin; others get no ACAO', async () => {
    const probes = dicomwebProbes('/dicom-web', study, series, VIEWER_ORIGIN)
    assert.deepEqual(await checkProbes(frontSite.ctx, frontSite.server.base, probes), [])
    const other = await rawRequest(`${frontSite.server.base}/dicom-web/studies`, {
      headers: { Origin: 'https://evil.example' },
    })
    assert.deepEqual(headerValues(other, 'access-control-allow-origin'), [])
    assert.deepEqual(headerValues(other, 'vary'), ['Origin'])
    const missing = await rawRequest(
      `${frontSite.server.base}/dicom-web/studies/1.2.404/metadata`,
      {
        headers: { Origin: VIEWER_ORIGIN },
      },
    )
    assert.equal(missing.status, 404)
    assert.deepEqual(headerValues(missing, 'access-control-allow-origin'), [VIEWER_ORIGIN])
  })

  it('preflights are answered by nginx and never reach the upstream', async () => {
    const before = upstream.seen.length
    for (const site of [proxySite, frontSite]) {
      const res = await rawRequest(`${site.server.base}/dicom-web/studies/${study}/series`, {
        method: 'OPTIONS',
        headers: {
          Origin: VIEWER_ORIGIN,
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'accept',
        },
      })
      assert.equal(res.status, 204)
    }
    const front = await rawRequest(`${frontSite.server.base}/dicom-web/studies`, {
      method: 'OPTIONS',
      headers: { Origin: VIEWER_ORIGIN, 'Access-Control-Request-Method': 'GET' },
    })
    assert.deepEqual(headerValues(front, 'access-control-allow-origin'), [VIEWER_ORIGIN])
    assert.match(headerValues(front, 'access-control-allow-headers')[0] ?? '', /\baccept\b/)
    assert.deepEqual(
      upstream.seen.slice(before).filter((l) => l.startsWith('OPTIONS')),
      [],
    )
    assert.equal(upstream.seen.length, before)
  })

  it('upstream absolute URLs do not leak: BulkDataURI points at the nginx origin', async (t) => {
    const path = `/dicom-web/studies/${study}/series/${series}/metadata`
    // Measure what this Orthanc builds its URLs from: Host, or X-Forwarded-Host/Proto.
    const direct = await rawRequest(`${orthanc.url}${path}`, {
      headers: {
        Host: 'host-header.invalid:1',
        'X-Forwarded-Host': 'forwarded.invalid:2',
        'X-Forwarded-Proto': 'https',
      },
    })
    const text = direct.body.toString()
    const builtFrom = text.includes('forwarded.invalid')
      ? 'X-Forwarded-Host'
      : text.includes('host-header.invalid')
        ? 'Host'
        : 'neither'
    t.diagnostic(`Orthanc builds BulkDataURI from: ${builtFrom}`)
    assert.match(text, /BulkDataURI/, 'the metadata must carry BulkDataURI for this check')

    const res = await rawRequest(`${proxySite.server.base}${path}`)
    const body = res.body.toString()
    assert.equal(res.status, 200)
    assert.ok(!body.includes(upstream.url), 'the upstream origin leaked into the metadata')
    assert.ok(!body.includes(orthanc.url), "Orthanc's origin leaked into the metadata")
    assert.ok(body.includes(`${proxySite.server.base}/dicom-web/studies/`), body.slice(0, 400))
  })

  it('Chromium: the viewer through nginx is isolated and lists the Orthanc study', async () => {
    const browser = await launchChromium()
    try {
      const context = await newContext(browser)
      const page = await context.newPage()
      const failed: string[] = []
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`)
      })
      await page.goto(`${proxySite.server.base}/`, { waitUntil: 'load' })
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
      // pydicom's CT_small is patient "CompressedSamples^CT1".
      await page.waitForSelector('text=/CompressedSamples/i', { timeout: 90_000 })
      mkdirSync(screenshotDir(), { recursive: true })
      await page.screenshot({ path: join(screenshotDir(), 'recipe-nginx-study-list.png') })
      assert.deepEqual(failed, [])
      await context.close()
    } finally {
      await browser.close()
    }
  })

  it('orthanc-nginx-cors: QIDO, metadata, 404 and preflight carry the plan and CORS', async () => {
    const probes = dicomwebProbes('/dicom-web', study, series, VIEWER_ORIGIN)
    assert.deepEqual(await checkProbes(orthancSite.ctx, orthancSite.server.base, probes), [])
    // Nothing but DICOMweb here: the viewer lives elsewhere.
    const page = await rawRequest(`${orthancSite.server.base}/`)
    assert.equal(page.status, 404)
  })

  it('dcm4chee-rendered-corp: a rendered frame loads cross-origin under COEP', async () => {
    const probes = dicomwebProbes('/dicom-web', study, series, VIEWER_ORIGIN)
    assert.deepEqual(await checkProbes(dcm4cheeSite.ctx, dcm4cheeSite.server.base, probes), [])
    const instances = (await (
      await fetch(`${orthanc.dicomWebRoot}/studies/${study}/series/${series}/instances`)
    ).json()) as Array<Record<string, { Value: string[] }>>
    const sop = instances[0]!['00080018']!.Value[0]!
    const path = `/dicom-web/studies/${study}/series/${series}/instances/${sop}/rendered`
    const res = await rawRequest(`${dcm4cheeSite.server.base}${path}`, {
      headers: { Accept: 'image/png' },
    })
    assert.equal(res.status, 200)
    assert.deepEqual(headerValues(res, 'cross-origin-resource-policy'), ['cross-origin'])
    assert.deepEqual(planMismatches(dcm4cheeSite.ctx, res, 'rendered', path), [])
  })

  it('the doctor finds no error-severity problem on the nginx site', async () => {
    assert.deepEqual(await doctorErrors(`${proxySite.server.base}/`), [])
  })

  it('a 502 when the upstream is down keeps the error set', async () => {
    await upstream.close()
    const path = '/dicom-web/studies'
    const res = await rawRequest(`${proxySite.server.base}${path}`)
    assert.equal(res.status, 502)
    assert.deepEqual(planMismatches(proxySite.ctx, res, 'dicomweb', path), [])
    const front = await rawRequest(`${frontSite.server.base}${path}`, {
      headers: { Origin: VIEWER_ORIGIN },
    })
    assert.equal(front.status, 502)
    assert.deepEqual(planMismatches(frontSite.ctx, front, 'dicomweb', path, VIEWER_ORIGIN), [])
  })
})

/**
 * OHIF 3.13 over the embedded demo study, in Debian's Chromium: the page is cross-origin
 * isolated and threads really share memory; the study list shows the demo study; the CT
 * renders (canvas pixels); the MPR layout shows three orthogonal views of one volume; the PDF
 * report shows in OHIF's PDF viewport; nothing is blocked by COEP, CORP or CORS. With
 * `isolation: off` the page is not isolated and the CT still renders.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { Browser, BrowserContext, Page } from 'playwright-core'

import { validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { launchChromium } from '../helpers/chromium.js'
import {
  chooseMprLayout,
  dicomJson,
  isBlank,
  isolationFacts,
  isolationTrouble,
  newOhifContext,
  regionStats,
  screenshot,
  studyListRows,
  text,
  viewerUrl,
  waitForRenderedViewports,
  watchPage,
  type PageWatch,
} from '../helpers/ohif.js'

/** One state folder for the file: the demo study is generated once, then reused. */
const state = mkdtempSync(join(tmpdir(), 'isogate-ohif-embedded-'))

async function gatewayWith(input: Partial<IsogateConfigInput> = {}): Promise<RunningGateway> {
  return await startGateway(
    validateConfig({ listen: { host: '127.0.0.1', port: 0 }, stateDir: state, ...input }),
  )
}

interface Demo {
  readonly study: string
  readonly ctSeries: string
  readonly reportSeries: string
  readonly reportSop: string
  readonly root: string
}

/** The demo study's UIDs, asked of the gateway's own QIDO (not derived from the generator). */
async function demoOf(gateway: RunningGateway): Promise<Demo> {
  const root = `${gateway.origin}${gateway.sources[0]!.roots.qidoRoot}`
  const studies = await dicomJson(`${root}/studies`)
  assert.equal(studies.length, 1, 'the demo is one study')
  const study = text(studies[0]!, '0020000D')
  const series = await dicomJson(`${root}/studies/${study}/series`)
  const byModality = (m: string) => series.find((s) => text(s, '00080060') === m)
  const report = byModality('DOC')
  assert.ok(byModality('CT') && report, 'a CT series and a DOC series')
  const instances = await dicomJson(
    `${root}/studies/${study}/series/${text(report, '0020000E')}/instances`,
  )
  return {
    study,
    ctSeries: text(byModality('CT')!, '0020000E'),
    reportSeries: text(report, '0020000E'),
    reportSop: text(instances[0]!, '00080018'),
    root,
  }
}

/** Chromium's built-in PDF viewer extension. */
function isPdfViewer(url: string): boolean {
  return url.startsWith('chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/')
}

describe('OHIF over the embedded demo, isolated (require-corp)', { timeout: 170_000 }, () => {
  let gateway: RunningGateway
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let seen: PageWatch
  let demo: Demo

  before(async () => {
    ;[gateway, browser] = await Promise.all([gatewayWith(), launchChromium()])
    demo = await demoOf(gateway)
    context = await newOhifContext(browser)
    page = await context.newPage()
    seen = watchPage(page)
  })
  after(async () => {
    await context?.close()
    await browser?.close()
    await gateway?.close()
  })

  it('the study list shows the demo study with its description', async () => {
    const rows = await studyListRows(page, gateway.url, 1)
    await screenshot(page, 'embedded-study-list')
    assert.equal(rows.length, 1, JSON.stringify(rows))
    assert.equal(rows[0]!.description, 'SYNTHETIC DEMO - not a patient')
    assert.match(rows[0]!.patient, /ISOGATE, DEMO SYNT/)
    assert.equal(rows[0]!.modalities, 'CT\\DOC')
    assert.equal(rows[0]!.instances, '129')
  })

  it('is cross-origin isolated: a SAB reaches a worker, wasm threads share memory', async () => {
    const facts = await isolationFacts(page)
    assert.equal(facts.secure, true)
    assert.equal(facts.isolated, true)
    assert.equal(facts.sabType, 'function')
    assert.equal(facts.sabEcho, 4242)
    assert.ok(facts.hardwareConcurrency >= 1, `hardwareConcurrency ${facts.hardwareConcurrency}`)
    assert.deepEqual(facts.wasmThreads, { total: 40000, expected: 40000 })
  })

  it('the CT renders in the viewport (canvas pixels)', async () => {
    await page.goto(viewerUrl(gateway.url, [demo.study]))
    const [viewport, ...others] = await waitForRenderedViewports(page, 1)
    await screenshot(page, 'embedded-ct')
    assert.equal(others.length, 0)
    assert.equal(viewport?.type, 'stack')
    assert.ok(
      viewport.currentImageId?.includes(`/series/${demo.ctSeries}/`),
      `the CT series: ${viewport.currentImageId}`,
    )
    assert.ok(!isBlank(viewport.stats), JSON.stringify(viewport.stats))
    // A phantom slice at a soft-tissue window has many grey levels, not two.
    assert.ok(viewport.stats.levels >= 16, JSON.stringify(viewport.stats))
  })

  it('MPR (toolbar Layout → MPR) shows three orthogonal views of one volume', async () => {
    await chooseMprLayout(page)
    const viewports = await waitForRenderedViewports(page, 3)
    await screenshot(page, 'embedded-mpr')
    assert.deepEqual(
      viewports.map((v) => v.id),
      ['mpr-axial', 'mpr-coronal', 'mpr-sagittal'],
    )
    for (const v of viewports) {
      assert.equal(v.type, 'orthographic', `${v.id} is a volume viewport`)
      assert.ok(!isBlank(v.stats) && v.stats.levels >= 16, `${v.id}: ${JSON.stringify(v.stats)}`)
    }
    const volumes = new Set(viewports.flatMap((v) => v.volumes))
    assert.equal(volumes.size, 1, `one volume behind all three: ${[...volumes].join(', ')}`)
    // Orthogonal planes: the view-plane normals are pairwise perpendicular unit vectors.
    const [a, c, s] = viewports.map((v) => v.viewPlaneNormal)
    const dot = (x: readonly number[], y: readonly number[]) =>
      x.reduce((sum, xi, i) => sum + xi * (y[i] ?? 0), 0)
    for (const [x, y] of [
      [a!, c!],
      [a!, s!],
      [c!, s!],
    ] as const) {
      assert.ok(Math.abs(dot(x, y)) < 1e-6, `normals ${x} and ${y} are perpendicular`)
    }
    assert.ok(Math.abs(Math.abs(a![2]!) - 1) < 1e-6, `axial looks along z: ${a}`)
    assert.ok(Math.abs(Math.abs(s![0]!) - 1) < 1e-6, `sagittal looks along x: ${s}`)
    assert.ok(Math.abs(Math.abs(c![1]!) - 1) < 1e-6, `coronal looks along y: ${c}`)
    // And they show different pictures.
    assert.equal(new Set(viewports.map((v) => v.stats.hash)).size, 3)
  })

  it('nothing on this page was blocked by COEP, CORP or CORS', () => {
    assert.deepEqual(isolationTrouble(seen), [])
    assert.deepEqual(seen.failed, [])
  })

  it('the `rendered` reply of the PDF is application/pdf with CORP and COEP', async () => {
    const url =
      `${demo.root}/studies/${demo.study}/series/${demo.reportSeries}` +
      `/instances/${demo.reportSop}/rendered`
    const response = await fetch(url, { headers: { accept: 'application/pdf' } })
    const body = Buffer.from(await response.arrayBuffer())
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), 'application/pdf')
    assert.equal(response.headers.get('cross-origin-resource-policy'), 'same-origin')
    // OHIF shows it in an <object>, a nested document: under the viewer's COEP it must carry a
    // compatible COEP of its own, or Chromium blocks it (browser-rules R-COI-5).
    assert.match(response.headers.get('cross-origin-embedder-policy') ?? '', /^require-corp/)
    assert.equal(body.subarray(0, 5).toString('latin1'), '%PDF-')
    assert.match(body.subarray(-8).toString('latin1'), /%%EOF\s*$/)
  })

  it('the PDF report shows in OHIF’s PDF viewport', async () => {
    // Its own page, so that what it may break is told apart from the rest.
    const pdfPage = await context.newPage()
    const pdfSeen = watchPage(pdfPage)
    try {
      await pdfPage.goto(
        viewerUrl(gateway.url, [demo.study], { seriesInstanceUids: [demo.reportSeries] }),
      )
      const object = pdfPage.locator('object[type="application/pdf"]')
      await object.waitFor({ timeout: 60_000 })
      assert.match((await object.getAttribute('data')) ?? '', /\/rendered$/)
      // Chromium's PDF viewer (an extension frame) loads into the <object> once the PDF
      // arrives; a blocked reply leaves the <object> showing its fallback instead.
      const deadline = Date.now() + 30_000
      while (Date.now() < deadline && !pdfPage.frames().some((f) => isPdfViewer(f.url()))) {
        await pdfPage.waitForTimeout(250)
      }
      await pdfPage.waitForTimeout(2000)
      await screenshot(pdfPage, 'embedded-pdf')
      assert.ok(
        pdfPage.frames().some((f) => isPdfViewer(f.url())),
        'Chromium’s PDF viewer runs in the <object>',
      )
      const shown = await regionStats(pdfPage, 'object[type="application/pdf"]')
      assert.deepEqual(isolationTrouble(pdfSeen), [], 'the PDF is not blocked')
      // The viewer shows a white page with black text; a blocked <object> stays black.
      assert.ok(shown.white > 0.2, `a white page fills the viewport: ${JSON.stringify(shown)}`)
    } finally {
      await pdfPage.close()
    }
  })
})

describe('OHIF over the embedded demo, isolation off', { timeout: 120_000 }, () => {
  let gateway: RunningGateway
  let browser: Browser
  let context: BrowserContext

  before(async () => {
    ;[gateway, browser] = await Promise.all([gatewayWith({ isolation: 'off' }), launchChromium()])
    context = await newOhifContext(browser)
  })
  after(async () => {
    await context?.close()
    await browser?.close()
    await gateway?.close()
    rmSync(state, { recursive: true, force: true })
  })

  it('is not isolated, has no SAB and no shared wasm memory, and the CT renders', async () => {
    const demo = await demoOf(gateway)
    const page = await context.newPage()
    const seen = watchPage(page)
    await page.goto(viewerUrl(gateway.url, [demo.study]))
    const viewports = await waitForRenderedViewports(page, 1)
    await screenshot(page, 'embedded-isolation-off-ct')
    const facts = await isolationFacts(page)
    assert.equal(facts.isolated, false)
    assert.equal(facts.sabType, 'undefined')
    // Chromium still makes shared memory, but it cannot be sent to another thread.
    assert.equal(typeof facts.wasmThreads, 'string', JSON.stringify(facts.wasmThreads))
    assert.equal(viewports.length, 1)
    assert.ok(!isBlank(viewports[0]!.stats), JSON.stringify(viewports[0]!.stats))
    assert.ok(viewports[0]!.stats.levels >= 16)
    assert.deepEqual(seen.failed, [])
  })
})

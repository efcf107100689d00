/**
 * `embedding.documentIsolationPolicy` (browser-rules §4.4): the viewer's documents carry
 * `Document-Isolation-Policy: isolate-and-require-corp`, and in Debian's Chromium (DIP shipped
 * in 137) the viewer framed by a host page that is NOT isolated is itself isolated, with or
 * without `allow="cross-origin-isolated"` (R-DIP-3), reaches its workers with a
 * SharedArrayBuffer and draws the study. The doctor predicts the same for Chromium and says
 * Safari does not honour the header.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { Browser } from 'playwright-core'

import { diagnose } from '../../src/doctor/diagnose.js'
import type { RunningGateway } from '../../src/gateway/start.js'
import { screenshotDir } from '../helpers/chromium.js'
import {
  DEMO,
  frameAt,
  hostPage,
  isolationIn,
  launchForEmbedding,
  newContext,
  shootRendered,
  startDemoGateway,
  startPageServer,
  studyUrl,
  viewerFiles,
  waitForRenderedImage,
  workerFailures,
  type PageServer,
} from './embed-kit.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-embed-dip-'))
mkdirSync(screenshotDir(), { recursive: true })

/** The first Chromium release that ships Document-Isolation-Policy on desktop. */
const DIP_SHIPPED_IN = 137

describe('Document-Isolation-Policy: an isolated viewer under a host that is not', () => {
  let gateway: RunningGateway
  let host: PageServer
  let browser: Browser

  before(async () => {
    host = await startPageServer((_req, res, url) => {
      const page = hostPage(studyUrl(gateway), {
        allowIsolation: url.searchParams.get('allow') === '1',
      })
      res.writeHead(200, page.headers).end(page.html)
    })
    gateway = await startDemoGateway(state, {
      embedding: { origins: [host.origin], documentIsolationPolicy: true },
    })
    browser = await launchForEmbedding()
  })

  after(async () => {
    await browser?.close()
    await gateway?.close()
    await host?.close()
    rmSync(state, { recursive: true, force: true })
  })

  it('documents and error replies carry DIP; subresources do not need it', async () => {
    const files = viewerFiles(gateway.viewer!.root)
    const rendered =
      `/dicomweb/demo/studies/${DEMO.study}/series/${DEMO.reportSeries}` +
      `/instances/${DEMO.report}/rendered`
    const expected: Array<[path: string, dip: string | null]> = [
      ['/', 'isolate-and-require-corp'],
      [`/viewer?StudyInstanceUIDs=${DEMO.study}`, 'isolate-and-require-corp'],
      ['/no-such-chunk.js', 'isolate-and-require-corp'],
      [`/${files.script}`, null],
      [`/${files.workers[0]}`, null],
      [rendered, null],
    ]
    for (const [path, dip] of expected) {
      const response = await fetch(`${gateway.origin}${path}`)
      await response.arrayBuffer()
      assert.equal(response.headers.get('document-isolation-policy'), dip, path)
    }
  })

  it(`Debian's Chromium is ${DIP_SHIPPED_IN} or newer`, () => {
    const major = Number(browser.version().split('.')[0])
    assert.ok(major >= DIP_SHIPPED_IN, `Chromium ${browser.version()} predates DIP`)
  })

  it('host not isolated, allow attribute: the viewer is isolated and draws the study', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      await page.goto(`${host.origin}/?allow=1`)
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), false, 'host')
      const frame = await frameAt(page, gateway.origin)
      const lit = await waitForRenderedImage(frame)
      await shootRendered(page, frame, 'embed-dip-unisolated-host.png')
      assert.ok(lit >= 2000)
      const facts = await isolationIn(frame)
      assert.deepEqual(facts, { isolated: true, secure: true, sabType: 'function', sabEcho: 4242 })
      const workers = viewerFiles(gateway.viewer!.root).workers
      assert.deepEqual(await workerFailures(frame, '/', workers), [])
    } finally {
      await context.close()
    }
  })

  it('host not isolated, no allow attribute: still isolated (R-DIP-3)', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      await page.goto(`${host.origin}/`)
      const frame = await frameAt(page, gateway.origin)
      await frame.waitForFunction(
        () => (document.querySelector('#root')?.childElementCount ?? 0) > 0,
        null,
        { timeout: 60_000 },
      )
      const facts = await isolationIn(frame)
      assert.equal(facts.isolated, true)
      assert.equal(facts.sabEcho, 4242)
    } finally {
      await context.close()
    }
  })

  it('the doctor predicts isolation in Chromium and none in Safari', async () => {
    const parent = `${host.origin}/?allow=1`
    const chromium = await diagnose({ url: studyUrl(gateway), embeddedIn: [parent] })
    const codes = chromium.findings.map((f) => f.code as string)
    assert.ok(codes.includes('DIP_ISOLATED'), codes.join(' '))
    assert.equal(chromium.frames.at(-1)?.coi, true)

    const safari = await diagnose({
      url: studyUrl(gateway),
      embeddedIn: [parent],
      browser: 'safari',
    })
    const safariCodes = safari.findings.map((f) => f.code as string)
    assert.ok(safariCodes.includes('DIP_UNSUPPORTED_BROWSER'), safariCodes.join(' '))
    assert.equal(safari.frames.at(-1)?.coi, false)
  })
})

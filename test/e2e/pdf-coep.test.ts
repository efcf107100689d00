/**
 * Encapsulated PDFs under COEP, in Debian's Chromium (issue 6, browser-rules R-SUB-9, B20).
 * OHIF shows a DICOM PDF in `<object type="application/pdf">`, which Chromium treats as a
 * nested navigation: under a COEP page the PDF response needs a compatible COEP of its own, and
 * CORP when it comes from another origin. Shown here: the embedded source's `rendered` PDF in
 * OHIF's PDF viewport; what Chromium does with `<object>` PDFs from a cross-origin server
 * with and without those headers; a proxied upstream that sends none of them; and a real
 * Orthanc 1.10 with DICOMweb plugin 1.7, whose `rendered` cannot produce the PDF at all.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { Browser, Page } from 'playwright-core'

import type { RunningGateway } from '../../src/gateway/start.js'
import { screenshotDir } from '../helpers/chromium.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import {
  DEMO,
  launchForEmbedding,
  newContext,
  shoot,
  startDemoGateway,
  startPageServer,
  studyUrl,
  type PageServer,
} from './embed-kit.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-pdf-coep-'))
mkdirSync(screenshotDir(), { recursive: true })

/** Chromium's PDF viewer, an extension page that frames the PDF itself. */
const PDF_VIEWER = 'chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/index.html'

const instancePath = (root: string) =>
  `${root}/studies/${DEMO.study}/series/${DEMO.reportSeries}/instances/${DEMO.report}`

type Outcome = 'shown' | 'blocked' | 'viewer frame blocked'

/** Records the URLs whose loads Chromium refused, from before the page navigates. */
function refusals(page: Page): string[] {
  const failed: string[] = []
  page.on('requestfailed', (request) => {
    if (/BLOCKED_BY_RESPONSE/.test(request.failure()?.errorText ?? '')) failed.push(request.url())
  })
  return failed
}

/**
 * What became of a PDF in an `<object>`: `shown` when Chromium's PDF viewer framed the PDF;
 * `blocked` when the navigation itself was refused (the `<object>` then shows its fallback,
 * which in OHIF reads "No online PDF viewer installed"); `viewer frame blocked` when the PDF
 * viewer started but the inner frame that holds the PDF was refused.
 */
async function outcomeOf(
  page: Page,
  refused: readonly string[],
  isPdf: (url: string) => boolean,
  timeoutMs = 15_000,
): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const viewer = page.frames().find((f) => f.url() === PDF_VIEWER)
    const inner = viewer?.childFrames().map((f) => f.url()) ?? []
    if (inner.some((url) => url.startsWith('chrome-error:'))) return 'viewer frame blocked'
    if (inner.some(isPdf)) return 'shown'
    if (refused.some(isPdf)) return viewer ? 'viewer frame blocked' : 'blocked'
    await page.waitForTimeout(200)
  }
  const frames = page.frames().map((f) => f.url())
  throw new Error(`the PDF neither showed nor was refused; frames: ${frames.join(', ')}`)
}

describe('encapsulated PDF under COEP in Chromium', () => {
  let gateway: RunningGateway
  let browser: Browser
  let pdfBytes: Buffer

  before(async () => {
    gateway = await startDemoGateway(state)
    browser = await launchForEmbedding()
    const response = await fetch(`${instancePath(`${gateway.origin}/dicomweb/demo`)}/rendered`)
    assert.equal(response.status, 200)
    pdfBytes = Buffer.from(await response.arrayBuffer())
    assert.equal(pdfBytes.subarray(0, 5).toString('latin1'), '%PDF-')
  })

  after(async () => {
    await browser?.close()
    await gateway?.close()
    rmSync(state, { recursive: true, force: true })
  })

  it("OHIF's PDF viewport shows the embedded source's rendered PDF (require-corp)", async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const refused = refusals(page)
      const renderedUrl = `${instancePath(`${gateway.origin}/dicomweb/demo`)}/rendered`
      const rendered = page.waitForResponse((r) => r.url() === renderedUrl)
      await page.goto(studyUrl(gateway, DEMO.reportSeries))
      const response = await rendered
      assert.equal(await response.headerValue('cross-origin-embedder-policy'), 'require-corp')
      assert.equal(await response.headerValue('cross-origin-resource-policy'), 'same-origin')
      assert.equal(await response.headerValue('content-type'), 'application/pdf')
      assert.equal(await outcomeOf(page, refused, (u) => u === renderedUrl, 60_000), 'shown')
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
      const data = await page.evaluate(() => document.querySelector('object')?.data)
      assert.equal(data, renderedUrl, 'OHIF points its <object> at rendered')
      await page.waitForTimeout(1000)
      await shoot(page, 'pdf-coep-embedded.png')
    } finally {
      await context.close()
    }
  })

  describe('an <object> PDF from another site', () => {
    /** An isolated page (COOP + the COEP asked for) that embeds one PDF URL. */
    let pages: PageServer
    /** Serves the same PDF bytes with the headers the query names. */
    let pdfs: PageServer

    before(async () => {
      pages = await startPageServer((_req, res, url) => {
        const coep = url.searchParams.get('coep') ?? 'require-corp'
        const src = url.searchParams.get('src') ?? ''
        res
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cross-origin-opener-policy': 'same-origin',
            'cross-origin-embedder-policy': coep,
          })
          .end(
            `<!doctype html><body><object data="${src.replaceAll('"', '&quot;')}" ` +
              'type="application/pdf" width="600" height="400">PDF FALLBACK</object></body>',
          )
      }, '127.0.0.1')
      pdfs = await startPageServer((_req, res, url) => {
        const headers: Record<string, string> = { 'content-type': 'application/pdf' }
        for (const name of ['coep', 'corp']) {
          const value = url.searchParams.get(name)
          if (value === null) continue
          const header =
            name === 'coep' ? 'cross-origin-embedder-policy' : 'cross-origin-resource-policy'
          headers[header] = value
        }
        res.writeHead(200, headers).end(pdfBytes)
      })
    })

    after(async () => {
      await pages?.close()
      await pdfs?.close()
    })

    const cases: Array<{ page: string; pdf: Record<string, string>; expect: Outcome }> = [
      { page: 'require-corp', pdf: {}, expect: 'blocked' },
      { page: 'require-corp', pdf: { corp: 'cross-origin' }, expect: 'blocked' },
      { page: 'require-corp', pdf: { coep: 'require-corp' }, expect: 'blocked' },
      {
        page: 'require-corp',
        pdf: { coep: 'require-corp', corp: 'cross-origin' },
        expect: 'shown',
      },
      {
        page: 'require-corp',
        pdf: { coep: 'require-corp; report-to="isogate"', corp: 'cross-origin' },
        expect: 'viewer frame blocked',
      },
      { page: 'credentialless', pdf: { coep: 'credentialless' }, expect: 'blocked' },
      {
        page: 'credentialless',
        pdf: { coep: 'credentialless', corp: 'cross-origin' },
        expect: 'shown',
      },
    ]
    for (const c of cases) {
      const label = Object.entries(c.pdf)
        .map(([k, v]) => `${k.toUpperCase()} ${v}`)
        .join(' + ')
      it(`${c.page} page, PDF with ${label || 'no headers'}: ${c.expect}`, async () => {
        const context = await newContext(browser)
        try {
          const page = await context.newPage()
          const refused = refusals(page)
          const pdfUrl = `${pdfs.origin}/report.pdf?${new URLSearchParams(c.pdf)}`
          const query = new URLSearchParams({ coep: c.page, src: pdfUrl })
          await page.goto(`${pages.origin}/?${query}`)
          assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
          assert.equal(await outcomeOf(page, refused, (u) => u === pdfUrl), c.expect)
          if (c.expect !== 'shown') {
            const shot = `pdf-coep-${c.page}-${label.replace(/[^a-z]+/gi, '-') || 'bare'}.png`
            await shoot(page, shot.toLowerCase())
          }
        } finally {
          await context.close()
        }
      })
    }
  })

  describe('a proxied upstream that sends none of the isolation headers', () => {
    /** A DICOMweb server whose rendered PDF comes with a Content-Type and nothing else. */
    let upstream: PageServer
    let proxied: RunningGateway

    before(async () => {
      upstream = await startPageServer((_req, res, url) => {
        if (url.pathname.endsWith('/rendered')) {
          res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdfBytes)
        } else if (url.pathname.endsWith('/studies')) {
          res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]')
        } else {
          res.writeHead(404).end()
        }
      }, '127.0.0.1')
      proxied = await startDemoGateway(state, {
        sources: [{ name: 'bare', mode: 'proxy', upstream: [`${upstream.origin}/dicom-web`] }],
      })
    })

    after(async () => {
      await proxied?.close()
      await upstream?.close()
    })

    it('gets COEP and CORP from the plan, and shows in an <object> on the viewer', async () => {
      const renderedUrl = `${instancePath(`${proxied.origin}/dicomweb/bare`)}/rendered`
      const direct = await fetch(`${instancePath(`${upstream.origin}/dicom-web`)}/rendered`)
      await direct.arrayBuffer()
      assert.equal(direct.headers.get('cross-origin-embedder-policy'), null)
      assert.equal(direct.headers.get('cross-origin-resource-policy'), null)

      const response = await fetch(renderedUrl)
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), pdfBytes)
      assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp')
      assert.equal(response.headers.get('cross-origin-resource-policy'), 'same-origin')

      const context = await newContext(browser)
      try {
        const page = await context.newPage()
        const refused = refusals(page)
        // The viewer's own index.html: an isolated document on the gateway's origin.
        await page.goto(`${proxied.origin}/`)
        assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
        await page.evaluate((src) => {
          const object = document.createElement('object')
          object.type = 'application/pdf'
          object.data = src
          object.style.cssText = 'position:fixed;left:0;top:0;width:600px;height:400px;z-index:9'
          object.textContent = 'PDF FALLBACK'
          document.body.append(object)
        }, renderedUrl)
        assert.equal(await outcomeOf(page, refused, (u) => u === renderedUrl), 'shown')
      } finally {
        await context.close()
      }
    })
  })

  describe('through a real Orthanc (1.10, DICOMweb plugin 1.7)', () => {
    let orthanc: OrthancServer
    let proxied: RunningGateway

    before(async () => {
      orthanc = await startOrthanc()
      await orthanc.upload(join(state, 'demo', 'report.dcm'))
      proxied = await startDemoGateway(state, {
        sources: [
          { name: 'pacs', mode: 'proxy', kind: 'orthanc', upstream: [orthanc.dicomWebRoot] },
        ],
      })
    })

    after(async () => {
      await proxied?.close()
      await orthanc?.stop()
    })

    it('rendered cannot produce the PDF (400); the error keeps the isolation headers', async () => {
      const response = await fetch(`${instancePath(`${proxied.origin}/dicomweb/pacs`)}/rendered`, {
        headers: { accept: 'application/pdf' },
      })
      const body = await response.text()
      assert.equal(response.status, 400, body)
      assert.match(body, /Parameter out of range/)
      assert.match(response.headers.get('cross-origin-embedder-policy') ?? '', /^require-corp\b/)
      assert.equal(response.headers.get('cross-origin-resource-policy'), 'same-origin')
    })

    it('OHIF shows the PDF from bulk data through the proxy under require-corp', async () => {
      const context = await newContext(browser)
      try {
        const page = await context.newPage()
        const refused = refusals(page)
        const bulk = page.waitForResponse((r) => r.url().endsWith('/bulk/00420011'))
        await page.goto(studyUrl(proxied, DEMO.reportSeries))
        assert.equal((await bulk).status(), 200)
        assert.equal(await outcomeOf(page, refused, (u) => u.startsWith('blob:'), 60_000), 'shown')
        assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
        const data = await page.evaluate(() => document.querySelector('object')?.data ?? '')
        assert.match(data, /^blob:/, 'OHIF made a blob URL from the bulk data')
        await page.waitForTimeout(1000)
        await shoot(page, 'pdf-coep-orthanc.png')
      } finally {
        await context.close()
      }
    })
  })
})

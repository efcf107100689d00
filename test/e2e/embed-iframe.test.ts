/**
 * The viewer framed by a host page on another site (issue 6, browser-rules §4.3, §9, R-FRAME-5),
 * in Debian's Chromium: an isolated host with `allow="cross-origin-isolated"` gets an isolated
 * viewer that draws the demo study; a host origin not in `embedding.origins` is refused by
 * frame-ancestors; a host that is not isolated gets a working viewer without isolation; and
 * without the `allow` attribute the frame is not isolated even under an isolated host. Before
 * any browser, the header plan is checked on every class of reply the gateway sends.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { Browser } from 'playwright-core'

import { diagnose } from '../../src/doctor/diagnose.js'
import type { RunningGateway } from '../../src/gateway/start.js'
import { screenshotDir } from '../helpers/chromium.js'
import {
  DEMO,
  consoleOf,
  frameAt,
  hostPage,
  isolationIn,
  launchForEmbedding,
  newContext,
  shoot,
  shootRendered,
  startDemoGateway,
  startPageServer,
  studyUrl,
  viewerFiles,
  waitForRenderedImage,
  workerFailures,
  type PageServer,
} from './embed-kit.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-embed-iframe-'))
const EXAMPLE = new URL('../../docs/examples/embed-parent.html', import.meta.url)
mkdirSync(screenshotDir(), { recursive: true })

describe('the viewer in a cross-origin iframe', () => {
  let gateway: RunningGateway
  /** The host allowed to frame the viewer. */
  let host: PageServer
  /** Another origin (same host name, another port) that is not in the list. */
  let stranger: PageServer
  let browser: Browser

  before(async () => {
    const serveHost = (_req: unknown, res: import('node:http').ServerResponse, url: URL) => {
      if (url.pathname === '/example') {
        // docs/examples/embed-parent.html as shipped, pointed at this gateway's study.
        const html = readFileSync(EXAMPLE, 'utf8').replace(
          /src="https:\/\/viewer\.example\.org\/[^"]*"/,
          `src="${studyUrl(gateway)}"`,
        )
        assert.ok(html.includes(gateway.origin), 'the example has an iframe src to replace')
        res
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cross-origin-opener-policy': 'same-origin',
            'cross-origin-embedder-policy': 'require-corp',
          })
          .end(html)
        return
      }
      const coep = url.searchParams.get('coep')
      const page = hostPage(studyUrl(gateway), {
        coep: coep === 'require-corp' || coep === 'credentialless' ? coep : undefined,
        allowIsolation: url.searchParams.get('allow') === '1',
      })
      res.writeHead(200, page.headers).end(page.html)
    }
    host = await startPageServer(serveHost)
    stranger = await startPageServer(serveHost)
    gateway = await startDemoGateway(state, { embedding: { origins: [host.origin] } })
    browser = await launchForEmbedding()
  })

  after(async () => {
    await browser?.close()
    await gateway?.close()
    await host?.close()
    await stranger?.close()
    rmSync(state, { recursive: true, force: true })
  })

  it('frame-ancestors, CORP cross-origin on every class; XFO only if none may embed', async () => {
    const files = viewerFiles(gateway.viewer!.root)
    const instance = `/dicomweb/demo/studies/${DEMO.study}/series/${DEMO.reportSeries}/instances`
    const ctInstance = `/dicomweb/demo/studies/${DEMO.study}/series/${DEMO.ctSeries}/instances`
    const cases: Array<{ path: string; cls: string; status: number; accept?: string }> = [
      { path: '/', cls: 'document', status: 200 },
      { path: `/viewer?StudyInstanceUIDs=${DEMO.study}`, cls: 'document', status: 200 },
      { path: `/${files.script}`, cls: 'script', status: 200 },
      { path: `/${files.workers[0]}`, cls: 'worker', status: 200 },
      { path: `/${files.wasm}`, cls: 'wasm', status: 200 },
      { path: `/${files.css}`, cls: 'static', status: 200 },
      { path: '/app-config.js', cls: 'app-config', status: 200 },
      { path: '/dicomweb/demo/studies', cls: 'dicomweb', status: 200 },
      { path: `${instance}/${DEMO.report}/rendered`, cls: 'rendered', status: 200 },
      { path: '/no-such-chunk.js', cls: 'error', status: 404 },
      { path: '/dicomweb/demo/studies/1.2.3/metadata', cls: 'error', status: 404 },
      { path: `${ctInstance}/${DEMO.firstCt}/rendered`, cls: 'error', status: 406 },
    ]
    const frameAncestors = `frame-ancestors 'self' ${host.origin}`
    for (const c of cases) {
      const response = await fetch(`${gateway.origin}${c.path}`, {
        headers: { accept: c.accept ?? '*/*' },
      })
      await response.arrayBuffer()
      const h = (name: string) => response.headers.get(name)
      const what = `${c.cls} ${c.path}`
      assert.equal(response.status, c.status, what)
      assert.equal(h('cross-origin-resource-policy'), 'cross-origin', what)
      assert.equal(h('x-frame-options'), null, `${what}: XFO would refuse the allowed host`)
      if (c.cls === 'document' || c.cls === 'error') {
        assert.equal(h('content-security-policy'), frameAncestors, what)
        assert.match(h('cross-origin-opener-policy') ?? '', /^same-origin\b/, what)
        assert.match(h('cross-origin-embedder-policy') ?? '', /^require-corp\b/, what)
      }
      if (['script', 'worker', 'wasm', 'app-config'].includes(c.cls)) {
        assert.match(h('cross-origin-embedder-policy') ?? '', /^require-corp\b/, what)
      }
      if (c.cls === 'rendered') {
        // Bare: a parameter on it blocks Chromium's PDF viewer frame (pdf-coep.test.ts).
        assert.equal(h('cross-origin-embedder-policy'), 'require-corp', what)
        assert.equal(h('content-type'), 'application/pdf', what)
      }
      if (c.cls === 'wasm') assert.equal(h('content-type'), 'application/wasm', what)
    }

    // Nobody else may embed: XFO SAMEORIGIN says the same as frame-ancestors 'self', CORP stays
    // same-origin.
    const alone = await startDemoGateway(state)
    try {
      for (const path of ['/', '/no-such-chunk.js']) {
        const response = await fetch(`${alone.origin}${path}`)
        await response.arrayBuffer()
        assert.equal(response.headers.get('content-security-policy'), "frame-ancestors 'self'")
        assert.equal(response.headers.get('x-frame-options'), 'SAMEORIGIN')
        assert.equal(response.headers.get('cross-origin-resource-policy'), 'same-origin')
      }
    } finally {
      await alone.close()
    }
  })

  it('(a) the example host page (isolated): the viewer is isolated, draws the study', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      await page.goto(`${host.origin}/example`)
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'host isolated')
      const frame = await frameAt(page, gateway.origin)
      const lit = await waitForRenderedImage(frame)
      await shootRendered(page, frame, 'embed-isolated-host.png')
      const facts = await isolationIn(frame)
      assert.deepEqual(facts, { isolated: true, secure: true, sabType: 'function', sabEcho: 4242 })
      assert.ok(lit >= 2000, `the viewport shows the phantom (${lit} lit pixels)`)
      const workers = viewerFiles(gateway.viewer!.root).workers
      assert.ok(workers.length >= 3)
      assert.deepEqual(await workerFailures(frame, '/', workers), [])

      const doctor = await doctorSays(
        studyUrl(gateway),
        `${host.origin}/?coep=require-corp&allow=1`,
      )
      assert.deepEqual(doctor.viewerFrame, { loads: true, coi: true })
      assert.equal(doctor.isolated, true)
    } finally {
      await context.close()
    }
  })

  it('(b) a host origin not in embedding.origins is refused by frame-ancestors', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const lines = consoleOf(page)
      const served = page.waitForResponse((r) => r.url().startsWith(`${gateway.origin}/viewer`))
      await page.goto(`${stranger.origin}/?allow=1`)
      const response = await served
      // The gateway answered; the browser refused to show the answer in this frame.
      assert.equal(response.status(), 200)
      assert.equal(
        await response.headerValue('content-security-policy'),
        `frame-ancestors 'self' ${host.origin}`,
      )
      await page.waitForFunction(() => document.querySelector('iframe') !== null, null, {
        timeout: 10_000,
      })
      const blocked = await waitForValue(
        () => lines.find((l) => /frame-ancestors/.test(l) && l.includes(gateway.origin)),
        10_000,
      )
      assert.match(blocked, /violates the following Content Security Policy directive.*blocked/s)
      const frame = page.frames().find((f) => f !== page.mainFrame())
      assert.ok(frame, 'the iframe exists')
      assert.equal(frame.url(), 'chrome-error://chromewebdata/')
      await shoot(page, 'embed-refused-host.png')

      const doctor = await doctorSays(studyUrl(gateway), `${stranger.origin}/?allow=1`)
      assert.ok(doctor.codes.includes('CSP_FRAME_ANCESTORS_BLOCKED'), doctor.codes.join(' '))
      assert.equal(doctor.viewerFrame.loads, false)
    } finally {
      await context.close()
    }
  })

  it('(c) a host that is not isolated gets a working viewer that is not isolated', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      await page.goto(`${host.origin}/?allow=1`)
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), false)
      const frame = await frameAt(page, gateway.origin)
      const lit = await waitForRenderedImage(frame)
      await shootRendered(page, frame, 'embed-unisolated-host.png')
      assert.ok(lit >= 2000)
      const facts = await isolationIn(frame)
      assert.deepEqual(facts, {
        isolated: false,
        secure: true,
        sabType: 'undefined',
        sabEcho: 'no SharedArrayBuffer',
      })

      const doctor = await doctorSays(studyUrl(gateway), `${host.origin}/?allow=1`)
      assert.ok(doctor.codes.includes('FRAME_ANCESTOR_NOT_ISOLATED'), doctor.codes.join(' '))
      assert.deepEqual(doctor.viewerFrame, { loads: true, coi: false })
    } finally {
      await context.close()
    }
  })

  it('(d) an isolated host without the allow attribute: the frame is not isolated', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      await page.goto(`${host.origin}/?coep=require-corp`)
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'host isolated')
      const frame = await frameAt(page, gateway.origin)
      await frame.waitForFunction(
        () => (document.querySelector('#root')?.childElementCount ?? 0) > 0,
        null,
        { timeout: 60_000 },
      )
      const facts = await isolationIn(frame)
      assert.equal(facts.isolated, false)
      assert.equal(facts.sabType, 'undefined')

      const doctor = await doctorSays(studyUrl(gateway), `${host.origin}/?coep=require-corp`)
      assert.ok(doctor.codes.includes('PERMISSIONS_POLICY_COI_DENIED'), doctor.codes.join(' '))
      assert.deepEqual(doctor.viewerFrame, { loads: true, coi: false })
    } finally {
      await context.close()
    }
  })
})

/** What `isogate doctor VIEWER --embedded-in PARENT` predicts for the framed viewer. */
async function doctorSays(viewer: string, parent: string) {
  const report = await diagnose({ url: viewer, embeddedIn: [parent], timeoutMs: 10_000 })
  const last = report.frames[report.frames.length - 1]
  assert.ok(last, 'the doctor evaluated the frame chain')
  return {
    codes: report.findings.map((f) => f.code as string),
    isolated: report.verdict.isolated,
    viewerFrame: { loads: last.loads, coi: last.coi },
  }
}

async function waitForValue<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = probe()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing seen within ${timeoutMs} ms`)
}

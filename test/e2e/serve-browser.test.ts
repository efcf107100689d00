/**
 * The served viewer in Debian's Chromium: isolated where it should be (a SharedArrayBuffer
 * reaches a worker, OHIF's workers and wasm load under COEP), not isolated with isolation off
 * while the app still boots, the same over `--tls auto` with Chromium trusting that one key,
 * and the app loading under a sub-path without a rebuild.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { Browser, Page } from 'playwright-core'

import { validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { launchChromium, newContext, screenshotDir } from '../helpers/chromium.js'
import { freePort } from '../helpers/ports.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-serve-browser-'))
mkdirSync(screenshotDir(), { recursive: true })

/** A loopback port that was opened and closed: the direct source there answers nothing. */
let deadPort = 0

async function gatewayWith(input: Record<string, unknown>): Promise<RunningGateway> {
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: state,
    sources: [{ name: 'nowhere', mode: 'direct', url: `http://127.0.0.1:${deadPort}/dicom-web` }],
    ...input,
  } as IsogateConfigInput)
  return await startGateway(config)
}

interface PageFacts {
  isolated: boolean
  secure: boolean
  sabType: string
  sabEcho: number | string
  wasmOk: boolean | string
}

/** What the page reports about isolation, a SAB round trip to a worker, and OHIF's wasm. */
async function pageFacts(page: Page, base: string): Promise<PageFacts> {
  return await page.evaluate(async (basePath) => {
    const sabType = typeof SharedArrayBuffer
    let sabEcho: number | string = 'not tried'
    if (sabType === 'function') {
      const source = 'onmessage = (e) => postMessage(new Int32Array(e.data)[0])'
      const worker = new Worker(URL.createObjectURL(new Blob([source])))
      const sab = new SharedArrayBuffer(8)
      new Int32Array(sab)[0] = 4242
      sabEcho = await new Promise((resolve) => {
        worker.onmessage = (e) => resolve(e.data as number)
        worker.onerror = (e) => resolve(`error: ${e.message}`)
        worker.postMessage(sab)
      })
      worker.terminate()
    }
    let wasmOk: boolean | string = false
    try {
      await WebAssembly.compileStreaming(fetch(`${basePath}0ddf166f7a343eda.wasm`))
      wasmOk = true
    } catch (error) {
      wasmOk = String(error)
    }
    return {
      isolated: self.crossOriginIsolated,
      secure: self.isSecureContext,
      sabType,
      sabEcho,
      wasmOk,
    }
  }, base)
}

/** Starts each of OHIF's worker bundles from the page and reports those that fail to start. */
async function workerFailures(page: Page, base: string): Promise<string[]> {
  const files = [
    'histogram-worker.bundle.ec5f0cf05ce3909c.js',
    'compute.bundle.0fc3a3ee85296cf2.js',
    'interpolation.bundle.fa54018d8628f8c0.js',
    'polySeg.bundle.2c5892e4c5a6bdd5.js',
  ]
  return await page.evaluate(
    async ({ basePath, names }) => {
      const failed: string[] = []
      for (const name of names) {
        const worker = new Worker(`${basePath}${name}`)
        const error = await new Promise<boolean>((resolve) => {
          worker.onerror = () => resolve(true)
          setTimeout(() => resolve(false), 1500)
        })
        worker.terminate()
        if (error) failed.push(name)
      }
      return failed
    },
    { basePath: base, names: files },
  )
}

interface Watch {
  console: string[]
  failed: string[]
}

/** Collects console errors and failed same-origin responses of a page. */
function watch(page: Page, origin: string): Watch {
  const seen: Watch = { console: [], failed: [] }
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.console.push(m.text())
  })
  page.on('response', (r) => {
    if (r.url().startsWith(origin) && r.status() >= 400)
      seen.failed.push(`${r.status()} ${r.url()}`)
  })
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(origin)) seen.failed.push(`failed ${r.url()} ${r.failure()?.errorText}`)
  })
  return seen
}

const ISOLATION_TROUBLE = /Cross-Origin-(Embedder|Resource|Opener)-Policy|COEP|CORP|blocked by/i

/** Opens the viewer, waits for OHIF to render its study list shell, takes a screenshot. */
async function openViewer(page: Page, url: string, shot: string): Promise<void> {
  await page.goto(url, { waitUntil: 'load' })
  await page.waitForFunction(
    () => (document.querySelector('#root')?.childElementCount ?? 0) > 0,
    null,
    {
      timeout: 60_000,
    },
  )
  await page.waitForSelector('text=/Study List|Patient Name/i', { timeout: 60_000 })
  await page.screenshot({ path: join(screenshotDir(), shot) })
}

describe('serve in Chromium', () => {
  let browser: Browser
  before(async () => {
    deadPort = await freePort()
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
  })

  it('isolated by default: SAB reaches a worker, OHIF workers and wasm load', async () => {
    const gateway = await gatewayWith({})
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const seen = watch(page, gateway.origin)
      await openViewer(page, gateway.url, 'serve-isolated.png')
      const facts = await pageFacts(page, '/')
      assert.equal(facts.secure, true)
      assert.equal(facts.isolated, true)
      assert.equal(facts.sabType, 'function')
      assert.equal(facts.sabEcho, 4242)
      assert.equal(facts.wasmOk, true)
      assert.deepEqual(await workerFailures(page, '/'), [])
      assert.deepEqual(seen.failed, [])
      assert.deepEqual(
        seen.console.filter((t) => ISOLATION_TROUBLE.test(t)),
        [],
      )
    } finally {
      await context.close()
      await gateway.close()
    }
  })

  it('isolation off: not isolated, no SAB, and the viewer still loads', async () => {
    const gateway = await gatewayWith({ isolation: 'off' })
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const seen = watch(page, gateway.origin)
      await openViewer(page, gateway.url, 'serve-isolation-off.png')
      const facts = await pageFacts(page, '/')
      assert.equal(facts.isolated, false)
      assert.equal(facts.sabType, 'undefined')
      assert.equal(facts.wasmOk, true)
      assert.deepEqual(seen.failed, [])
    } finally {
      await context.close()
      await gateway.close()
    }
  })

  it('sub-path /viewer/: the app, its chunks, workers and wasm load from there', async () => {
    const gateway = await gatewayWith({ viewer: { basePath: '/viewer/' } })
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const seen = watch(page, gateway.origin)
      const requested: string[] = []
      page.on('request', (r) => {
        const url = new URL(r.url())
        if (url.protocol.startsWith('http')) requested.push(url.pathname)
      })
      await openViewer(page, gateway.url, 'serve-subpath.png')
      assert.match(page.url(), /\/viewer\//)
      const facts = await pageFacts(page, '/viewer/')
      assert.equal(facts.isolated, true)
      assert.equal(facts.wasmOk, true)
      assert.deepEqual(await workerFailures(page, '/viewer/'), [])
      assert.deepEqual(seen.failed, [])
      const outside = requested.filter(
        (p) => !p.startsWith('/viewer/') && !p.startsWith('/dicom-web'),
      )
      assert.deepEqual(outside, [], 'every request stays under /viewer/')
      assert.ok(
        requested.some((p) => /\/viewer\/\d+\.bundle\.[0-9a-f]+\.js$/.test(p)),
        'lazy chunks',
      )
    } finally {
      await context.close()
      await gateway.close()
    }
  })
})

describe('serve in Chromium over --tls auto', () => {
  let gateway: RunningGateway
  let browser: Browser
  before(async () => {
    deadPort = deadPort || (await freePort())
    gateway = await gatewayWith({ tls: 'auto' })
    // Trust this one key (its SPKI hash), which is not the same as ignoring certificate errors.
    const spki = gateway.tls?.spkiSha256 ?? ''
    browser = await launchChromium({ args: [`--ignore-certificate-errors-spki-list=${spki}`] })
  })
  after(async () => {
    await browser?.close()
    await gateway?.close()
    rmSync(state, { recursive: true, force: true })
  })

  it('is isolated over https with HTTP/2', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const seen = watch(page, gateway.origin)
      const response = await page.goto(gateway.url.replace('127.0.0.1', 'localhost'))
      assert.equal(response?.status(), 200)
      assert.equal(
        await response?.headerValue('cross-origin-opener-policy'),
        'same-origin; report-to="isogate"',
      )
      await openViewer(page, page.url(), 'serve-tls.png')
      const facts = await pageFacts(page, '/')
      assert.equal(facts.isolated, true)
      assert.equal(facts.sabEcho, 4242)
      const protocol = await page.evaluate(
        () =>
          (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming)
            .nextHopProtocol,
      )
      assert.equal(protocol, 'h2')
      assert.deepEqual(seen.failed, [])
    } finally {
      await context.close()
    }
  })

  it('a certificate Chromium was not told to trust is refused', async () => {
    const other = await launchChromium()
    try {
      const page = await (await newContext(other)).newPage()
      await assert.rejects(page.goto(gateway.url), /ERR_CERT/)
    } finally {
      await other.close()
    }
  })
})

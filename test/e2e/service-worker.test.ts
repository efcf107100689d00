/**
 * The static-host fallback in Debian's Chromium: a plain node:http server that sends no
 * isolation headers serves a page with the loader and service worker written by
 * `isogate recipe service-worker`. The first load is not isolated; after the automatic reload
 * the page is, and a SharedArrayBuffer reaches a worker. A forced reload (bypassing the worker)
 * is not isolated and the loader reloads once more. Cross-origin no-cors images still need CORP
 * under require-corp, and load without it under credentialless.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { Browser, Page } from 'playwright-core'

import { formatOutput } from '../../src/cli/recipe.js'
import { renderRecipe } from '../../src/recipes/index.js'
import { launchChromium, newContext, screenshotDir } from '../helpers/chromium.js'
import { waitFor } from '../helpers/ports.js'

const root = mkdtempSync(join(tmpdir(), 'isogate-sw-'))
mkdirSync(screenshotDir(), { recursive: true })

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.png': 'image/png',
}

/** A 1×1 PNG. */
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ' +
    'AAAABJRU5ErkJggg==',
  'base64',
)

interface Load {
  isolated: boolean
  controlled: boolean
}

interface StaticHost {
  origin: string
  server: http.Server
  /** What each page load reported (POST /log), in arrival order. */
  loads: Load[]
  /** Requests for the page itself, through the worker or not: one per load. */
  pageRequests: () => number
}

/**
 * Serves a folder with a Content-Type and nothing else: the kind of host the shim is for. The
 * page logs each load to the server, since sessionStorage does not reliably survive the COOP
 * switches of browsing context group that the shim causes.
 */
async function staticServer(
  folder: string,
  extra: Record<string, string> = {},
): Promise<StaticHost> {
  const loads: Load[] = []
  let pageRequests = 0
  const server = http.createServer((request, response) => {
    if (request.url === '/') pageRequests++
    if (request.method === 'POST' && request.url === '/log') {
      let body = ''
      request.on('data', (c: Buffer) => (body += c.toString('utf8')))
      request.on('end', () => {
        loads.push(JSON.parse(body) as Load)
        response.writeHead(204)
        response.end()
      })
      return
    }
    const path = normalize(decodeURIComponent((request.url ?? '/').split('?')[0] ?? '/'))
    const file = join(folder, path.endsWith('/') ? `${path}index.html` : path)
    try {
      const body = readFileSync(file)
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'text/plain', ...extra })
      response.end(body)
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain' })
      response.end('not found')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    loads,
    pageRequests: () => pageRequests,
  }
}

/** The page: the loader first, then a report of the load to the server. */
function page(imageOrigin: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8">
<script src="/isogate-coi.js"></script>
<script>
  navigator.sendBeacon('/log', JSON.stringify({
    isolated: self.crossOriginIsolated, controlled: !!navigator.serviceWorker.controller }));
</script>
<title>static host</title></head>
<body><h1>static host, no headers</h1>
<img id="plain" src="${imageOrigin}/plain.png" alt="">
<img id="corp" src="${imageOrigin}/corp.png" alt="">
<p id="state"></p>
<script>
  document.getElementById('state').textContent = 'crossOriginIsolated: ' +
    self.crossOriginIsolated + ', controlled by the service worker: ' +
    !!navigator.serviceWorker.controller;
</script>
</body></html>`
}

const ECHO_WORKER = 'onmessage = (e) => postMessage(new Int32Array(e.data)[0])'

/** Writes a site: the recipe's files as `isogate recipe service-worker -o` would, plus a page. */
function site(name: string, isolation: string, imageOrigin: string): string {
  const folder = join(root, name)
  mkdirSync(folder, { recursive: true })
  const output = renderRecipe('service-worker', { isolation })
  for (const file of output.files) writeFileSync(join(folder, file.path), file.content)
  writeFileSync(join(folder, 'index.html'), page(imageOrigin))
  writeFileSync(join(folder, 'echo-worker.js'), ECHO_WORKER)
  return folder
}

interface Facts {
  state: string | undefined
  sabEcho: number | string
  plainImage: boolean
  corpImage: boolean
}

/** What the loader and this test leave on `window`. */
type Marked = { isogateCoi?: { state: string }; alreadyRead?: boolean }

/**
 * Waits for the loader to settle in a document this test has not read yet (it reloads the
 * page), then reads what the page knows and marks the document as read.
 */
async function settled(page: Page): Promise<Facts> {
  await waitFor(
    async () => {
      const state = await page
        .evaluate(() => {
          const marked = window as Marked
          return marked.alreadyRead ? undefined : marked.isogateCoi?.state
        })
        .catch(() => undefined)
      return state === 'isolated' || state === 'gave-up' ? state : undefined
    },
    'the loader to settle',
    20_000,
  )
  await page.waitForLoadState('load')
  return await page.evaluate(async () => {
    let sabEcho: number | string = 'no SharedArrayBuffer'
    if (typeof SharedArrayBuffer === 'function') {
      const worker = new Worker('/echo-worker.js')
      const sab = new SharedArrayBuffer(8)
      new Int32Array(sab)[0] = 4242
      sabEcho = await new Promise((resolve) => {
        worker.onmessage = (e) => resolve(e.data as number)
        worker.onerror = (e) => resolve(`worker error: ${e.message}`)
        try {
          worker.postMessage(sab)
        } catch (error) {
          resolve(String(error))
        }
      })
      worker.terminate()
    }
    const images = document.images
    ;(window as Marked).alreadyRead = true
    return {
      state: (window as Marked).isogateCoi?.state,
      sabEcho,
      plainImage: (images.namedItem('plain') as HTMLImageElement).naturalWidth === 1,
      corpImage: (images.namedItem('corp') as HTMLImageElement).naturalWidth === 1,
    }
  })
}

describe('service-worker recipe on a static host, in Chromium', () => {
  let browser: Browser
  let images: http.Server
  let imageOrigin: string
  const servers: http.Server[] = []

  before(async () => {
    // A second origin with two images: one with CORP cross-origin, one with no CORP at all.
    images = http.createServer((request, response) => {
      const headers: Record<string, string> = { 'content-type': 'image/png' }
      if (request.url?.startsWith('/corp')) headers['cross-origin-resource-policy'] = 'cross-origin'
      response.writeHead(200, headers)
      response.end(PIXEL)
    })
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve))
    imageOrigin = `http://127.0.0.1:${(images.address() as AddressInfo).port}`
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    for (const server of [...servers, images]) {
      await new Promise((resolve) => server?.close(resolve))
    }
    rmSync(root, { recursive: true, force: true })
  })

  it('require-corp: isolated after one reload, SAB reaches a worker, CORP needed', async () => {
    const { origin, server, loads } = await staticServer(site('rc', 'require-corp', imageOrigin))
    servers.push(server)
    const context = await newContext(browser)
    try {
      const tab = await context.newPage()
      const first = await tab.goto(`${origin}/`)
      // The host really sends nothing: isolation can only come from the worker.
      assert.equal(await first?.headerValue('cross-origin-opener-policy'), null)
      assert.equal(await first?.headerValue('cross-origin-embedder-policy'), null)

      const facts = await settled(tab)
      assert.deepEqual(loads, [
        { isolated: false, controlled: false },
        { isolated: true, controlled: true },
      ])
      assert.equal(facts.state, 'isolated')
      assert.equal(facts.sabEcho, 4242)
      assert.equal(facts.corpImage, true, 'a cross-origin image with CORP loads')
      assert.equal(facts.plainImage, false, 'a cross-origin image without CORP is blocked')
      await tab.screenshot({ path: join(screenshotDir(), 'service-worker-isolated.png') })

      // A forced reload bypasses the worker: that load is not isolated, the loader reloads.
      loads.length = 0
      const cdp = await context.newCDPSession(tab)
      await cdp.send('Page.reload', { ignoreCache: true })
      const again = await settled(tab)
      assert.deepEqual(loads, [
        { isolated: false, controlled: false },
        { isolated: true, controlled: true },
      ])
      assert.equal(again.sabEcho, 4242)

      // A second forced reload right after: the loop guard must not mistake it for a loop.
      loads.length = 0
      await cdp.send('Page.reload', { ignoreCache: true })
      assert.equal((await settled(tab)).state, 'isolated')
      assert.deepEqual(loads.at(-1), { isolated: true, controlled: true })

      // And a new tab in the same profile is isolated from its first load.
      loads.length = 0
      const second = await context.newPage()
      await second.goto(`${origin}/`)
      await settled(second)
      assert.deepEqual(loads, [{ isolated: true, controlled: true }])
    } finally {
      await context.close()
    }
  })

  it('credentialless: isolated, and a cross-origin image without CORP loads', async () => {
    const { origin, server, loads } = await staticServer(site('cl', 'credentialless', imageOrigin))
    servers.push(server)
    const context = await newContext(browser)
    try {
      const tab = await context.newPage()
      await tab.goto(`${origin}/`)
      const facts = await settled(tab)
      assert.deepEqual(loads.at(-1), { isolated: true, controlled: true })
      assert.equal(facts.sabEcho, 4242)
      assert.equal(facts.plainImage, true)
    } finally {
      await context.close()
    }
  })

  it('a page that cannot be isolated is reloaded twice at most, then left alone', async () => {
    // Permissions-Policy denies isolation to the page itself; the worker keeps the header.
    const { origin, server, pageRequests } = await staticServer(
      site('denied', 'require-corp', imageOrigin),
      {
        'permissions-policy': 'cross-origin-isolated=()',
      },
    )
    servers.push(server)
    const context = await newContext(browser)
    try {
      const tab = await context.newPage()
      await tab.goto(`${origin}/`)
      assert.equal((await settled(tab)).state, 'gave-up')
      await new Promise((resolve) => setTimeout(resolve, 1500))
      // The first load and two reloads, then nothing more.
      assert.equal(pageRequests(), 3)
      assert.equal(await tab.evaluate(() => self.crossOriginIsolated), false)
    } finally {
      await context.close()
    }
  })

  it('`isogate recipe service-worker` prints both files and refuses report-only', () => {
    const text = formatOutput(renderRecipe('service-worker', {}))
    assert.match(text, /# ==> isogate-sw\.js <==/)
    assert.match(text, /# ==> isogate-coi\.js <==/)
    assert.throws(
      () => renderRecipe('service-worker', { isolation: 'report-only' }),
      /ISOGATE_E_RECIPE_OPTION|cannot report only/,
    )
  })
})

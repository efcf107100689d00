/**
 * Shared pieces of the embedding, PDF and credentialless e2e tests: the gateway with the demo
 * study, small page servers on other loopback origins (a host page that frames the viewer, a
 * server of images or PDFs), and what Chromium shows inside a frame.
 *
 * Origins: the gateway listens on 127.0.0.1, the host pages are addressed as `localhost`. Both
 * are secure contexts, and they are different sites (hosts differ), so the viewer is framed
 * cross-site, as in a portal that embeds a viewer from another domain.
 */
import { readdirSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'

import type { Browser, Frame, Page } from 'playwright-core'

import { validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import { uidFor } from '../../src/dicomweb/demo/generate.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { launchChromium, newContext, screenshotDir } from '../helpers/chromium.js'
import { freePort } from '../helpers/ports.js'

/** The demo study and its two series, as the embedded demo source serves them. */
export const DEMO = {
  study: uidFor('demo study'),
  ctSeries: uidFor('demo ct series'),
  reportSeries: uidFor('demo report series'),
  report: uidFor('demo report'),
  /** The first CT slice. */
  firstCt: uidFor('demo ct 0'),
} as const

/**
 * Playwright launches Chromium with `--disable-features=…,ThirdPartyStoragePartitioning,…`. Without
 * partitioning, a cross-site frame gets no localStorage at all, and OHIF 3.13 dies on its first
 * read (HotkeysManager) with a black frame. Shipped Chromium partitions third-party storage by
 * default (since 115), so a cross-site frame has its own localStorage there. The last
 * `--disable-features` switch wins, so this one restores the shipped default while keeping
 * Playwright's other quiet-network switches.
 */
export const SHIPPED_STORAGE_ARGS = [
  '--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,' +
    'HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,' +
    'AvoidCorsURLLoaderRestartOnRedirect,OptimizationHints,NetworkTimeServiceQuerying,' +
    'AimEnabled,PreconnectToSearch',
]

export async function launchForEmbedding(): Promise<Browser> {
  return await launchChromium({ args: SHIPPED_STORAGE_ARGS })
}

export { newContext }

/** Starts the gateway over the demo study, on 127.0.0.1 and a free port. */
export async function startDemoGateway(
  stateDir: string,
  input: Record<string, unknown> = {},
): Promise<RunningGateway> {
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    stateDir,
    ...input,
  } as IsogateConfigInput)
  return await startGateway(config)
}

/** The viewer route that opens the demo study (optionally one series first). */
export function studyUrl(gateway: RunningGateway, series?: string): string {
  const first = series ? `&initialSeriesInstanceUID=${series}` : ''
  return `${gateway.origin}/viewer?StudyInstanceUIDs=${DEMO.study}${first}`
}

export interface PageServer {
  /** `http://localhost:PORT` (or the host asked for). */
  readonly origin: string
  readonly port: number
  /** Requests seen, as `METHOD path` plus the Cookie header when one came. */
  readonly seen: string[]
  close(): Promise<void>
}

export type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => void

/** An HTTP server on 127.0.0.1 and a free port, addressed by `host` in its origin. */
export async function startPageServer(handler: Handler, host = 'localhost'): Promise<PageServer> {
  const port = await freePort()
  const origin = `http://${host}:${port}`
  const seen: string[] = []
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', origin)
    const cookie = request.headers.cookie ? ` cookie=${request.headers.cookie}` : ''
    seen.push(`${request.method} ${url.pathname}${cookie}`)
    handler(request, response, url)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    origin,
    port: actual,
    seen,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export interface HostPageOptions {
  /** The host page sends COOP same-origin + this COEP (absent: the host is not isolated). */
  readonly coep?: 'require-corp' | 'credentialless'
  /** `<iframe allow="cross-origin-isolated">` (R-COI-6). */
  readonly allowIsolation: boolean
}

/** A host page that frames `src` at 1200×800, as docs/examples/embed-parent.html does. */
export function hostPage(
  src: string,
  options: HostPageOptions,
): { headers: Record<string, string>; html: string } {
  const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' }
  if (options.coep) {
    headers['cross-origin-opener-policy'] = 'same-origin'
    headers['cross-origin-embedder-policy'] = options.coep
  }
  const allow = options.allowIsolation ? ' allow="cross-origin-isolated"' : ''
  const html =
    '<!doctype html><meta charset="utf-8"><title>host portal</title>' +
    '<body style="margin:0;background:#fff">' +
    `<iframe id="viewer" src="${src}"${allow} ` +
    'style="width:1200px;height:800px;border:0"></iframe></body>'
  return { headers, html }
}

/** The frame whose URL starts with `prefix`, once it exists. */
export async function frameAt(page: Page, prefix: string, timeoutMs = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const frame = page.frames().find((f) => f !== page.mainFrame() && f.url().startsWith(prefix))
    if (frame) return frame
    await page.waitForTimeout(100)
  }
  const urls = page.frames().map((f) => f.url())
  throw new Error(`no frame at ${prefix}; frames: ${urls.join(', ')}`)
}

/** What a document reports about its isolation and SharedArrayBuffer. */
export interface Isolation {
  readonly isolated: boolean
  readonly secure: boolean
  readonly sabType: string
  /** A SharedArrayBuffer posted to a worker and read back there, or why not. */
  readonly sabEcho: number | string
}

export async function isolationIn(frame: Frame): Promise<Isolation> {
  return await frame.evaluate(async () => {
    const sabType = typeof SharedArrayBuffer
    let sabEcho: number | string = 'no SharedArrayBuffer'
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
    return {
      isolated: self.crossOriginIsolated,
      secure: self.isSecureContext,
      sabType,
      sabEcho,
    }
  })
}

/**
 * Waits until the viewer in `frame` has drawn the study: the largest canvas (cornerstone's
 * viewport) has at least `minLit` pixels brighter than near-black. Returns that count.
 */
export async function waitForRenderedImage(
  frame: Frame,
  timeoutMs = 90_000,
  minLit = 2_000,
): Promise<number> {
  const handle = await frame.waitForFunction(
    (min: number) => {
      const canvases = Array.from(document.querySelectorAll('canvas'))
      const largest = canvases.sort((a, b) => b.width * b.height - a.width * a.height)[0]
      if (!largest || largest.width < 128 || largest.height < 128) return false
      const probe = document.createElement('canvas')
      probe.width = largest.width
      probe.height = largest.height
      const context = probe.getContext('2d')
      if (!context) return false
      context.drawImage(largest, 0, 0)
      const data = context.getImageData(0, 0, probe.width, probe.height).data
      let lit = 0
      for (let i = 0; i < data.length; i += 4) {
        if ((data[i] ?? 0) + (data[i + 1] ?? 0) + (data[i + 2] ?? 0) > 90) lit++
      }
      return lit >= min ? lit : false
    },
    minLit,
    { timeout: timeoutMs, polling: 500 },
  )
  return (await handle.jsonValue()) as number
}

/** Starts each of OHIF's worker bundles from `frame`; returns the names that failed. */
export async function workerFailures(
  frame: Frame,
  base: string,
  names: string[],
): Promise<string[]> {
  return await frame.evaluate(
    async ({ basePath, files }) => {
      const failed: string[] = []
      for (const name of files) {
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
    { basePath: base, files: names },
  )
}

/** Names of files in the viewer build, found by pattern (their hashes change per release). */
export function viewerFiles(root: string): {
  script: string
  workers: string[]
  wasm: string
  css: string
} {
  const names = readdirSync(root)
  const pick = (pattern: RegExp) => {
    const name = names.find((n) => pattern.test(n))
    if (!name) throw new Error(`the viewer build has no file like ${pattern}`)
    return name
  }
  return {
    script: pick(/^app\.bundle\.[0-9a-f]+\.js$/),
    workers: names.filter((n) =>
      /^(?:histogram-worker|compute|interpolation|polySeg)\.bundle\.[0-9a-f]+\.js$/.test(n),
    ),
    wasm: pick(/^[0-9a-f]{16}\.wasm$/),
    css: pick(/^\d+\.css$/),
  }
}

/**
 * A screenshot of a page whose `frame` shows the study: taken once the viewport has drawn and
 * kept still for a moment (OHIF redraws it, black at first, when its layout or tour changes).
 */
export async function shootRendered(page: Page, frame: Frame, name: string): Promise<string> {
  await waitForRenderedImage(frame)
  await page.waitForTimeout(2_000)
  await waitForRenderedImage(frame)
  return await shoot(page, name)
}

/** Saves a screenshot under test-output/screenshots and returns its path. */
export async function shoot(page: Page, name: string): Promise<string> {
  const path = join(screenshotDir(), name)
  await page.screenshot({ path })
  return path
}

/** Collects console messages of a page (all frames), for asserting on Chromium's reasons. */
export function consoleOf(page: Page): string[] {
  const lines: string[] = []
  page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`))
  return lines
}

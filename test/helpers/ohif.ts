/**
 * Driving the served OHIF 3.13 in Chromium and reading what it shows: the study list's rows,
 * the pixels of each cornerstone viewport (canvas `getImageData`, never the DOM alone), the
 * MPR layout, every image of a display set, and what the page says about isolation. The
 * console and the network are watched for COEP/CORP/CORS trouble.
 *
 * OHIF's own objects are reached through the globals it sets for its Cypress tests
 * (`window.cornerstone`, `window.services`). The checks read them; the only thing they draw is
 * black, into a viewport's canvas before asking cornerstone to show the next image there.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import type { Browser, BrowserContext, Page } from 'playwright-core'

import { newContext, screenshotDir } from './chromium.js'

/**
 * Runs before OHIF in every page. It hides OHIF's "investigational use only" banner and the
 * "Scrolling Through Images" tour the way OHIF itself remembers them (sessionStorage
 * `investigationalUseDialog`, localStorage `shownTours`), and installs the canvas statistics
 * the checks use. A string, not a function: the test runner's transpiler may wrap named
 * functions in helpers that do not exist in the page.
 */
const PAGE_INIT = `
try {
  localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']))
  sessionStorage.setItem('investigationalUseDialog', 'hidden')
} catch (e) {}
window.__name = window.__name || function (f) { return f }
window.__isogate = {
  canvasStats: function (canvas) {
    var w = canvas.width, h = canvas.height
    var ctx = canvas.getContext('2d')
    if (!ctx || w === 0 || h === 0) {
      return { width: w, height: h, levels: 0, nonBlack: 0, white: 0, hash: 0 }
    }
    var d = ctx.getImageData(0, 0, w, h).data
    var levels = new Set(), nonBlack = 0, white = 0, hash = 2166136261
    for (var i = 0; i < d.length; i += 4) {
      var rgb = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]
      levels.add(rgb)
      if (d[i] > 16 || d[i + 1] > 16 || d[i + 2] > 16) nonBlack++
      if (d[i] > 230 && d[i + 1] > 230 && d[i + 2] > 230) white++
      hash = Math.imul(hash ^ rgb, 16777619) >>> 0
    }
    var n = w * h
    return { width: w, height: h, levels: levels.size, nonBlack: nonBlack / n, white: white / n,
      hash: hash }
  },
  studyRows: function () {
    return Array.from(document.querySelectorAll('tbody tr'))
      .map(function (tr) {
        return Array.from(tr.querySelectorAll('td')).map(function (td) {
          return (td.textContent || '').trim()
        })
      })
      .filter(function (c) { return c.length >= 6 && c[0] !== '' && c[5] !== '' })
      .map(function (c) {
        return { patient: c[0], date: c[1], modalities: c[2], description: c[3],
          accession: c[4], instances: c[5] }
      })
  },
  imageStats: async function (dataUrl) {
    var image = new Image()
    image.src = dataUrl
    await image.decode()
    var canvas = document.createElement('canvas')
    canvas.width = image.naturalWidth
    canvas.height = image.naturalHeight
    canvas.getContext('2d').drawImage(image, 0, 0)
    return window.__isogate.canvasStats(canvas)
  },
}
`

/**
 * What a canvas shows: distinct colours, the shares of non-black and of white pixels, and a
 * hash of them all (two views with the same hash show the same picture).
 */
export interface CanvasStats {
  readonly width: number
  readonly height: number
  readonly levels: number
  readonly nonBlack: number
  readonly white: number
  readonly hash: number
}

/** Blank means one colour or (nearly) all black: what a failed or empty viewport shows. */
export function isBlank(stats: CanvasStats): boolean {
  return stats.levels < 2 || stats.nonBlack < 0.005
}

/** A browser context as a new user has it, minus OHIF's two pop-ups. */
export async function newOhifContext(browser: Browser): Promise<BrowserContext> {
  const context = await newContext(browser)
  await context.addInitScript({ content: PAGE_INIT })
  return context
}

/** Clicks OHIF's banner and tour away if they show anyway (a profile without the presets). */
export async function dismissPopups(page: Page): Promise<void> {
  for (const name of ['Confirm and hide', 'Skip all']) {
    const button = page.getByRole('button', { name })
    if (await button.isVisible().catch(() => false)) await button.click()
  }
}

export interface PageWatch {
  /** Console errors and warnings, as `error: text`. */
  readonly console: string[]
  /** Requests that failed (`failed <url> <net error>`) or answered 4xx/5xx (`<status> <url>`). */
  readonly failed: string[]
  /** Every http(s) URL the page requested. */
  readonly requested: URL[]
}

/** Watches a page's console and network from now on. */
export function watchPage(page: Page): PageWatch {
  const seen: PageWatch = { console: [], failed: [], requested: [] }
  page.on('console', (message) => {
    const type = message.type()
    if (type === 'error' || type === 'warning') seen.console.push(`${type}: ${message.text()}`)
  })
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.protocol === 'http:' || url.protocol === 'https:') seen.requested.push(url)
  })
  page.on('requestfailed', (request) => {
    seen.failed.push(`failed ${request.url()} ${request.failure()?.errorText ?? ''}`)
  })
  page.on('response', (response) => {
    if (response.status() >= 400) seen.failed.push(`${response.status()} ${response.url()}`)
  })
  return seen
}

/** What the browser says when isolation headers block something, or CORS refuses it. */
export const ISOLATION_TROUBLE =
  /ERR_BLOCKED_BY_RESPONSE|Cross-Origin-Embedder-Policy|Cross-Origin-Resource-Policy|Cross-Origin-Opener-Policy|CORS/i

/** Console lines and failed requests that name an isolation or CORS problem. */
export function isolationTrouble(watch: PageWatch): string[] {
  return [...watch.console, ...watch.failed].filter((line) => ISOLATION_TROUBLE.test(line))
}

export interface IsolationFacts {
  readonly isolated: boolean
  readonly secure: boolean
  readonly sabType: string
  /** What a worker read from a SharedArrayBuffer posted to it (4242), or why it could not. */
  readonly sabEcho: number | string
  readonly hardwareConcurrency: number
  /**
   * Threads for wasm: two workers instantiate one module over one shared WebAssembly.Memory
   * and add to the same cell with `i32.atomic.rmw.add`; `total` is what the page reads after.
   */
  readonly wasmThreads: { readonly total: number; readonly expected: number } | string
}

/**
 * A module importing a shared memory (1 page) and exporting `add(address, n)`, an atomic add:
 * (import "env" "mem" (memory 1 1 shared)) (func (export "add") (param i32 i32) (result i32)
 * local.get 0 local.get 1 i32.atomic.rmw.add). Hand-assembled, 83 bytes.
 */
const ATOMIC_ADD_WASM = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01,
  0x7f, 0x02, 0x0d, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x03, 0x01, 0x01,
  0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x0c, 0x01,
  0x0a, 0x00, 0x20, 0x00, 0x20, 0x01, 0xfe, 0x1e, 0x02, 0x00, 0x0b,
]

/** Isolation as the page sees it, and whether shared memory really reaches other threads. */
export async function isolationFacts(page: Page): Promise<IsolationFacts> {
  return await page.evaluate(async (wasmBytes) => {
    const sabType = typeof SharedArrayBuffer
    let sabEcho: number | string = 'SharedArrayBuffer is not exposed'
    if (sabType === 'function') {
      const source = 'onmessage = (e) => postMessage(new Int32Array(e.data)[0])'
      const worker = new Worker(URL.createObjectURL(new Blob([source])))
      const sab = new SharedArrayBuffer(8)
      new Int32Array(sab)[0] = 4242
      sabEcho = await new Promise<number | string>((resolve) => {
        worker.onmessage = (e) => resolve(e.data as number)
        worker.onerror = (e) => resolve(`worker error: ${e.message}`)
        worker.onmessageerror = () => resolve('messageerror')
        try {
          worker.postMessage(sab)
        } catch (error) {
          resolve(String(error))
        }
      })
      worker.terminate()
    }

    let wasmThreads: { total: number; expected: number } | string
    const workers: Worker[] = []
    try {
      const module = await WebAssembly.compile(new Uint8Array(wasmBytes))
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
      const rounds = 20000
      const source = `onmessage = async (e) => {
        const { module, memory, rounds } = e.data
        const instance = await WebAssembly.instantiate(module, { env: { mem: memory } })
        for (let i = 0; i < rounds; i++) instance.exports.add(0, 1)
        postMessage('done')
      }`
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }))
      const done = [0, 1].map(() => {
        const worker = new Worker(url)
        workers.push(worker)
        return new Promise<void>((resolve, reject) => {
          worker.onmessage = () => resolve()
          worker.onerror = (e) => reject(new Error(e.message))
          worker.onmessageerror = () => reject(new Error('messageerror'))
          worker.postMessage({ module, memory, rounds })
        })
      })
      await Promise.all(done)
      wasmThreads = {
        total: Atomics.load(new Int32Array(memory.buffer), 0),
        expected: rounds * workers.length,
      }
    } catch (error) {
      wasmThreads = String(error)
    } finally {
      for (const worker of workers) worker.terminate()
    }

    return {
      isolated: self.crossOriginIsolated,
      secure: self.isSecureContext,
      sabType,
      sabEcho,
      hardwareConcurrency: navigator.hardwareConcurrency,
      wasmThreads,
    }
  }, ATOMIC_ADD_WASM)
}

/** One row of OHIF's study list, by column. */
export interface StudyRow {
  readonly patient: string
  readonly date: string
  readonly modalities: string
  readonly description: string
  readonly accession: string
  readonly instances: string
}

/**
 * Opens the study list and returns its rows once `expected` of them show (or what shows when
 * the time is up, so a test can say what was missing).
 */
export async function studyListRows(
  page: Page,
  url: string,
  expected: number,
  timeoutMs = 60_000,
): Promise<StudyRow[]> {
  await page.goto(url)
  await page
    .waitForFunction(
      (n) => (window as unknown as OhifGlobals).__isogate.studyRows().length >= n,
      expected,
      { timeout: timeoutMs, polling: 250 },
    )
    .catch(() => undefined)
  await dismissPopups(page)
  return await page.evaluate(() => (window as unknown as OhifGlobals).__isogate.studyRows())
}

/** Options of OHIF's viewer route. */
export interface ViewerRoute {
  /** The data source's name, when it is not the default one (`/viewer/<name>`). */
  readonly dataSource?: string
  readonly seriesInstanceUids?: readonly string[]
  readonly hangingProtocolId?: string
}

/** The viewer's URL for studies: `<base>viewer[/<source>]?StudyInstanceUIDs=…`. */
export function viewerUrl(base: string, studies: readonly string[], route: ViewerRoute = {}) {
  const path = route.dataSource ? `viewer/${route.dataSource}` : 'viewer'
  const query = new URLSearchParams({ StudyInstanceUIDs: studies.join(',') })
  if (route.seriesInstanceUids) query.set('SeriesInstanceUIDs', route.seriesInstanceUids.join(','))
  if (route.hangingProtocolId) query.set('hangingProtocolId', route.hangingProtocolId)
  return `${base}${path}?${query.toString().replaceAll('%2C', ',')}`
}

/** One cornerstone viewport: its kind, orientation, what it shows, and its canvas pixels. */
export interface ViewportFacts {
  readonly id: string
  /** `stack` or `orthographic` (a volume viewport). */
  readonly type: string
  readonly viewPlaneNormal: readonly number[]
  /** Volume ids of a volume viewport's actors. */
  readonly volumes: readonly string[]
  readonly currentImageId: string | undefined
  readonly stats: CanvasStats
}

interface CsViewport {
  id: string
  type: string
  canvas: HTMLCanvasElement
  getCamera(): { viewPlaneNormal?: number[] }
  getActors(): Array<{ uid: string; referencedId?: string }>
  getImageIds?: () => string[]
  getCurrentImageId?: () => string | undefined
  setImageIdIndex?: (index: number) => Promise<string>
  render(): void
}

interface OhifGlobals {
  cornerstone?: {
    getRenderingEngines(): Array<{ getViewports(): CsViewport[] }>
    imageLoader: { loadAndCacheImage(imageId: string): Promise<unknown> }
    cache: { getImage(imageId: string): { getPixelData?: () => ArrayLike<number> } | undefined }
  }
  services?: {
    displaySetService: {
      getActiveDisplaySets(): Array<{
        displaySetInstanceUID: string
        StudyInstanceUID: string
        SeriesInstanceUID: string
        Modality?: string
        SOPClassHandlerId?: string
        SeriesDescription?: string
        unsupported?: boolean
        instances?: Array<{ SOPInstanceUID: string }>
      }>
    }
    viewportGridService: {
      getActiveViewportId(): string | null | undefined
      getState(): {
        viewports:
          | Map<string, { displaySetInstanceUIDs?: string[] }>
          | Record<string, { displaySetInstanceUIDs?: string[] }>
      }
      setDisplaySetsForViewport(props: {
        viewportId: string
        displaySetInstanceUIDs: string[]
      }): void
    }
  }
  __isogate: {
    canvasStats(canvas: HTMLCanvasElement): CanvasStats
    imageStats(dataUrl: string): Promise<CanvasStats>
    studyRows(): StudyRow[]
  }
}

/** Every cornerstone viewport on the page, sorted by id. */
export async function viewportFacts(page: Page): Promise<ViewportFacts[]> {
  return await page.evaluate(() => {
    const w = window as unknown as OhifGlobals
    const engines = w.cornerstone?.getRenderingEngines() ?? []
    return engines
      .flatMap((engine) => engine.getViewports())
      .map((v) => ({
        id: v.id,
        type: v.type,
        viewPlaneNormal: v.getCamera().viewPlaneNormal ?? [],
        volumes: v.type === 'stack' ? [] : v.getActors().map((a) => a.referencedId ?? a.uid),
        currentImageId: v.getCurrentImageId?.(),
        stats: w.__isogate.canvasStats(v.canvas),
      }))
      .sort((a, b) => a.id.localeCompare(b.id))
  })
}

/** Waits until `count` viewports exist and each shows something, then returns them. */
export async function waitForRenderedViewports(
  page: Page,
  count: number,
  timeoutMs = 90_000,
): Promise<ViewportFacts[]> {
  await page
    .waitForFunction(
      (n) => {
        const w = window as unknown as OhifGlobals
        const viewports = (w.cornerstone?.getRenderingEngines() ?? []).flatMap((e) =>
          e.getViewports(),
        )
        return (
          viewports.length === n &&
          viewports.every((v) => {
            const s = w.__isogate.canvasStats(v.canvas)
            const shows = v.type !== 'stack' || Boolean(v.getCurrentImageId?.())
            return shows && s.levels >= 2 && s.nonBlack >= 0.005
          })
        )
      },
      count,
      { timeout: timeoutMs, polling: 500 },
    )
    .catch(() => undefined)
  // One more frame so that a progressive load has landed; then report whatever is there.
  await page.waitForTimeout(500)
  return await viewportFacts(page)
}

/** Switches the viewer to OHIF's MPR layout with its toolbar: Layout, then "MPR". */
export async function chooseMprLayout(page: Page): Promise<void> {
  await page.click('[data-cy="Layout"]')
  await page.click('[data-cy="MPR"]')
}

/** Display sets OHIF made from the loaded studies. */
export async function displaySets(page: Page): Promise<
  Array<{
    displaySetInstanceUID: string
    StudyInstanceUID: string
    SeriesInstanceUID: string
    Modality: string | undefined
    handler: string | undefined
    /** SOP Instance UIDs of its instances, sorted: the same after a reload, unlike its UID. */
    sops: string[]
  }>
> {
  return await page.evaluate(() => {
    const w = window as unknown as OhifGlobals
    return (w.services?.displaySetService.getActiveDisplaySets() ?? []).map((d) => ({
      displaySetInstanceUID: d.displaySetInstanceUID,
      StudyInstanceUID: d.StudyInstanceUID,
      SeriesInstanceUID: d.SeriesInstanceUID,
      Modality: d.Modality,
      handler: d.SOPClassHandlerId,
      sops: (d.instances ?? []).map((i) => i.SOPInstanceUID).sort(),
    }))
  })
}

/**
 * Waits until OHIF has laid out its viewports and put a display set in one: before that, the
 * grid has no active viewport, and asking it to show a display set breaks the page.
 */
export async function waitForViewerReady(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const grid = (window as unknown as OhifGlobals).services?.viewportGridService
      if (!grid?.getActiveViewportId()) return false
      const viewports = grid.getState().viewports
      const list = viewports instanceof Map ? [...viewports.values()] : Object.values(viewports)
      return list.some((v) => (v.displaySetInstanceUIDs?.length ?? 0) > 0)
    },
    null,
    { timeout: timeoutMs, polling: 250 },
  )
}

/** How one image (one frame) of a stack came out in the viewport. */
export interface ImageOutcome {
  readonly imageId: string
  /** The SOP Instance UID in a `wadors:` image id. */
  readonly sop: string
  /** The 1-based frame number in the image id. */
  readonly frame: number
  /** Why cornerstone could not load or decode it, when it could not. */
  readonly error: string | undefined
  readonly stats: CanvasStats | undefined
}

/** What showing a display set's images came to. */
export interface ShownImages {
  /** Outcomes of the images tried, from `from` up to the end or the first that failed. */
  readonly outcomes: ImageOutcome[]
  /** How many images (frames) the display set has in all. */
  readonly total: number
}

/**
 * Puts a display set in the active viewport and shows its images in turn, from image `from`.
 * An image counts as shown when cornerstone loads and decodes it to pixels, the viewport
 * reports it as current, and the canvas, blacked out before, then holds a picture. It stops at
 * the first image that fails: OHIF's viewport shows nothing more after one (measured), so the
 * caller reloads the page to go on.
 */
export async function showEachImage(
  page: Page,
  set: { readonly displaySetInstanceUID: string; readonly sops: readonly string[] },
  from = 0,
  perImageTimeoutMs = 20_000,
): Promise<ShownImages> {
  await waitForViewerReady(page)
  await page.evaluate((uid) => {
    const w = window as unknown as OhifGlobals
    const grid = w.services!.viewportGridService
    grid.setDisplaySetsForViewport({
      viewportId: grid.getActiveViewportId()!,
      displaySetInstanceUIDs: [uid],
    })
  }, set.displaySetInstanceUID)
  // Until the viewport holds exactly this set's instances (a series may make several sets).
  await page
    .waitForFunction(
      (sops) => {
        const w = window as unknown as OhifGlobals
        const id = w.services!.viewportGridService.getActiveViewportId()
        const viewport = (w.cornerstone?.getRenderingEngines() ?? [])
          .flatMap((e) => e.getViewports())
          .find((v) => v.id === id)
        const shown = new Set(
          (viewport?.getImageIds?.() ?? []).map((i) => /\/instances\/([0-9.]+)\//.exec(i)?.[1]),
        )
        return shown.size === sops.length && sops.every((sop) => shown.has(sop))
      },
      [...set.sops],
      { timeout: 30_000, polling: 250 },
    )
    .catch(async (error: unknown) => {
      const holds = await page.evaluate(() => {
        const w = window as unknown as OhifGlobals
        const id = w.services!.viewportGridService.getActiveViewportId()
        const viewports = (w.cornerstone?.getRenderingEngines() ?? []).flatMap((e) =>
          e.getViewports(),
        )
        return viewports.map(
          (v) => `${v.id}${v.id === id ? '*' : ''}: ${v.getImageIds?.().join(' ')}`,
        )
      })
      await screenshot(page, 'failed-to-show-set')
      throw new Error(
        `${String(error)}; wanted ${set.sops.join(' ')}; viewports ${holds.join('; ')}`,
      )
    })
  return await page.evaluate(
    async ({ timeoutMs, start }) => {
      const w = window as unknown as OhifGlobals
      const cs = w.cornerstone!
      const id = w.services!.viewportGridService.getActiveViewportId()
      const viewport = cs
        .getRenderingEngines()
        .flatMap((e) => e.getViewports())
        .find((v) => v.id === id)!
      const imageIds = viewport.getImageIds!()
      const outcomes: ImageOutcome[] = []
      const within = <T>(promise: Promise<T>) =>
        Promise.race([
          promise,
          new Promise<T>((_, reject) =>
            setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs),
          ),
        ])
      for (let index = start; index < imageIds.length; index++) {
        const imageId = imageIds[index]!
        const sop = /\/instances\/([0-9.]+)\//.exec(imageId)?.[1] ?? ''
        const frame = Number(/\/frames\/(\d+)/.exec(imageId)?.[1] ?? '1')
        let error: string | undefined
        let stats: CanvasStats | undefined
        try {
          await within(cs.imageLoader.loadAndCacheImage(imageId))
          const pixels = cs.cache.getImage(imageId)?.getPixelData?.()?.length ?? 0
          // Black first, so that a picture left over from the previous image cannot pass.
          const canvas = viewport.canvas
          const context = canvas.getContext('2d')!
          context.fillStyle = '#000'
          context.fillRect(0, 0, canvas.width, canvas.height)
          await within(viewport.setImageIdIndex!(index))
          viewport.render()
          // cornerstone draws on its own animation frames, later on a loaded machine: watch the
          // canvas for a while before calling it blank.
          const until = performance.now() + 5_000
          for (;;) {
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))
            stats = w.__isogate.canvasStats(canvas)
            if ((stats.levels >= 2 && stats.nonBlack >= 0.005) || performance.now() > until) break
          }
          if (viewport.getCurrentImageId?.() !== imageId) throw new Error('not shown as current')
          if (pixels === 0) throw new Error('decoded to no pixels')
          if (stats.levels < 2 || stats.nonBlack < 0.005) throw new Error('the canvas is blank')
        } catch (e) {
          const detail = e as { message?: string; error?: { message?: string } } | undefined
          error = detail?.message ?? detail?.error?.message ?? JSON.stringify(e) ?? String(e)
        }
        outcomes.push({ imageId, sop, frame, error, stats })
        if (error !== undefined) break
      }
      return { outcomes, total: imageIds.length }
    },
    { timeoutMs: perImageTimeoutMs, start: from },
  )
}

/**
 * The pixels of an element as they appear on screen (its box from a screenshot), for what a
 * canvas cannot tell, such as a PDF shown by the browser's own viewer.
 */
export async function regionStats(page: Page, selector: string): Promise<CanvasStats> {
  const png = await page.locator(selector).first().screenshot()
  return await page.evaluate(
    async (dataUrl) => {
      const w = window as unknown as OhifGlobals
      return await w.__isogate.imageStats(dataUrl)
    },
    `data:image/png;base64,${png.toString('base64')}`,
  )
}

/** Saves a screenshot as `ohif-<name>.png` in the screenshot folder; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir(), { recursive: true })
  const path = join(screenshotDir(), `ohif-${name}.png`)
  await page.screenshot({ path })
  return path
}

/** A DICOM JSON dataset, as QIDO and WADO-RS metadata return them. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>

/** GETs DICOM JSON (from Node, not the page); throws on a non-2xx answer. */
export async function dicomJson(url: string, init: RequestInit = {}): Promise<DicomJson[]> {
  const response = await fetch(url, {
    ...init,
    headers: { accept: 'application/dicom+json', ...init.headers },
  })
  if (!response.ok) throw new Error(`${response.status} from ${url}`)
  return (await response.json()) as DicomJson[]
}

/** The first value of an attribute as text (`''` when absent or empty). */
export function text(dataset: DicomJson, tag: string): string {
  const value = dataset[tag]?.Value?.[0]
  if (value === undefined || value === null) return ''
  if (typeof value === 'object' && 'Alphabetic' in value) {
    return String((value as { Alphabetic: unknown }).Alphabetic)
  }
  return String(value)
}

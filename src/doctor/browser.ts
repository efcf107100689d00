/**
 * `doctor --browser`: Debian's Chromium as a witness. It loads the viewer, reads what the page
 * itself sees (crossOriginIsolated, isSecureContext, typeof SharedArrayBuffer), collects console
 * messages and failed requests with their reasons, takes a screenshot, and lists every place
 * where the doctor's prediction and the browser disagree.
 */
import { existsSync } from 'node:fs'

import { chromium, type Browser as PwBrowser, type Page } from 'playwright-core'

import { IsogateError } from '../errors.js'
import type { DoctorReport } from './diagnose.js'

/** Where Chromium is; ISOGATE_CHROMIUM overrides Debian's path. */
export function chromiumPath(): string {
  return process.env.ISOGATE_CHROMIUM ?? '/usr/bin/chromium'
}

/** Switches that keep a headless Chromium quiet and off the network it does not need. */
export const CHROMIUM_SWITCHES: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
]

/** Launches Chromium headless; throws ISOGATE_E_DOCTOR_BROWSER when it is not installed. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<PwBrowser> {
  const path = chromiumPath()
  if (!existsSync(path)) {
    throw new IsogateError('ISOGATE_E_DOCTOR_BROWSER', `Chromium not found at ${path}`)
  }
  try {
    return await chromium.launch({
      executablePath: path,
      headless: true,
      args: [...CHROMIUM_SWITCHES, ...extraArgs],
    })
  } catch (error) {
    throw new IsogateError('ISOGATE_E_DOCTOR_BROWSER', `Chromium did not start: ${String(error)}`, {
      cause: error,
    })
  }
}

export interface Witness {
  readonly crossOriginIsolated: boolean | null
  readonly isSecureContext: boolean | null
  readonly sharedArrayBuffer: string | null
  readonly console: ReadonlyArray<{ type: string; text: string }>
  readonly failedRequests: ReadonlyArray<{ url: string; reason: string }>
  readonly screenshot: string | null
  /** Only when the page loads a service-worker shim: what its loads went through. */
  readonly serviceWorker: ShimWitness | null
  readonly disagreements: readonly string[]
}

export interface ShimWitness {
  /** Loads of the page's main frame, in order: the first visit, then the shim's reloads. */
  readonly loads: ReadonlyArray<{ url: string; status: number; throughWorker: boolean }>
  /** `navigator.serviceWorker.controller` was set on the load that was read. */
  readonly controlled: boolean | null
  /** A worker is still registered for the page once it ran (a page may unregister it). */
  readonly registered: boolean | null
}

export interface WitnessOptions {
  /** Extra Chromium switches (a test keeps the browser on loopback with resolver rules). */
  readonly chromiumArgs?: readonly string[]
  readonly insecure?: boolean
  readonly screenshot?: string
  readonly settleMs?: number
}

/** Loads the report's URL (or its outermost parent when embedded) and compares. */
export async function witness(
  report: DoctorReport,
  options: WitnessOptions = {},
): Promise<Witness> {
  const browser = await launchChromium(options.chromiumArgs ?? [])
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: options.insecure === true })
    const page = await context.newPage()
    const consoleMessages: Array<{ type: string; text: string }> = []
    const failed: Array<{ url: string; reason: string }> = []
    page.on('console', (m) => consoleMessages.push({ type: m.type(), text: m.text() }))
    page.on('requestfailed', (r) =>
      failed.push({ url: r.url(), reason: r.failure()?.errorText ?? '' }),
    )
    const loads: Array<{ url: string; status: number; throughWorker: boolean }> = []
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push({ url: r.url(), reason: `HTTP ${r.status()}` })
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) {
        loads.push({ url: r.url(), status: r.status(), throughWorker: r.fromServiceWorker() })
      }
    })
    const topUrl = report.frames[0]?.url ?? report.finalUrl
    try {
      await page.goto(topUrl, { waitUntil: 'load', timeout: 30_000 })
    } catch (error) {
      throw new IsogateError('ISOGATE_E_DOCTOR_BROWSER', `Chromium could not load ${topUrl}`, {
        cause: error,
        hint: String((error as Error).message ?? error).split('\n')[0] ?? '',
      })
    }
    // A shim isolates only the load after its own reload: wait for that one before reading.
    const shim = report.serviceWorker !== null
    if (shim) await settleShim(page, () => loads.length)
    // An SPA paints after its bundle runs: wait for the app root to fill (OHIF's #root), then
    // give late requests (workers, data sources) a moment.
    await page
      .waitForFunction(
        () =>
          (document.querySelector('#root, body > main, body > div')?.childElementCount ?? 0) > 0,
        null,
        { timeout: 20_000 },
      )
      .catch(() => undefined)
    await page.waitForTimeout(options.settleMs ?? 2500)
    // Read the viewer's own frame: the top page, or the frame that holds the viewer.
    const frame =
      report.frames.length > 1
        ? page.frames().find((f) => f.url().startsWith(report.finalUrl.replace(/[?#].*$/, '')))
        : page.mainFrame()
    const seen = frame
      ? await frame.evaluate(async () => {
          const container = self.navigator.serviceWorker
          return {
            coi: self.crossOriginIsolated,
            secure: self.isSecureContext,
            sab: typeof SharedArrayBuffer,
            controlled: container?.controller != null,
            // Unregistered workers are left out, even one that still controls this page.
            registered: container ? (await container.getRegistrations()).length > 0 : null,
          }
        })
      : null
    let screenshot: string | null = null
    if (options.screenshot) {
      await page.screenshot({ path: options.screenshot })
      screenshot = options.screenshot
    }
    const disagreements: string[] = []
    const expectedLoads = report.frames[report.frames.length - 1]?.loads ?? true
    if (!seen && expectedLoads) disagreements.push('predicted the viewer frame loads; it did not')
    if (seen && !expectedLoads)
      disagreements.push('predicted the viewer frame is blocked; it loaded')
    // A page that unregisters the shim races its loader's reload: either outcome can be seen,
    // so the witness checks the unregistration itself instead of the isolation.
    const racing = report.serviceWorker?.problem === 'UNREGISTERED_BY_PAGE'
    if (racing && seen?.registered) {
      disagreements.push('predicted the page unregisters the service worker; it is registered')
    }
    if (seen && !racing && seen.coi !== report.verdict.isolated) {
      disagreements.push(
        `predicted crossOriginIsolated ${report.verdict.isolated}; the browser says ${seen.coi}`,
      )
    }
    if (seen && seen.secure !== report.document.secureContext) {
      disagreements.push(
        `predicted isSecureContext ${report.document.secureContext}; ` +
          `the browser says ${seen.secure}`,
      )
    }
    if (seen && report.verdict.isolatedBy === 'service-worker' && !seen.controlled) {
      disagreements.push('predicted a load controlled by the service worker; the page read is not')
    }
    if (shim && loads[0]?.throughWorker) {
      disagreements.push('predicted the first visit bypasses the service worker; it went through')
    }
    for (const asset of report.viewer.assets) {
      const blocked = failed.find((f) => f.url === asset.url && f.reason.includes('BLOCKED'))
      if (blocked && asset.loads)
        disagreements.push(`predicted ${asset.url} loads; ${blocked.reason}`)
    }
    return {
      crossOriginIsolated: seen?.coi ?? null,
      isSecureContext: seen?.secure ?? null,
      sharedArrayBuffer: seen?.sab ?? null,
      console: consoleMessages.slice(0, 200),
      failedRequests: failed.slice(0, 200),
      screenshot,
      serviceWorker: shim
        ? {
            loads: loads.slice(0, 20),
            controlled: seen?.controlled ?? null,
            registered: seen?.registered ?? null,
          }
        : null,
      disagreements,
    }
  } finally {
    await browser.close()
  }
}

/** Text for the witness section. */
export function renderWitness(seen: Witness): string {
  const lines = [
    '',
    'Chromium',
    `  crossOriginIsolated: ${seen.crossOriginIsolated}` +
      `   isSecureContext: ${seen.isSecureContext}` +
      `   typeof SharedArrayBuffer: ${seen.sharedArrayBuffer}`,
  ]
  for (const f of seen.failedRequests.slice(0, 20)) lines.push(`  failed: ${f.url} (${f.reason})`)
  for (const m of seen.console
    .filter((c) => c.type === 'error' || c.type === 'warning')
    .slice(0, 20)) {
    lines.push(`  console ${m.type}: ${m.text.slice(0, 200)}`)
  }
  if (seen.serviceWorker) {
    const sw = seen.serviceWorker
    const through = sw.loads.map((l) => (l.throughWorker ? 'worker' : 'network')).join(', ')
    lines.push(
      `  service worker: ${sw.loads.length} page load(s) (${through}); ` +
        `the one read is controlled: ${sw.controlled}; still registered: ${sw.registered}`,
    )
  }
  if (seen.screenshot) lines.push(`  screenshot: ${seen.screenshot}`)
  lines.push(
    seen.disagreements.length === 0
      ? '  prediction and browser agree'
      : seen.disagreements.map((d) => `  DISAGREE: ${d}`).join('\n'),
  )
  return `${lines.join('\n')}\n`
}

/**
 * Waits for a shim's loader to finish: until the page is isolated, or no new load of the page
 * has started for a while (the shim cannot work, or gave up), at most 20 s. Reading earlier
 * would judge the first visit, which no shim isolates.
 */
async function settleShim(page: Page, loadCount: () => number): Promise<void> {
  const deadline = Date.now() + 20_000
  let seen = loadCount()
  let quietSince = Date.now()
  while (Date.now() < deadline) {
    await page.waitForTimeout(250)
    if (loadCount() !== seen) {
      seen = loadCount()
      quietSince = Date.now()
      continue
    }
    // Throws while a reload replaces the document; the next round reads the new one.
    const state = await page
      .evaluate(() => ({ coi: self.crossOriginIsolated, done: document.readyState === 'complete' }))
      .catch(() => null)
    if (!state?.done) continue
    if (state.coi || Date.now() - quietSince > 5000) return
  }
}

/**
 * `doctor --browser`: Debian's Chromium as a witness. It loads the viewer, reads what the page
 * itself sees (crossOriginIsolated, isSecureContext, typeof SharedArrayBuffer), collects console
 * messages and failed requests with their reasons, takes a screenshot, and lists every place
 * where the doctor's prediction and the browser disagree.
 */
import { existsSync } from 'node:fs'

import { chromium, type Browser as PwBrowser } from 'playwright-core'

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
  readonly disagreements: readonly string[]
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
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push({ url: r.url(), reason: `HTTP ${r.status()}` })
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
      ? await frame.evaluate(() => ({
          coi: self.crossOriginIsolated,
          secure: self.isSecureContext,
          sab: typeof SharedArrayBuffer,
        }))
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
    if (seen && seen.coi !== report.verdict.isolated) {
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
  if (seen.screenshot) lines.push(`  screenshot: ${seen.screenshot}`)
  lines.push(
    seen.disagreements.length === 0
      ? '  prediction and browser agree'
      : seen.disagreements.map((d) => `  DISAGREE: ${d}`).join('\n'),
  )
  return `${lines.join('\n')}\n`
}

/**
 * Debian's Chromium driven by playwright-core (no browser download). The flags keep it off the
 * network: this machine reaches nothing but loopback, and background services would only fail.
 */
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { chromium, type Browser, type BrowserContext } from 'playwright-core'

export const CHROMIUM_BIN = process.env.ISOGATE_CHROMIUM ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // WebGL through SwiftShader, so OHIF's vtk.js viewports render without a GPU.
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
]

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_BIN)
}

export interface LaunchOptions {
  /** Extra command-line switches (e.g. to trust a certificate by its SPKI hash). */
  args?: string[]
}

export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(`Chromium not found at ${CHROMIUM_BIN}; run scripts/install-test-deps.sh`)
  }
  return await chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  })
}

/** A context with its own empty profile, as a new user would have. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  return await browser.newContext({ viewport: { width: 1400, height: 900 } })
}

export function screenshotDir(): string {
  const dir = process.env.ISOGATE_SCREENSHOTS ?? join(process.cwd(), 'test-output', 'screenshots')
  return dir
}

export function tempProfile(): string {
  return mkdtempSync(join(tmpdir(), 'isogate-chromium-'))
}

/**
 * Page-level timings in Debian's Chromium (playwright-core), each in a fresh context (an empty
 * cache, as a first visit): time until OHIF shows the first image of the study, and time until
 * the MPR layout has every slice of the volume and draws it. Timed from the navigation's start.
 */
import type { Browser, Page } from 'playwright-core'

import { newContext } from '../test/helpers/chromium.js'

/** How many viewport canvases show something other than black (OHIF's empty viewport). */
async function litCanvases(page: Page): Promise<number> {
  return await page.evaluate(() => {
    const probe = document.createElement('canvas')
    probe.width = 32
    probe.height = 32
    const context = probe.getContext('2d', { willReadFrequently: true })
    if (!context) return 0
    let lit = 0
    for (const canvas of Array.from(document.querySelectorAll('canvas'))) {
      if (canvas.width < 64 || canvas.height < 64) continue
      context.clearRect(0, 0, 32, 32)
      context.drawImage(canvas, 0, 0, 32, 32)
      const pixels = context.getImageData(0, 0, 32, 32).data
      for (let p = 0; p < pixels.length; p += 4) {
        if (pixels[p]! + pixels[p + 1]! + pixels[p + 2]! > 60) {
          lit++
          break
        }
      }
    }
    return lit
  })
}

export interface PageTiming {
  readonly ms: number
  readonly frames: number
}

async function timed(
  browser: Browser,
  url: string,
  done: (page: Page, frames: number) => Promise<boolean>,
  timeoutMs: number,
): Promise<PageTiming> {
  const context = await newContext(browser)
  try {
    const page = await context.newPage()
    const frames = new Set<string>()
    page.on('requestfinished', (request) => {
      if (/\/frames\/\d/.test(request.url())) frames.add(request.url())
    })
    const started = Date.now()
    await page.goto(url, { waitUntil: 'commit', timeout: timeoutMs })
    const deadline = started + timeoutMs
    for (;;) {
      if (await done(page, frames.size)) return { ms: Date.now() - started, frames: frames.size }
      if (Date.now() > deadline) {
        throw new Error(`${url}: not done after ${timeoutMs} ms (${frames.size} frames)`)
      }
      await new Promise((r) => setTimeout(r, 40))
    }
  } finally {
    await context.close()
  }
}

/** OHIF's basic viewer on the study, until one viewport shows an image. */
export async function timeToFirstImage(
  browser: Browser,
  viewerUrl: string,
  studyUid: string,
  timeoutMs = 90_000,
): Promise<PageTiming> {
  const url = `${viewerUrl}viewer?StudyInstanceUIDs=${studyUid}`
  return await timed(browser, url, async (page) => (await litCanvases(page)) >= 1, timeoutMs)
}

/**
 * OHIF's MPR hanging protocol on the study, until every slice's frame has arrived and the
 * three planes are drawn.
 */
export async function timeToMpr(
  browser: Browser,
  viewerUrl: string,
  studyUid: string,
  slices: number,
  timeoutMs = 120_000,
): Promise<PageTiming> {
  const url = `${viewerUrl}viewer?StudyInstanceUIDs=${studyUid}&hangingprotocolId=mpr`
  return await timed(
    browser,
    url,
    async (page, frames) => frames >= slices && (await litCanvases(page)) >= 3,
    timeoutMs,
  )
}

/**
 * `isolation: 'credentialless'` against the default `require-corp`, in Debian's Chromium
 * (issue 6, browser-rules R-SUB-2, R-SUB-3, R-COEP-4): the served viewer is isolated either way;
 * a cross-origin `<img>` whose server sends no CORP loads under credentialless (fetched without
 * its cookies) and is blocked under require-corp, where only CORP lets it in.
 *
 * One image server answers on two origins: `http://localhost:PORT` is another site than the
 * gateways' `http://127.0.0.1:…`; `http://127.0.0.1:PORT` is the same site on another port, so
 * its cookie is first-party and shows what credentialless leaves out.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { deflateSync } from 'node:zlib'

import type { Browser, BrowserContext, Page } from 'playwright-core'

import type { RunningGateway } from '../../src/gateway/start.js'
import {
  launchForEmbedding,
  newContext,
  startDemoGateway,
  startPageServer,
  type PageServer,
} from './embed-kit.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-credentialless-'))

/** A valid PNG of `size`×`size` grey pixels. */
function png(size: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 0, 0, 0, 0], 8) // 8-bit greyscale
  const rows = Buffer.alloc(size * (size + 1), 0x80)
  for (let y = 0; y < size; y++) rows[y * (size + 1)] = 0 // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff
  for (const byte of bytes) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

interface ImageResult {
  readonly isolated: boolean
  readonly loaded: boolean
  readonly width: number
}

/** Adds `<img src>` to the page and reports whether it loaded. */
async function loadImage(page: Page, src: string): Promise<ImageResult> {
  return await page.evaluate(async (url) => {
    const image = document.createElement('img')
    const loaded = await new Promise<boolean>((resolve) => {
      image.onload = () => resolve(true)
      image.onerror = () => resolve(false)
      image.src = url
      document.body.append(image)
    })
    return { isolated: self.crossOriginIsolated, loaded, width: image.naturalWidth }
  }, src)
}

describe('credentialless and require-corp with a cross-origin image', () => {
  /** The image server, on another site (localhost vs the gateways' 127.0.0.1). */
  let images: PageServer
  /** The same server as a same-site, cross-origin origin. */
  let sameSite: string
  let credentialless: RunningGateway
  let requireCorp: RunningGateway
  let browser: Browser
  const picture = png(16)

  before(async () => {
    images = await startPageServer((_req, res, url) => {
      if (url.pathname === '/login') {
        // A cookie the image server would get back on every credentialed request.
        res
          .writeHead(200, {
            'content-type': 'text/plain',
            'set-cookie': 'session=s3cret; Path=/; SameSite=Lax',
          })
          .end('signed in')
        return
      }
      const headers: Record<string, string> = { 'content-type': 'image/png' }
      const corp = url.searchParams.get('corp')
      if (corp) headers['cross-origin-resource-policy'] = corp
      res.writeHead(200, headers).end(picture)
    })
    sameSite = `http://127.0.0.1:${images.port}`
    credentialless = await startDemoGateway(state, { isolation: 'credentialless' })
    requireCorp = await startDemoGateway(state, { isolation: 'require-corp' })
    browser = await launchForEmbedding()
  })

  after(async () => {
    await browser?.close()
    await credentialless?.close()
    await requireCorp?.close()
    await images?.close()
    rmSync(state, { recursive: true, force: true })
  })

  /** A fresh profile that holds the image server's cookie, on the viewer of `gateway`. */
  async function viewerPage(gateway: RunningGateway): Promise<[BrowserContext, Page]> {
    const context = await newContext(browser)
    const page = await context.newPage()
    await page.goto(`${sameSite}/login`)
    const cookies = await context.cookies(sameSite)
    assert.ok(
      cookies.some((c) => c.name === 'session'),
      'the image server set its cookie',
    )
    const response = await page.goto(`${gateway.origin}/`)
    assert.equal(response?.status(), 200)
    await page.waitForFunction(
      () => (document.querySelector('#root')?.childElementCount ?? 0) > 0,
      null,
      { timeout: 60_000 },
    )
    return [context, page]
  }

  /** The requests the image server saw for `path`, with the Cookie header when one came. */
  const seenFor = (path: string) => images.seen.filter((line) => line.startsWith(`GET ${path}`))

  it('credentialless: viewer isolated; images without CORP load, sent cookieless', async () => {
    const [context, page] = await viewerPage(credentialless)
    try {
      const document = await page.request.get(`${credentialless.origin}/`)
      const coep = document.headers()['cross-origin-embedder-policy'] ?? ''
      assert.equal(coep.split(';')[0], 'credentialless')
      const crossSite = await loadImage(page, `${images.origin}/cl-site.png`)
      assert.deepEqual(crossSite, { isolated: true, loaded: true, width: 16 })
      const crossOrigin = await loadImage(page, `${sameSite}/cl-origin.png`)
      assert.deepEqual(crossOrigin, { isolated: true, loaded: true, width: 16 })
      // Not the image server's cookie, nor the viewer's own (OHIF sets one on this host).
      assert.deepEqual(seenFor('/cl-origin.png'), ['GET /cl-origin.png'], 'no cookie sent')
    } finally {
      await context.close()
    }
  })

  it('require-corp: both blocked (cookie sent, answer refused); CORP admits one', async () => {
    const [context, page] = await viewerPage(requireCorp)
    try {
      const crossSite = await loadImage(page, `${images.origin}/rc-site.png`)
      assert.deepEqual(crossSite, { isolated: true, loaded: false, width: 0 })
      const crossOrigin = await loadImage(page, `${sameSite}/rc-origin.png`)
      assert.deepEqual(crossOrigin, { isolated: true, loaded: false, width: 0 })
      // The request went out with its cookie; the browser refused the answer (no CORP).
      const sent = seenFor('/rc-origin.png')
      assert.equal(sent.length, 1)
      assert.match(sent[0] ?? '', /cookie=.*\bsession=s3cret/)

      const allowed = await loadImage(page, `${images.origin}/rc-corp.png?corp=cross-origin`)
      assert.deepEqual(allowed, { isolated: true, loaded: true, width: 16 })
    } finally {
      await context.close()
    }
  })
})

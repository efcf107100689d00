/**
 * The status page and the violation-report collector with real servers and Debian's Chromium:
 * a page served report-only is not isolated, its COEP violation (a cross-origin <img> without
 * CORP from a second loopback server) reaches the collector and shows on the status page; the
 * page itself is isolated under the enforced plan; and access is decided by the TCP peer
 * alone, never by X-Forwarded-For.
 *
 * Chromium 156 uploads Reporting API reports only from https pages: over http://127.0.0.1 the
 * page's ReportingObserver sees the report, but nothing is sent. The test pins that down, since
 * the docs and the start-up text tell users to serve https to collect reports.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { chromium, type Browser, type Page } from 'playwright-core'

import { intentOf, validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import { createGateway } from '../../src/gateway/server.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { createStatusPart, reportingEndpoint } from '../../src/gateway/status/index.js'
import { statusSchema } from '../../src/gateway/status/schema.js'
import { silentLogger } from '../../src/log.js'
import { planHeaders } from '../../src/policy/plan.js'
import {
  CHROMIUM_ARGS,
  CHROMIUM_BIN,
  launchChromium,
  newContext,
  screenshotDir,
} from '../helpers/chromium.js'
import { waitFor } from '../helpers/ports.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-status-'))
const site = join(state, 'site')
mkdirSync(screenshotDir(), { recursive: true })

/** A 1×1 PNG, served with no Cross-Origin-Resource-Policy. */
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ' +
    'AAAABJRU5ErkJggg==',
  'base64',
)

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** GET with the peer address and headers exactly as given (no proxy, no client magic). */
function get(
  url: string,
  headers: Record<string, string> = {},
  extra: https.RequestOptions = {},
): Promise<Reply> {
  const target = new URL(url)
  const client = target.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const request = client.request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port,
        path: target.pathname,
        headers,
        ...extra,
      },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (c: string) => (body += c))
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        )
      },
    )
    request.on('error', reject)
    request.end()
  })
}

async function gateway(input: Record<string, unknown>): Promise<RunningGateway> {
  return await startGateway(
    validateConfig({
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: state,
      viewer: { root: site },
      sources: [{ name: 'remote', mode: 'direct', url: 'https://dicom.example.test/dicom-web' }],
      ...input,
    } as IsogateConfigInput),
  )
}

/** Reports the page's own ReportingObserver holds (it sees them even when none is uploaded). */
async function observedReports(page: Page): Promise<string[]> {
  return await page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const observer = new ReportingObserver((list) => resolve(list.map((r) => r.type)), {
          buffered: true,
        })
        observer.observe()
        setTimeout(() => resolve([]), 3000)
      }),
  )
}

after(() => rmSync(state, { recursive: true, force: true }))

describe('violation reports in Chromium', () => {
  let images: http.Server
  let imageOrigin: string
  let browser: Browser
  let secure: RunningGateway
  let plain: RunningGateway

  before(async () => {
    images = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' })
      response.end(PIXEL)
    })
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve))
    imageOrigin = `http://127.0.0.1:${(images.address() as AddressInfo).port}`
    mkdirSync(site, { recursive: true })
    writeFileSync(
      join(site, 'index.html'),
      `<!doctype html><title>report-only probe</title>
<img id="probe" src="${imageOrigin}/pixel.png" alt="probe">`,
    )
    secure = await gateway({ isolation: 'report-only', tls: 'auto' })
    plain = await gateway({ isolation: 'report-only' })
    browser = await launchChromium({
      args: [`--ignore-certificate-errors-spki-list=${secure.tls?.spkiSha256 ?? ''}`],
    })
  })

  after(async () => {
    await browser?.close()
    await secure?.close()
    await plain?.close()
    await new Promise((resolve) => images?.close(resolve))
  })

  it('report-only: not isolated, the COEP violation arrives and shows with its fix', async () => {
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const plainPage = await context.newPage()
      const response = await page.goto(secure.url)
      assert.equal(
        await response?.headerValue('cross-origin-embedder-policy-report-only'),
        'require-corp; report-to="isogate"',
      )
      assert.equal(await response?.headerValue('cross-origin-embedder-policy'), null)
      assert.equal(
        await response?.headerValue('reporting-endpoints'),
        'isogate="/__isogate/reports"',
      )
      await plainPage.goto(plain.url)

      const facts = await page.evaluate(() => ({
        isolated: self.crossOriginIsolated,
        sab: typeof SharedArrayBuffer,
        imageLoaded: (document.getElementById('probe') as HTMLImageElement).naturalWidth === 1,
      }))
      // Report-only enforces nothing: not isolated, and the image still loads.
      assert.deepEqual(facts, { isolated: false, sab: 'undefined', imageLoaded: true })

      // Chromium batches uploads; a few seconds in practice.
      const started = Date.now()
      const report = await waitFor(
        async () => secure.status.ring.snapshot().items.find((i) => i.kind === 'coep'),
        'the COEP report at the collector',
        60_000,
      )
      const waited = Date.now() - started
      assert.equal(report.detail, 'corp')
      assert.equal(report.disposition, 'reporting')
      assert.equal(report.blockedUrl, `${imageOrigin}/pixel.png`)
      assert.equal(report.destination, 'image')
      assert.equal(new URL(report.documentUrl).origin, secure.origin)
      assert.match(report.fix, /Cross-Origin-Resource-Policy: cross-origin/)

      // The same violation on http://127.0.0.1: seen by the page, never uploaded.
      assert.deepEqual(await observedReports(plainPage), ['coep'])
      await new Promise((resolve) => setTimeout(resolve, Math.max(5_000, waited)))
      assert.equal(plain.status.ring.snapshot().counters.received, 0)

      // status.json (over https, trusting the generated certificate) lists it too.
      const json = await get(`${secure.statusUrl}status.json`, {}, { ca: secure.tls?.cert })
      const status = statusSchema.parse(JSON.parse(json.body))
      assert.equal(status.isolation.isolated, false)
      assert.ok(status.reports.items.some((i) => i.blockedUrl === `${imageOrigin}/pixel.png`))
      assert.equal(status.tls?.spkiSha256, secure.tls?.spkiSha256)

      const statusPage = await context.newPage()
      await statusPage.goto(secure.statusUrl)
      const text = await statusPage.locator('body').innerText()
      assert.match(text, /report-only: not isolated, violations reported/)
      assert.ok(text.includes(`${imageOrigin}/pixel.png`))
      assert.match(text, /without Cross-Origin-Resource-Policy/)
      assert.match(text, /SPKI SHA-256/)
      assert.match(text, /certutil -d sql:\$HOME\/\.pki\/nssdb -A -t "P,,"/)
      await statusPage.screenshot({
        path: join(screenshotDir(), 'status-report-only.png'),
        fullPage: true,
      })
    } finally {
      await context.close()
    }
  })

  it('the Debian/Ubuntu trust steps, run as written, make Chromium trust it', async () => {
    const steps = secure.status.status().tls?.trust[0]?.steps ?? []
    const commands = steps.filter((step) => /^(mkdir|certutil) /.test(step))
    assert.equal(commands.length, 2, steps.join('\n'))
    const home = mkdtempSync(join(state, 'home-'))
    for (const command of commands) {
      execFileSync('sh', ['-c', command], { env: { ...process.env, HOME: home } })
    }
    // A Chromium without the SPKI switch, whose user has the certificate in the NSS database.
    const trusting = await chromium.launch({
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: CHROMIUM_ARGS,
      env: { ...process.env, HOME: home },
    })
    const untrusting = await launchChromium()
    try {
      const page = await (await newContext(trusting)).newPage()
      const response = await page.goto(secure.statusUrl.replace('127.0.0.1', 'localhost'))
      assert.equal(response?.status(), 200)
      const other = await (await newContext(untrusting)).newPage()
      await assert.rejects(other.goto(secure.statusUrl), /ERR_CERT_AUTHORITY_INVALID/)
    } finally {
      await trusting.close()
      await untrusting.close()
    }
  })

  it('enforced: the status page itself is a cross-origin isolated document', async () => {
    const enforced = await gateway({})
    const context = await newContext(browser)
    try {
      const page = await context.newPage()
      const response = await page.goto(enforced.statusUrl)
      assert.equal(response?.status(), 200)
      assert.equal(
        await response?.headerValue('cross-origin-opener-policy'),
        'same-origin; report-to="isogate"',
      )
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
      assert.match(await page.locator('h1').innerText(), /Isogate status/)
      await page.screenshot({ path: join(screenshotDir(), 'status-page.png'), fullPage: true })
    } finally {
      await context.close()
      await enforced.close()
    }
  })
})

describe('who may read the status page', () => {
  it('bound on 127.0.0.1: read directly, not through a proxy that forwards', async () => {
    const gw = await gateway({})
    try {
      const direct = await get(`${gw.statusUrl}status.json`)
      assert.equal(direct.status, 200)
      statusSchema.parse(JSON.parse(direct.body))
      // A loopback peer forwarding for someone (a balancer on this machine) is refused: every
      // client behind it would otherwise look local. X-Real-IP alone is not a proxy's mark.
      const proxied: Array<Record<string, string>> = [
        { 'x-forwarded-for': '203.0.113.9' },
        { forwarded: 'for=x' },
      ]
      for (const forged of proxied) {
        const reply = await get(`${gw.statusUrl}status.json`, forged)
        assert.equal(reply.status, 403, JSON.stringify(forged))
      }
      assert.equal((await get(`${gw.statusUrl}`, { 'x-real-ip': '203.0.113.9' })).status, 200)
    } finally {
      await gw.close()
    }
  })

  it('bound on ::1 and on a second loopback address, with allowRemote false', async () => {
    for (const host of ['::1', '127.0.0.2']) {
      const gw = await gateway({ listen: { host, port: 0 }, status: { allowRemote: false } })
      try {
        assert.equal((await get(`${gw.statusUrl}`)).status, 200, host)
        assert.equal((await get(`${gw.statusUrl}healthz`)).status, 200, host)
      } finally {
        await gw.close()
      }
    }
  })

  it('a peer without a loopback address is refused, even claiming 127.0.0.1', async () => {
    // On loopback alone a non-loopback TCP peer cannot be made; a Unix socket (how a gateway
    // sits behind a local proxy) gives a real peer with no address at all.
    const config = validateConfig({ stateDir: state })
    const plan = planHeaders(intentOf(config, reportingEndpoint('/')))
    const part = createStatusPart({
      config,
      plan,
      sources: [],
      viewer: undefined,
      tls: undefined,
      where: () => ({ url: 'http://localhost/', origin: 'http://localhost' }),
    })
    const app = await createGateway({ plan, logger: silentLogger(), mounts: [part.mount] })
    const socketPath = join(state, 'gateway.sock')
    await app.listen({ path: socketPath })
    try {
      const ask = (path: string, headers: Record<string, string>) =>
        new Promise<Reply>((resolve, reject) => {
          const request = http.request({ socketPath, path, headers }, (response) => {
            let body = ''
            response.on('data', (c: Buffer) => (body += c.toString('utf8')))
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
            )
          })
          request.on('error', reject)
          request.end()
        })
      const refused = await ask('/__isogate/status.json', { 'x-forwarded-for': '127.0.0.1' })
      assert.equal(refused.status, 403)
      assert.equal(JSON.parse(refused.body).error, 'ISOGATE_E_GATEWAY_FORBIDDEN')
      assert.equal(
        refused.headers['cross-origin-opener-policy'],
        'same-origin; report-to="isogate"',
      )
      assert.equal((await ask('/__isogate/', { forwarded: 'for=127.0.0.1' })).status, 403)
      assert.equal((await ask('/__isogate/healthz', {})).status, 200)
    } finally {
      await app.close()
    }
  })
})

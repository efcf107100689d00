/**
 * Scale-out, proven by losing one of each: PostgreSQL, two Orthanc processes sharing it (index
 * and storage), two Isogate gateways each pooling both Orthancs, and nginx balancing the
 * gateways with the site `isogate recipe nginx-balance` renders, all on loopback, all started
 * and stopped here by PID. Under ~20 s of steady load (autocannon) one Orthanc is killed, then
 * one gateway (SIGKILL both). Replies that failed before streaming (non-2xx, timeouts) must be
 * zero; replies cut mid-stream are counted and reported. Then Chromium loads the study list
 * through nginx with one of each still dead, and the pool takes the Orthanc back once it
 * returns.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import type { MemberStatus } from '../../src/dicomweb/proxy/pool.js'
import { renderRecipe } from '../../src/recipes/index.js'
import { launchChromium, newContext, screenshotDir } from '../helpers/chromium.js'
import { PYDICOM_FILES } from '../helpers/dicom-volume.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { nginxMainConf, startNginx, type RunningServer } from '../helpers/recipe-servers.js'
import {
  startGatewayProcess,
  startPgOrthanc,
  startPostgres,
  type GatewayProcess,
  type PgOrthanc,
  type Postgres,
} from '../helpers/scale-cluster.js'

/** The part of autocannon's API used here (it ships no types). */
interface LoadResult {
  requests: { total: number }
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
}
type Autocannon = (
  options: {
    url: string
    connections: number
    duration: number
    timeout: number
    requests: Array<{ path: string; headers?: Record<string, string> }>
  },
  done: (error: Error | null, result: LoadResult) => void,
) => { on(event: 'response', cb: (client: unknown, status: number) => void): void }
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const LOAD_SECONDS = 20
const CONNECTIONS = 8
const KILL_ORTHANC_AT_MS = 5_000
const KILL_GATEWAY_AT_MS = 10_000

const dir = mkdtempSync(join(tmpdir(), 'isogate-scale-'))

interface Uids {
  study: string
  series: string
  instance: string
}

async function gatewayUpstreams(gateway: GatewayProcess): Promise<MemberStatus[]> {
  const response = await fetch(`${gateway.origin}/__isogate/status.json`)
  const status = (await response.json()) as {
    sources: Array<{ name: string; details: { upstreams?: MemberStatus[] } }>
  }
  return status.sources.find((s) => s.name === 'pacs')?.details.upstreams ?? []
}

describe('scale-out: two Orthancs on PostgreSQL, two gateways, nginx', { timeout: 180_000 }, () => {
  let pg: Postgres | undefined
  const orthancs: PgOrthanc[] = []
  const gateways: GatewayProcess[] = []
  let nginx: RunningServer | undefined
  let base = ''
  let uids: Uids

  before(async () => {
    pg = await startPostgres()
    orthancs.push(await startPgOrthanc(pg, 'orthanc-a'), await startPgOrthanc(pg, 'orthanc-b'))
    // Stored through one Orthanc, read through the other: one index, one storage area.
    await orthancs[0]!.upload(readFileSync(join(PYDICOM_FILES, 'CT_small.dcm')))
    const seen = await fetch(`${orthancs[1]!.dicomWebRoot}/studies`)
    const studies = (await seen.json()) as Array<Record<string, { Value?: string[] }>>
    assert.equal(studies.length, 1, 'the second Orthanc sees the study the first one stored')
    const study = studies[0]!['0020000D']!.Value![0]!
    const seriesReply = await fetch(`${orthancs[1]!.dicomWebRoot}/studies/${study}/series`)
    const series = ((await seriesReply.json()) as typeof studies)[0]!['0020000E']!.Value![0]!
    const instancesUrl = `${orthancs[1]!.dicomWebRoot}/studies/${study}/series/${series}/instances`
    const instances = (await (await fetch(instancesUrl)).json()) as typeof studies
    uids = { study, series, instance: instances[0]!['00080018']!.Value![0]! }

    const nginxPort = await freePort()
    base = `http://127.0.0.1:${nginxPort}`
    const ports = [await freePort(), await freePort()]
    const state = join(dir, 'state')
    mkdirSync(state, { recursive: true })
    // One config for both but the port; the state folder is shared (docs/scale.md).
    const started = await Promise.all(
      ports.map((port, i) =>
        startGatewayProcess(
          {
            listen: { host: '127.0.0.1', port },
            publicUrl: `${base}/`,
            stateDir: state,
            sources: [
              {
                name: 'pacs',
                mode: 'proxy',
                kind: 'orthanc',
                upstream: orthancs.map((o) => o.dicomWebRoot),
                timeoutMs: 10_000,
                healthCheckMs: 1_000,
              },
            ],
          },
          dir,
          `gateway-${i + 1}`,
        ),
      ),
    )
    gateways.push(...started)

    const output = renderRecipe('nginx-balance', {
      host: '127.0.0.1',
      port: nginxPort,
      serverName: '127.0.0.1',
      gateways: gateways.map((g) => `127.0.0.1:${g.port}`),
    } as Parameters<typeof renderRecipe>[1])
    const site = join(dir, 'isogate-balance.conf')
    writeFileSync(site, output.files[0]!.content)
    nginx = await startNginx(dir, nginxMainConf(dir, site), nginxPort)
  })

  after(async () => {
    await nginx?.stop()
    await Promise.allSettled(gateways.map((g) => g.stop()))
    await Promise.allSettled(orthancs.map((o) => o.stop()))
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('loses one Orthanc and one gateway under load: nothing fails before streaming', async (t) => {
    const { study, series, instance } = uids
    const studyPath = `/dicomweb/pacs/studies/${study}`
    const requests = [
      { path: '/dicomweb/pacs/studies?limit=25', headers: { accept: 'application/dicom+json' } },
      { path: `${studyPath}/series`, headers: { accept: 'application/dicom+json' } },
      { path: `${studyPath}/series/${series}/metadata` },
      {
        path: `${studyPath}/series/${series}/instances/${instance}/frames/1`,
        headers: {
          accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
        },
      },
    ]
    const events: string[] = []
    const t0 = Date.now()
    const at = (what: string) => events.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`)
    const kills = (async () => {
      await new Promise((r) => setTimeout(r, KILL_ORTHANC_AT_MS))
      await orthancs[0]!.kill()
      at(`orthanc-a killed (SIGKILL)`)
      await new Promise((r) => setTimeout(r, KILL_GATEWAY_AT_MS - KILL_ORTHANC_AT_MS))
      await gateways[0]!.kill()
      at(`gateway-1 killed (SIGKILL)`)
    })()
    const statuses = new Map<number, number>()
    const result = await new Promise<LoadResult>((resolve, reject) => {
      const instance = autocannon(
        {
          url: base,
          connections: CONNECTIONS,
          duration: LOAD_SECONDS,
          timeout: 10,
          requests,
        },
        (error, out) => (error ? reject(error) : resolve(out)),
      )
      instance.on('response', (_client, status) =>
        statuses.set(status, (statuses.get(status) ?? 0) + 1),
      )
    })
    await kills
    const cut = result.errors
    t.diagnostic(`events: ${events.join('; ')}`)
    t.diagnostic(
      `load: ${result.requests.total} requests in ${LOAD_SECONDS} s, ` +
        `2xx ${result['2xx']}, non-2xx ${result.non2xx}, timeouts ${result.timeouts}, ` +
        `errors (cut mid-stream) ${cut}; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    )
    assert.ok(result.requests.total > 200, `only ${result.requests.total} requests`)
    assert.equal(
      result.non2xx,
      0,
      'requests failed before streaming (non-2xx); the gateways logged:\n' +
        gateways.map((g, i) => `gateway-${i + 1}: ${g.log().slice(-1500)}`).join('\n'),
    )
    assert.equal(result.timeouts, 0, 'requests timed out')
    // Only a reply in flight at a kill can be cut: at most one per connection per kill.
    assert.ok(cut <= 2 * CONNECTIONS, `${cut} replies cut mid-stream`)

    const upstreams = await gatewayUpstreams(gateways[1]!)
    assert.equal(upstreams[0]?.state, 'down', 'the killed Orthanc is out of the pool')
    assert.equal(upstreams[1]?.state, 'up')
    t.diagnostic(`gateway-2 upstreams after the kills: ${JSON.stringify(upstreams)}`)
  })

  it('Chromium lists the study through nginx, one Orthanc and one gateway dead', async () => {
    const browser = await launchChromium()
    try {
      const context = await newContext(browser)
      const page = await context.newPage()
      const failed: string[] = []
      page.on('response', (r) => {
        if (r.url().startsWith(base) && r.status() >= 400) failed.push(`${r.status()} ${r.url()}`)
      })
      page.on('requestfailed', (r) => {
        if (r.url().startsWith(base)) failed.push(`failed ${r.url()}`)
      })
      await page.goto(`${base}/`, { waitUntil: 'load', timeout: 60_000 })
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
      // pydicom's CT_small is patient "CompressedSamples^CT1".
      await page.waitForSelector('text=/CompressedSamples/i', { timeout: 90_000 })
      mkdirSync(screenshotDir(), { recursive: true })
      await page.screenshot({ path: join(screenshotDir(), 'scale-study-list.png') })
      assert.deepEqual(failed, [])
      await context.close()
    } finally {
      await browser.close()
    }
  })

  it('the pool takes the Orthanc back when it returns', async () => {
    await orthancs[0]!.restart()
    const back = await waitFor(
      async () => {
        const upstreams = await gatewayUpstreams(gateways[1]!)
        return upstreams[0]?.state === 'up' ? upstreams : undefined
      },
      'orthanc-a back in gateway-2 pool',
      20_000,
    )
    const before = back[0]!.requests
    for (let i = 0; i < 6; i++) {
      const reply = await fetch(`${base}/dicomweb/pacs/studies`)
      assert.equal(reply.status, 200)
      await reply.arrayBuffer()
    }
    const now = await gatewayUpstreams(gateways[1]!)
    assert.ok(now[0]!.requests >= before + 2, `orthanc-a got ${now[0]!.requests - before} of 6`)
  })
})

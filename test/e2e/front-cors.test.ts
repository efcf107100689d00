/**
 * `isogate front` in front of the real Orthanc, started as the command starts it: preflights
 * with OHIF's quoted Accept answered by Isogate itself, listed and unlisted origins, the
 * credentials rules, and CORS plus CORP on error replies (404 from the upstream, 502 when down).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { frontConfig, FRONT_SOURCE, type FrontFlags } from '../../src/cli/front.js'
import type { ProxyDataSource } from '../../src/dicomweb/proxy/index.js'
import { IsogateError } from '../../src/errors.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { PYDICOM_FILES } from '../helpers/dicom-volume.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import { freePort } from '../helpers/ports.js'
import { header, request, type Reply } from './proxy-kit.js'

const VIEWER = 'http://localhost:3000'
const OTHER = 'http://127.0.0.1:3001'
const QUOTED_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'

async function front(flags: Partial<FrontFlags>): Promise<RunningGateway> {
  return await startGateway(frontConfig({ port: '0', ...flags }), {
    viewer: false,
    rootSource: FRONT_SOURCE,
  })
}

function assertCorp(reply: Reply): void {
  assert.equal(header(reply, 'cross-origin-resource-policy'), 'cross-origin')
}

function varyHasOrigin(reply: Reply): boolean {
  return /(^|,\s*)origin(\s*,|$)/i.test(header(reply, 'vary') ?? '')
}

describe('front: CORS for an allowlist', { timeout: 120_000 }, () => {
  let orthanc: OrthancServer
  let gateway: RunningGateway
  let withCredentials: RunningGateway
  let down: RunningGateway
  let study: string

  before(async () => {
    orthanc = await startOrthanc()
    await orthanc.upload(join(PYDICOM_FILES, 'CT_small.dcm'))
    gateway = await front({
      upstream: orthanc.dicomWebRoot,
      allowOrigin: [VIEWER],
      kind: 'orthanc',
    })
    withCredentials = await front({
      upstream: orthanc.dicomWebRoot,
      allowOrigin: [VIEWER],
      credentials: true,
    })
    down = await front({
      upstream: `http://127.0.0.1:${await freePort()}/dicom-web`,
      allowOrigin: [VIEWER],
    })
    const studies = JSON.parse(
      (await request(gateway.origin, '/studies')).body.toString(),
    ) as Array<Record<string, { Value?: string[] }>>
    study = studies[0]?.['0020000D']?.Value?.[0] as string
    assert.ok(study)
  })

  after(async () => {
    for (const g of [gateway, withCredentials, down]) await g?.close()
    await orthanc?.stop()
  })

  it('serves the upstream root at its own root, URLs rewritten to the front', async () => {
    const reply = await request(gateway.origin, '/studies', { origin: VIEWER })
    assert.equal(reply.status, 200)
    const text = reply.body.toString()
    assert.ok(text.includes(`${gateway.origin}/studies/${study}`), text.slice(0, 400))
    assert.ok(!text.includes(orthanc.url))
    assert.equal(header(reply, 'access-control-allow-origin'), VIEWER)
    assert.ok(varyHasOrigin(reply))
    assert.match(header(reply, 'access-control-expose-headers') ?? '', /content-location/)
    assert.equal(header(reply, 'access-control-allow-credentials'), undefined)
    assertCorp(reply)
  })

  it('answers the preflight for the quoted Accept itself, with 204', async () => {
    const source = gateway.sources[0] as ProxyDataSource
    const before = source.upstream.stats.requests
    const reply = await request(
      gateway.origin,
      `/studies/${study}/series/1.2/instances/3.4/frames/1`,
      {
        origin: VIEWER,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'accept,authorization,range',
      },
      'OPTIONS',
    )
    assert.equal(reply.status, 204)
    assert.equal(header(reply, 'access-control-allow-origin'), VIEWER)
    const allowed = (header(reply, 'access-control-allow-headers') ?? '').split(/,\s*/)
    for (const name of ['accept', 'authorization', 'range']) assert.ok(allowed.includes(name), name)
    assert.match(header(reply, 'access-control-allow-methods') ?? '', /\bGET\b/)
    assert.equal(header(reply, 'access-control-max-age'), '7200')
    assert.ok(varyHasOrigin(reply))
    assertCorp(reply)
    assert.equal(source.upstream.stats.requests, before, 'the preflight reached the upstream')
    // And the actual request with that Accept then works.
    const get = await request(gateway.origin, `/studies/${study}/series`, {
      origin: VIEWER,
      accept: QUOTED_ACCEPT.replace('octet-stream', 'dicom+json'),
    })
    assert.equal(header(get, 'access-control-allow-origin'), VIEWER)
  })

  it('does not reflect an unlisted origin, in preflights or requests', async () => {
    const preflight = await request(
      gateway.origin,
      '/studies',
      { origin: OTHER, 'access-control-request-method': 'GET' },
      'OPTIONS',
    )
    assert.equal(preflight.status, 403)
    assert.equal(header(preflight, 'access-control-allow-origin'), undefined)
    assert.match(preflight.body.toString(), /ISOGATE_E_PROXY_ORIGIN_REFUSED/)
    const get = await request(gateway.origin, '/studies', { origin: OTHER })
    assert.equal(get.status, 403)
    assert.equal(header(get, 'access-control-allow-origin'), undefined)
    assert.ok(varyHasOrigin(get))
    assertCorp(get)
    const nullOrigin = await request(gateway.origin, '/studies', { origin: 'null' })
    assert.equal(header(nullOrigin, 'access-control-allow-origin'), undefined)
    const noOrigin = await request(gateway.origin, '/studies')
    assert.equal(noOrigin.status, 200)
    assert.equal(header(noOrigin, 'access-control-allow-origin'), undefined)
    assert.ok(varyHasOrigin(noOrigin))
  })

  it('refuses methods other than GET/HEAD/OPTIONS, with CORS on the 405', async () => {
    const reply = await request(gateway.origin, '/studies', { origin: VIEWER }, 'DELETE')
    assert.equal(reply.status, 405)
    assert.equal(header(reply, 'access-control-allow-origin'), VIEWER)
  })

  it('sends credentials only when configured, and never with *', async () => {
    const reply = await request(withCredentials.origin, '/studies', { origin: VIEWER })
    assert.equal(header(reply, 'access-control-allow-origin'), VIEWER)
    assert.equal(header(reply, 'access-control-allow-credentials'), 'true')
    assert.throws(
      () => frontConfig({ upstream: orthanc.dicomWebRoot, allowOrigin: ['*'], credentials: true }),
      (error: unknown) =>
        error instanceof IsogateError && error.code === 'ISOGATE_E_CONFIG_INVALID',
    )
    assert.throws(
      () => frontConfig({ upstream: orthanc.dicomWebRoot }),
      (error: unknown) => error instanceof IsogateError && error.code === 'ISOGATE_E_CLI_USAGE',
    )
  })

  it('keeps CORS and isolation headers on a 404 from the upstream (R-CORS-8)', async () => {
    const reply = await request(gateway.origin, '/studies/1.2.3/metadata', { origin: VIEWER })
    assert.equal(reply.status, 404)
    assert.equal(header(reply, 'access-control-allow-origin'), VIEWER)
    assert.ok(varyHasOrigin(reply))
    assertCorp(reply)
    assert.match(header(reply, 'cross-origin-embedder-policy') ?? '', /^require-corp\b/)
  })

  it('keeps CORS on a 502 when the upstream is down', async () => {
    const reply = await request(down.origin, '/studies', { origin: VIEWER })
    assert.equal(reply.status, 502)
    assert.match(reply.body.toString(), /ISOGATE_E_PROXY_UNREACHABLE/)
    assert.equal(header(reply, 'access-control-allow-origin'), VIEWER)
    assertCorp(reply)
  })
})

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import type { FastifyInstance } from 'fastify'

import { validateConfig } from '../../config/load.js'
import type { DataSource, SourceStatus } from '../../dicomweb/source.js'
import { silentLogger } from '../../log.js'
import { planHeaders } from '../../policy/plan.js'
import { intentOf } from '../../config/load.js'
import { createGateway } from '../server.js'
import { createStatusPart, reportingEndpoint, type StatusPart } from './index.js'
import { MAX_REPORT_BODY_BYTES } from './reports.js'
import { statusSchema } from './schema.js'

/** A source that reports a fixed status: the status part only reads `status()`. */
function source(status: SourceStatus): DataSource {
  return {
    name: status.name,
    mode: status.mode,
    plugin: async () => undefined,
    roots: { qidoRoot: '/', wadoRoot: '/' },
    ohifOptions: {},
    status: () => status,
    close: async () => undefined,
  }
}

const config = validateConfig({
  sources: [
    { name: 'pacs', mode: 'proxy', upstream: ['http://127.0.0.1:8042/dicom-web'] },
    { name: 'cloud', mode: 'direct', url: 'https://dicom.example/dicom-web' },
  ],
})

const sources = [
  source({
    name: 'pacs',
    mode: 'proxy',
    health: 'down',
    lastError: 'upstream http://admin:hunter2@10.0.0.5:8042/dicom-web refused the connection',
    details: {
      upstream: ['http://admin:hunter2@10.0.0.5:8042/dicom-web?access_token=abc'],
      authorization: 'Bearer secret-token',
      repairs: { splitIncludefield: true },
    },
  }),
  source({
    name: 'scans',
    mode: 'embedded',
    health: 'up',
    details: {
      studies: 2,
      series: 3,
      instances: 40,
      skippedCount: 1,
      skipped: [{ path: 'notes/<b>readme</b>.txt', reason: 'not a DICOM file (no DICM prefix)' }],
    },
  }),
]

async function post(app: FastifyInstance, body: string, type = 'application/reports+json') {
  return await app.inject({
    method: 'POST',
    url: '/__isogate/reports',
    headers: { 'content-type': type },
    payload: body,
  })
}

describe('status routes (in-process)', () => {
  let app: FastifyInstance
  let part: StatusPart
  before(async () => {
    const plan = planHeaders(intentOf(config, reportingEndpoint('/')))
    part = createStatusPart({
      config,
      plan,
      sources,
      viewer: undefined,
      tls: undefined,
      where: () => ({ url: 'http://127.0.0.1:8080/', origin: 'http://127.0.0.1:8080' }),
    })
    app = await createGateway({ plan, logger: silentLogger(), mounts: [part.mount] })
  })
  after(async () => await app.close())

  it('status.json follows its schema and hides credentials', async () => {
    const reply = await app.inject({ url: '/__isogate/status.json' })
    assert.equal(reply.statusCode, 200)
    const status = statusSchema.parse(reply.json())
    assert.equal(status.isolation.mode, 'require-corp')
    assert.equal(status.isolation.reportingEndpoint, '/__isogate/reports')
    assert.match(
      status.plan.classes.document?.find((h) => h.name === 'Cross-Origin-Embedder-Policy')?.value ??
        '',
      /^require-corp; report-to="isogate"$/,
    )
    assert.deepEqual(
      status.sources.map((s) => [s.name, s.health]),
      [
        ['pacs', 'down'],
        ['scans', 'up'],
        ['cloud', 'unknown'],
      ],
    )
    assert.doesNotMatch(reply.body, /hunter2|secret-token|access_token=abc/)
    assert.equal(status.sources[0]?.details.authorization, '[redacted]')
    assert.equal(status.ready, true)
  })

  it('a non-loopback peer is refused, whatever X-Forwarded-For claims', async () => {
    for (const url of ['/__isogate/', '/__isogate/status.json', '/__isogate/status.schema.json']) {
      const reply = await app.inject({
        url,
        remoteAddress: '203.0.113.9',
        headers: { 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1', 'x-real-ip': '::1' },
      })
      assert.equal(reply.statusCode, 403, url)
      assert.equal(reply.json().error, 'ISOGATE_E_GATEWAY_FORBIDDEN')
      assert.equal(
        reply.headers['cross-origin-embedder-policy'],
        'require-corp; report-to="isogate"',
      )
      assert.doesNotMatch(reply.body, /hunter2|pacs/)
    }
    // Liveness, readiness and the collector answer everyone.
    for (const url of ['/__isogate/healthz', '/__isogate/readyz']) {
      const reply = await app.inject({ url, remoteAddress: '203.0.113.9' })
      assert.equal(reply.statusCode, 200, url)
    }
  })

  it('a loopback peer forwarding for someone (a local balancer) is refused', async () => {
    for (const headers of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=1.2.3.4' }]) {
      const reply = await app.inject({ url: '/__isogate/', remoteAddress: '127.0.0.1', headers })
      assert.equal(reply.statusCode, 403, JSON.stringify(headers))
      assert.equal(reply.json().error, 'ISOGATE_E_GATEWAY_FORBIDDEN')
    }
    const direct = await app.inject({ url: '/__isogate/', remoteAddress: '127.0.0.1' })
    assert.equal(direct.statusCode, 200)
  })

  it('the page is a document reply, and escapes what reports and sources say', async () => {
    const evil = JSON.stringify([
      {
        type: 'coep',
        url: 'https://127.0.0.1/"><script>alert(1)</script>',
        body: { type: 'corp', blockedURL: 'javascript:<img src=x onerror=alert(2)>' },
      },
    ])
    assert.equal((await post(app, evil)).statusCode, 204)
    const reply = await app.inject({ url: '/__isogate/' })
    assert.equal(reply.statusCode, 200)
    assert.match(String(reply.headers['content-type']), /^text\/html/)
    assert.equal(reply.headers['cross-origin-opener-policy'], 'same-origin; report-to="isogate"')
    assert.equal(reply.headers['cache-control'], 'no-store')
    assert.doesNotMatch(reply.body, /<script>|<img src=x|<b>readme/)
    assert.match(reply.body, /&lt;b&gt;readme&lt;\/b&gt;\.txt/)
    assert.match(reply.body, /not a DICOM file/)
    assert.doesNotMatch(reply.body, /<script/i, 'the page itself runs no script')
  })

  it('refuses bodies over the limit, other media types and floods', async () => {
    const big = await post(app, `[${' '.repeat(MAX_REPORT_BODY_BYTES)}]`)
    assert.equal(big.statusCode, 413)
    assert.equal(big.json().error, 'ISOGATE_E_GATEWAY_TOO_LARGE')
    const text = await post(app, '[]', 'text/plain')
    assert.equal(text.statusCode, 415)
    assert.equal(text.json().error, 'ISOGATE_E_GATEWAY_MEDIA_TYPE')

    const codes: number[] = []
    for (let i = 0; i < 40; i++) codes.push((await post(app, '[]')).statusCode)
    assert.ok(codes.includes(429), 'a flood from one client is cut off')
    const limited = await post(app, '[]')
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.headers['retry-after'], '60')
    const counters = part.status().reports.counters
    assert.equal(counters.tooLarge, 1)
    assert.ok(counters.rateLimited >= 1)
  })
})

describe('readyz', () => {
  it('answers 503 while a source is starting', async () => {
    const plan = planHeaders(intentOf(config))
    const part = createStatusPart({
      config,
      plan,
      sources: [source({ name: 'pacs', mode: 'proxy', health: 'starting', details: {} })],
      viewer: undefined,
      tls: undefined,
      where: () => ({ url: 'http://127.0.0.1:8080/', origin: 'http://127.0.0.1:8080' }),
    })
    const app = await createGateway({ plan, logger: silentLogger(), mounts: [part.mount] })
    try {
      const reply = await app.inject({ url: '/__isogate/readyz' })
      assert.equal(reply.statusCode, 503)
      assert.equal(reply.json().error, 'ISOGATE_E_GATEWAY_NOT_READY')
      assert.equal((await app.inject({ url: '/__isogate/healthz' })).statusCode, 200)
    } finally {
      await app.close()
    }
  })
})

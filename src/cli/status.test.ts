import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { buildStatus } from '../gateway/status/model.js'
import { ReportRing, parseReports } from '../gateway/status/reports.js'
import { statusSchema } from '../gateway/status/schema.js'
import { planHeaders, DEFAULT_INTENT } from '../policy/plan.js'
import { paintFor } from './colour.js'
import { statusJsonUrl, statusText, unhealthy } from './status.js'

describe('statusJsonUrl', () => {
  it('finds status.json from a viewer URL, an origin or the status page', () => {
    assert.equal(
      statusJsonUrl('http://127.0.0.1:8080'),
      'http://127.0.0.1:8080/__isogate/status.json',
    )
    assert.equal(
      statusJsonUrl('https://localhost:8443/viewer/'),
      'https://localhost:8443/viewer/__isogate/status.json',
    )
    assert.equal(
      statusJsonUrl('http://[::1]:9000/viewer/__isogate/'),
      'http://[::1]:9000/viewer/__isogate/status.json',
    )
    assert.throws(() => statusJsonUrl('ftp://x/'), { code: 'ISOGATE_E_CLI_USAGE' })
  })
})

describe('statusText', () => {
  const ring = new ReportRing(() => 0)
  ring.add(
    parseReports(
      JSON.stringify([
        {
          type: 'coep',
          url: 'https://viewer.example/',
          body: { type: 'corp', blockedURL: 'https://cdn.example/a.png', disposition: 'enforce' },
        },
      ]),
    ),
  )
  const status = buildStatus({
    version: '0.1.0',
    startedAt: 0,
    now: 7_200_000,
    viewer: { url: 'https://viewer.example/', basePath: '/', version: '3.13.2', bundled: true },
    origin: 'https://127.0.0.1:8443',
    isolation: 'require-corp',
    plan: planHeaders(DEFAULT_INTENT),
    sources: [
      {
        name: 'scans',
        mode: 'embedded',
        health: 'up',
        details: { studies: 2, series: 3, instances: 40, skippedCount: 1 },
      },
      { name: 'pacs', mode: 'proxy', health: 'down', lastError: 'ECONNREFUSED', details: {} },
    ],
    tls: null,
    reports: ring.snapshot(),
    allowRemote: false,
  })

  it('summarises isolation, sources and reports, plain when not on a terminal', () => {
    statusSchema.parse(status)
    const text = statusText(status, paintFor({ isTTY: false }, {}))
    assert.equal(text.includes('\u001b['), false)
    assert.match(text, /isolation: isolated \(require-corp\)/)
    assert.match(text, /source scans: embedded, up \(2 studies, 3 series, 40 files, 1 skipped\)/)
    assert.match(text, /source pacs: proxy, down — ECONNREFUSED/)
    assert.match(text, /coep corp \(enforced, ×1\): https:\/\/cdn\.example\/a\.png/)
    assert.equal(unhealthy(status), true)
  })

  it('colours only on a terminal, and never with NO_COLOR', () => {
    const coloured = statusText(status, paintFor({ isTTY: true }, {}))
    assert.ok(coloured.includes('\u001b[32mup\u001b[39m'))
    const plain = statusText(status, paintFor({ isTTY: true }, { NO_COLOR: '1' }))
    assert.equal(plain.includes('\u001b['), false)
  })
})

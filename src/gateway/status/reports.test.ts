import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { RateLimiter } from './rate-limit.js'
import { MAX_REPORTS_PER_POST, parseReports, ReportRing } from './reports.js'

/** A Reporting API batch entry as Chromium 156 sends it (copied from a real upload). */
function coep(blockedURL: string, disposition = 'reporting') {
  return {
    age: 104,
    body: { blockedURL, destination: 'image', disposition, type: 'corp' },
    type: 'coep',
    url: 'https://127.0.0.1:41955/viewer?StudyInstanceUIDs=1.2.3',
    user_agent: 'HeadlessChrome/156.0.0.0',
  }
}

describe('parseReports', () => {
  it('reads a Chromium COEP batch and drops queries from URLs', () => {
    const result = parseReports(JSON.stringify([coep('http://127.0.0.1:44275/p.png?sig=abc')]))
    assert.equal(result.reports.length, 1)
    const [report] = result.reports
    assert.equal(report?.kind, 'coep')
    assert.equal(report?.detail, 'corp')
    assert.equal(report?.disposition, 'reporting')
    assert.equal(report?.blockedUrl, 'http://127.0.0.1:44275/p.png?…')
    assert.equal(report?.documentUrl, 'https://127.0.0.1:41955/viewer?…')
  })

  it('reads COOP, csp-violation and the legacy application/csp-report form', () => {
    const batch = [
      {
        type: 'coop',
        url: 'https://viewer.example/',
        body: {
          disposition: 'enforce',
          effectivePolicy: 'same-origin',
          type: 'navigation-to-response',
          previousResponseURL: 'https://idp.example/login',
        },
      },
      {
        type: 'csp-violation',
        url: 'https://viewer.example/',
        body: {
          documentURL: 'https://viewer.example/',
          blockedURL: 'https://viewer.example/',
          effectiveDirective: 'frame-ancestors',
          disposition: 'enforce',
        },
      },
      { type: 'deprecation', url: 'https://viewer.example/', body: { id: 'x' } },
    ]
    const result = parseReports(JSON.stringify(batch))
    assert.deepEqual(
      result.reports.map((r) => [r.kind, r.detail, r.blockedUrl]),
      [
        ['coop', 'navigation-to-response', 'https://idp.example/login'],
        ['csp', 'frame-ancestors', 'https://viewer.example/'],
      ],
    )
    assert.equal(result.ignored, 1)

    const legacy = parseReports(
      JSON.stringify({
        'csp-report': {
          'document-uri': 'https://viewer.example/',
          'blocked-uri': 'https://cdn.example/x.js',
          'violated-directive': 'script-src-elem',
          'original-policy': "script-src 'self'",
        },
      }),
    )
    assert.equal(legacy.reports[0]?.kind, 'csp')
    assert.equal(legacy.reports[0]?.detail, 'script-src-elem')
    assert.equal(legacy.reports[0]?.disposition, 'enforce')
  })

  it('counts garbage instead of throwing, and cuts long batches', () => {
    assert.equal(parseReports('{not json').malformed, 1)
    assert.equal(parseReports('[1, null, {"type": "coep"}]').malformed, 3)
    const many = Array.from({ length: MAX_REPORTS_PER_POST + 5 }, (_, i) =>
      coep(`https://cdn.example/${i}.png`),
    )
    const result = parseReports(JSON.stringify(many))
    assert.equal(result.reports.length, MAX_REPORTS_PER_POST)
    assert.equal(result.truncated, 5)
  })

  it('clips huge strings', () => {
    const result = parseReports(JSON.stringify([coep(`https://cdn.example/${'a'.repeat(9000)}`)]))
    assert.ok((result.reports[0]?.blockedUrl?.length ?? 0) <= 2048)
  })
})

describe('ReportRing', () => {
  it('counts repeats of one violation once, newest first, with a fix', () => {
    let now = Date.parse('2026-01-01T00:00:00Z')
    const ring = new ReportRing(() => now, 3)
    ring.add(parseReports(JSON.stringify([coep('https://cdn.example/a.png')])))
    now += 1000
    ring.add(parseReports(JSON.stringify([coep('https://cdn.example/b.png')])))
    now += 1000
    ring.add(parseReports(JSON.stringify([coep('https://cdn.example/a.png')])))
    const snap = ring.snapshot()
    assert.deepEqual(
      snap.items.map((i) => [i.blockedUrl, i.count]),
      [
        ['https://cdn.example/a.png', 2],
        ['https://cdn.example/b.png', 1],
      ],
    )
    assert.equal(snap.items[0]?.firstSeen, '2026-01-01T00:00:00.000Z')
    assert.equal(snap.items[0]?.lastSeen, '2026-01-01T00:00:02.000Z')
    assert.match(snap.items[0]?.fix ?? '', /Cross-Origin-Resource-Policy: cross-origin/)
    assert.equal(snap.counters.received, 3)
  })

  it('keeps at most `capacity` distinct violations, forgetting the least recent', () => {
    const ring = new ReportRing(() => 0, 3)
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      ring.add(parseReports(JSON.stringify([coep(`https://cdn.example/${name}.png`)])))
    }
    assert.deepEqual(
      ring.snapshot().items.map((i) => i.blockedUrl),
      ['https://cdn.example/e.png', 'https://cdn.example/d.png', 'https://cdn.example/c.png'],
    )
  })

  it('tells enforced from report-only violations apart', () => {
    const ring = new ReportRing(() => 0)
    ring.add(
      parseReports(
        JSON.stringify([
          coep('https://cdn.example/a.png'),
          coep('https://cdn.example/a.png', 'enforce'),
        ]),
      ),
    )
    assert.deepEqual(
      ring.snapshot().items.map((i) => i.disposition),
      ['enforce', 'reporting'],
    )
  })
})

describe('RateLimiter', () => {
  const options = { burst: 3, perMinute: 6, globalPerMinute: 5, maxClients: 2 }

  it('lets a burst through, refuses the rest, refills with time', () => {
    let now = 0
    const limiter = new RateLimiter(options, () => now)
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.take('a')),
      [true, true, true, false],
    )
    now += 10_000 // 6 per minute: one token back every 10 s
    assert.equal(limiter.take('a'), true)
    assert.equal(limiter.take('a'), false)
  })

  it('caps all clients together, so changing address does not help', () => {
    const limiter = new RateLimiter(options, () => 0)
    const results = ['a', 'b', 'c', 'd', 'e', 'f'].map((client) => limiter.take(client))
    assert.deepEqual(results, [true, true, true, true, true, false])
  })
})

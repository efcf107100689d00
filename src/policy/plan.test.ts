import assert from 'node:assert/strict'
import { test } from 'node:test'

import { DEFAULT_INTENT, PLANNED_HEADER_NAMES, RESPONSE_CLASSES, planHeaders } from './plan.js'

const get = (list: ReadonlyArray<readonly [string, string]>, name: string) =>
  list.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v)

test('default plan isolates documents and error replies alike', () => {
  const plan = planHeaders(DEFAULT_INTENT)
  for (const cls of ['document', 'error'] as const) {
    assert.deepEqual(get(plan.classes[cls], 'Cross-Origin-Opener-Policy'), ['same-origin'])
    assert.deepEqual(get(plan.classes[cls], 'Cross-Origin-Embedder-Policy'), ['require-corp'])
    assert.deepEqual(get(plan.classes[cls], 'Cross-Origin-Resource-Policy'), ['same-origin'])
  }
})

test('every script-like class carries COEP so workers may start', () => {
  const plan = planHeaders(DEFAULT_INTENT)
  for (const cls of ['script', 'worker', 'wasm'] as const) {
    assert.deepEqual(get(plan.classes[cls], 'Cross-Origin-Embedder-Policy'), ['require-corp'])
  }
})

test('no class carries a header twice', () => {
  const plan = planHeaders({ ...DEFAULT_INTENT, reportingEndpoint: '/__isogate/reports' })
  for (const cls of RESPONSE_CLASSES) {
    const names = plan.classes[cls].map(([n]) => n.toLowerCase())
    assert.equal(new Set(names).size, names.length, `${cls} repeats a header`)
  }
})

test('isolation off drops COOP and COEP but keeps framing control', () => {
  const plan = planHeaders({ ...DEFAULT_INTENT, isolation: 'off' })
  assert.deepEqual(get(plan.classes.document, 'Cross-Origin-Opener-Policy'), [])
  assert.deepEqual(get(plan.classes.document, 'Cross-Origin-Embedder-Policy'), [])
  assert.deepEqual(get(plan.classes.document, 'Content-Security-Policy'), [
    "frame-ancestors 'self'",
  ])
})

test('a cross-origin embedder turns CORP to cross-origin and drops X-Frame-Options', () => {
  const plan = planHeaders({ ...DEFAULT_INTENT, embedders: ['https://portal.example.org'] })
  assert.deepEqual(get(plan.classes.document, 'Cross-Origin-Resource-Policy'), ['cross-origin'])
  assert.deepEqual(get(plan.classes.document, 'X-Frame-Options'), [])
  assert.deepEqual(get(plan.classes.document, 'Content-Security-Policy'), [
    "frame-ancestors 'self' https://portal.example.org",
  ])
})

test('report-only sends only the Report-Only forms with a reporting endpoint', () => {
  const plan = planHeaders({
    ...DEFAULT_INTENT,
    isolation: 'report-only',
    reportingEndpoint: '/__isogate/reports',
  })
  const doc = plan.classes.document
  assert.deepEqual(get(doc, 'Cross-Origin-Embedder-Policy'), [])
  assert.deepEqual(get(doc, 'Cross-Origin-Embedder-Policy-Report-Only'), [
    'require-corp; report-to="isogate"',
  ])
  assert.deepEqual(get(doc, 'Reporting-Endpoints'), ['isogate="/__isogate/reports"'])
})

test('rendered PDFs carry a bare COEP: a parameter blocks Chromium’s PDF viewer frame', () => {
  const plan = planHeaders({ ...DEFAULT_INTENT, reportingEndpoint: '/__isogate/reports' })
  assert.deepEqual(get(plan.classes.rendered, 'Cross-Origin-Embedder-Policy'), ['require-corp'])
  assert.deepEqual(get(plan.classes.document, 'Cross-Origin-Embedder-Policy'), [
    'require-corp; report-to="isogate"',
  ])
  const cl = planHeaders({ ...DEFAULT_INTENT, isolation: 'credentialless' })
  assert.deepEqual(get(cl.classes.rendered, 'Cross-Origin-Embedder-Policy'), ['credentialless'])
  const off = planHeaders({ ...DEFAULT_INTENT, isolation: 'off' })
  assert.deepEqual(get(off.classes.rendered, 'Cross-Origin-Embedder-Policy'), [])
})

test('Document-Isolation-Policy enforces only where COOP/COEP would', () => {
  const dip = (isolation: (typeof DEFAULT_INTENT)['isolation']) => {
    const plan = planHeaders({ ...DEFAULT_INTENT, isolation, documentIsolationPolicy: true })
    return [
      ...get(plan.classes.document, 'Document-Isolation-Policy'),
      ...get(plan.classes.document, 'Document-Isolation-Policy-Report-Only').map((v) => `RO ${v}`),
    ]
  }
  assert.deepEqual(dip('require-corp'), ['isolate-and-require-corp'])
  assert.deepEqual(dip('credentialless'), ['isolate-and-credentialless'])
  assert.deepEqual(dip('report-only'), ['RO isolate-and-require-corp'])
  assert.deepEqual(dip('off'), [])
  assert.ok(PLANNED_HEADER_NAMES.has('document-isolation-policy-report-only'))
})

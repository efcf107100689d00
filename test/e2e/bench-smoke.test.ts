/**
 * The bench harness itself, end to end on real servers (not the bench: that never runs in CI):
 * one tiny figure, embedded series metadata against Orthanc direct, with wrk or autocannon for
 * one second, and the shape of what it writes: latest.json, latest.svg and the markdown table.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { parseWrk, wrkMs } from '../../bench/load.js'
import { markdownTable, type BenchResult } from '../../bench/report.js'
import { runBench } from '../../bench/run.js'

const WRK_OUTPUT = `Running 5s test @ http://127.0.0.1:1/x
  2 threads and 32 connections
  Latency Distribution
     50%   31.20ms
     75%   40.11ms
     90%   52.00ms
     99%    1.02s
  4213 requests in 5.01s, 2.06GB read
  Non-2xx or 3xx responses: 3
Requests/sec:    840.92
Transfer/sec:    421.50MB
`

describe('bench harness', { timeout: 60_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'isogate-bench-smoke-'))
  after(() => rmSync(out, { recursive: true, force: true }))

  it("reads wrk's report: rate, percentiles in any unit, errors", () => {
    assert.equal(wrkMs('812.5us'), 0.8125)
    assert.equal(wrkMs('1.02s'), 1020)
    const parsed = parseWrk(WRK_OUTPUT)
    assert.deepEqual(parsed, { rps: 840.92, p50Ms: 31.2, p99Ms: 1020, requests: 4213, errors: 3 })
  })

  it('measures one figure against real servers and writes the results', async () => {
    const result = await runBench({
      only: ['embedded-metadata'],
      slices: 8,
      runs: 1,
      seconds: 1,
      connections: 4,
      outDir: out,
      log: () => undefined,
    })
    const written = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult
    assert.deepEqual(written.figures, JSON.parse(JSON.stringify(result.figures)))
    assert.equal(written.machine.cores, cpus().length)
    assert.equal(written.machine.loadAverage.length, 3)
    assert.match(written.machine.versions.node ?? '', /^v\d+/)

    assert.equal(written.figures.length, 1)
    const figure = written.figures[0]!
    for (const key of ['name', 'isogate', 'reference', 'unit', 'ratio', 'target', 'met', 'runs']) {
      assert.ok(key in figure, `figure has ${key}`)
    }
    assert.equal(figure.unit, 'req/s')
    assert.equal(figure.runs, 1)
    assert.ok(figure.isogate! > 0 && figure.reference! > 0, JSON.stringify(figure))
    assert.ok(Math.abs(figure.ratio! - figure.isogate! / figure.reference!) < 0.01 * figure.ratio!)
    assert.deepEqual(figure.target, { op: '>=', value: 10, of: 'ratio', text: '≥ 10×' })
    assert.equal(figure.met, figure.ratio! >= 10)
    assert.equal(figure.spread.isogate?.[0], figure.spread.isogate?.[1])

    const svg = readFileSync(join(out, 'latest.svg'), 'utf8')
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    assert.ok(svg.includes(figure.name) && svg.trimEnd().endsWith('</svg>'))
    assert.ok(markdownTable(written.figures).includes(`| ${figure.name} |`))
    assert.ok(existsSync(join(out, 'latest.json')))
  })
})

/**
 * `npm run bench`: Isogate against nginx and Orthanc on the same work in one run (issue 7).
 * Starts, on loopback free ports, a real Orthanc with its DICOMweb plugin holding the bench
 * files, nginx running `isogate recipe nginx` in front of it with the same OHIF build, an
 * Isogate proxying the same Orthanc and one serving the same files through its embedded source;
 * loads them with wrk (or autocannon), times OHIF in Chromium, and writes a markdown table,
 * bench/results/latest.json and latest.svg. Not a test; never run in CI.
 *
 *   npm run bench -- [--runs 3] [--seconds 5] [--only proxy-frame,ttfi] [--memory-gb 1.05]
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import type { Browser } from 'playwright-core'

import { launchChromium } from '../test/helpers/chromium.js'
import { timeToFirstImage, timeToMpr } from './browser.js'
import { nodeEntry } from './bundle.js'
import { benchData, type BenchData } from './data.js'
import { absolute, missing, paired, type Figure, type Target } from './figures.js'
import { load, type LoadResult } from './load.js'
import { describeMachine, markdownTable, writeResults, type BenchResult } from './report.js'
import {
  ingest,
  isogateConfig,
  largestBundle,
  NGINX_MOUNT,
  startIsogate,
  startNginxSite,
  startOrthanc,
  type IsogateServer,
  type OrthancServer,
  type RunningServer,
} from './servers.js'

export const FIGURE_IDS = [
  'proxy-frame',
  'proxy-metadata',
  'static-bundle',
  'embedded-frame',
  'embedded-metadata',
  'ttfi',
  'mpr',
  'memory',
  'indexing',
  'doctor',
] as const
export type FigureId = (typeof FIGURE_IDS)[number]

export interface BenchOptions {
  /** Short runs per figure; the median is reported. */
  readonly runs: number
  /** Seconds of load per run. */
  readonly seconds: number
  readonly connections: number
  /** Slices of the 512×512 CT (200 in the issue). */
  readonly slices: number
  readonly only: readonly FigureId[]
  /** Size of the folder for the memory figure. */
  readonly memoryGb: number
  /** Where latest.json and latest.svg go. */
  readonly outDir: string
  readonly log: (line: string) => void
}

export const DEFAULTS: BenchOptions = {
  runs: 3,
  seconds: 5,
  connections: 32,
  slices: 200,
  only: FIGURE_IDS,
  memoryGb: 1.05,
  outDir: join(process.cwd(), 'bench', 'results'),
  log: (line) => process.stderr.write(`${line}\n`),
}

const FRAME_ACCEPT = 'multipart/related; type=application/octet-stream; transfer-syntax=*'
const BROWSER_ENCODING = 'gzip, deflate, br, zstd'
const ratio = (op: Target['op'], value: number): Target => ({ op, value, of: 'ratio' })
/** Replies a load run needs to count; fewer leave the run out of the median. */
const MIN_REQUESTS = 20

/** Servers, started the first time a figure needs them and stopped at the end. */
class Servers {
  private orthanc?: Promise<OrthancServer>
  private nginx?: Promise<RunningServer>
  private proxy?: Promise<IsogateServer>
  private embedded?: Promise<IsogateServer>
  readonly ingests: number[] = []
  readonly started: Array<{ stop(): Promise<void> }> = []

  constructor(
    private readonly data: BenchData,
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  private keep<T extends { stop(): Promise<void> }>(server: T): T {
    this.started.push(server)
    return server
  }

  getOrthanc(): Promise<OrthancServer> {
    this.orthanc ??= (async () => {
      const orthanc = this.keep(await startOrthanc())
      const result = await ingest(orthanc, this.data.files)
      this.ingests.push(result.ms)
      this.log(`orthanc ${orthanc.url}: ${result.accepted} files in ${result.ms} ms`)
      return orthanc
    })()
    return this.orthanc
  }

  getNginx(): Promise<RunningServer> {
    this.nginx ??= (async () => {
      const orthanc = await this.getOrthanc()
      const nginx = this.keep(await startNginxSite(join(this.dir, 'nginx'), orthanc.dicomWebRoot))
      this.log(`nginx ${nginx.base} (pid ${nginx.pid})`)
      return nginx
    })()
    return this.nginx
  }

  getProxy(): Promise<IsogateServer> {
    this.proxy ??= (async () => {
      const orthanc = await this.getOrthanc()
      const source = { name: 'orthanc', mode: 'proxy', upstream: [orthanc.dicomWebRoot] }
      const config = isogateConfig(join(this.dir, 'state-proxy'), { ...source, kind: 'orthanc' })
      const server = this.keep(await startIsogate(config))
      this.log(`isogate proxy ${server.url} (pid ${server.pid})`)
      return server
    })()
    return this.proxy
  }

  getEmbedded(): Promise<IsogateServer> {
    this.embedded ??= (async () => {
      const source = { name: 'local', mode: 'embedded', folder: this.data.dir, watch: false }
      const config = isogateConfig(join(this.dir, 'state-embedded'), source)
      const server = this.keep(await startIsogate(config))
      this.log(`isogate embedded ${server.url} (pid ${server.pid}, ${server.startMs} ms)`)
      return server
    })()
    return this.embedded
  }

  async stopAll(): Promise<void> {
    for (const server of this.started.reverse()) await server.stop().catch(() => undefined)
  }
}

/** Checks that a URL answers 200 with the header set, so no figure is made of error replies. */
async function expectOk(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers })
  const body = Buffer.from(await response.arrayBuffer())
  if (response.status !== 200) {
    throw new Error(`${url} answered ${response.status}: ${body.toString('utf8', 0, 300)}`)
  }
  return body.length
}

/**
 * Loads two URLs in turn, `runs` times, alternating which goes first, after a short warm-up of
 * each. Returns the per-run results of both sides.
 */
async function loadPair(
  options: BenchOptions,
  isogateUrl: string,
  referenceUrl: string,
  headers: Record<string, string>,
  seconds = options.seconds,
): Promise<{ isogate: LoadResult[]; reference: LoadResult[] }> {
  const sizes = [await expectOk(isogateUrl, headers), await expectOk(referenceUrl, headers)]
  options.log(`  bodies: isogate ${sizes[0]} B, reference ${sizes[1]} B`)
  const load1 = (url: string, seconds: number) =>
    load(url, { connections: options.connections, seconds, headers })
  await load1(isogateUrl, 1)
  await load1(referenceUrl, 1)
  const isogate: LoadResult[] = []
  const reference: LoadResult[] = []
  for (let run = 0; run < options.runs; run++) {
    const order = run % 2 === 0 ? ['ref', 'iso'] : ['iso', 'ref']
    for (const side of order) {
      const measured = await load1(side === 'iso' ? isogateUrl : referenceUrl, seconds)
      if (measured.errors > 0) {
        throw new Error(`${side} run had ${measured.errors} errors (${JSON.stringify(measured)})`)
      }
      // Too few replies in the window say nothing (a machine this loaded): not a figure.
      const result =
        measured.requests < MIN_REQUESTS ? { ...measured, rps: NaN, p99Ms: NaN } : measured
      ;(side === 'iso' ? isogate : reference).push(result)
      options.log(`  ${side} run ${run + 1}: ${result.rps.toFixed(1)} req/s p99 ${result.p99Ms} ms`)
    }
  }
  return { isogate, reference }
}

/** `br, 2.9 MB`: the Content-Encoding and Content-Length of a reply (its body is not read). */
async function sentAs(url: string, headers: Record<string, string>): Promise<string> {
  const response = await fetch(url, { headers })
  await response.body?.cancel()
  const length = Number(response.headers.get('content-length') ?? Number.NaN)
  const coding = response.headers.get('content-encoding') ?? 'identity'
  return `${coding}, ${(length / 1e6).toFixed(1)} MB`
}

function framePath(data: BenchData): string {
  return (
    `/studies/${data.studyUid}/series/${data.seriesUid}/instances/${data.middleSop}` + '/frames/1'
  )
}

function metadataPath(data: BenchData): string {
  return `/studies/${data.studyUid}/series/${data.seriesUid}/metadata`
}

const rps = (results: LoadResult[]) => results.map((r) => r.rps)
const p99 = (results: LoadResult[]) => results.map((r) => r.p99Ms)

/** Runs node with `args` to completion (bounded) and returns its stdout. */
function runChild(args: string[], deadlineMs: number): Promise<string> {
  return runCommand(process.execPath, args, deadlineMs)
}

function runCommand(command: string, args: string[], deadlineMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ISOGATE_BENCH_KEEP_DATA: '1' }
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), deadlineMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`exit ${code}: ${err.slice(-1500)}`))
    })
  })
}

function lastJson(text: string): Record<string, unknown> | undefined {
  for (const line of text.trim().split('\n').reverse()) {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      // Not the summary line.
    }
  }
  return undefined
}

type Measure = (ctx: {
  options: BenchOptions
  data: BenchData
  servers: Servers
  browser: () => Promise<Browser>
  dir: string
}) => Promise<Figure[]>

const MEASURES: Record<FigureId, Measure> = {
  'proxy-frame': async ({ options, data, servers }) => {
    const [nginx, proxy] = [await servers.getNginx(), await servers.getProxy()]
    const path = framePath(data)
    const { isogate, reference } = await loadPair(
      options,
      `${proxy.origin}/dicomweb/orthanc${path}`,
      `${nginx.base}${NGINX_MOUNT}${path}`,
      { accept: FRAME_ACCEPT },
    )
    const ref = 'nginx proxying the same Orthanc'
    const c = options.connections
    return [
      paired(`proxied frame, c=${c}`, 'req/s', ref, ratio('>=', 1), rps(isogate), rps(reference)),
      paired(`proxied frame p99, c=${c}`, 'ms', ref, ratio('<=', 1), p99(isogate), p99(reference)),
    ]
  },

  'proxy-metadata': async ({ options, data, servers }) => {
    const [nginx, proxy] = [await servers.getNginx(), await servers.getProxy()]
    const path = metadataPath(data)
    const { isogate, reference } = await loadPair(
      options,
      `${proxy.origin}/dicomweb/orthanc${path}`,
      `${nginx.base}${NGINX_MOUNT}${path}`,
      { accept: 'application/dicom+json' },
      options.seconds * 2,
    )
    return [
      paired(
        'proxied series metadata',
        'req/s',
        'nginx proxying the same Orthanc',
        ratio('>=', 1),
        rps(isogate),
        rps(reference),
      ),
    ]
  },

  'static-bundle': async ({ options, servers }) => {
    const [nginx, proxy] = [await servers.getNginx(), await servers.getProxy()]
    const bundle = largestBundle()
    const { isogate, reference } = await loadPair(
      options,
      `${proxy.url}${bundle.name}`,
      `${nginx.base}/${bundle.name}`,
      { 'accept-encoding': BROWSER_ENCODING, accept: '*/*' },
      options.seconds * 2,
    )
    const mb = (bundle.bytes / 1e6).toFixed(1)
    // What each side sent once loaded: the figure compares bytes on the wire, say which.
    const headers = { 'accept-encoding': BROWSER_ENCODING, accept: '*/*' }
    const [sentIso, sentRef] = [
      await sentAs(`${proxy.url}${bundle.name}`, headers),
      await sentAs(`${nginx.base}/${bundle.name}`, headers),
    ]
    return [
      paired(
        `static largest bundle (${mb} MB)`,
        'req/s',
        'nginx (same build)',
        ratio('>=', 1),
        rps(isogate),
        rps(reference),
        `${bundle.name}, Accept-Encoding: ${BROWSER_ENCODING}; Isogate sent ${sentIso}, ` +
          `nginx ${sentRef}`,
      ),
    ]
  },

  'embedded-frame': async ({ options, data, servers }) => {
    const [orthanc, embedded] = [await servers.getOrthanc(), await servers.getEmbedded()]
    const path = framePath(data)
    const { isogate, reference } = await loadPair(
      options,
      `${embedded.origin}/dicomweb/local${path}`,
      `${orthanc.dicomWebRoot}${path}`,
      { accept: FRAME_ACCEPT },
    )
    return [
      paired(
        'embedded frame',
        'req/s',
        'Orthanc direct',
        ratio('>=', 2),
        rps(isogate),
        rps(reference),
      ),
    ]
  },

  'embedded-metadata': async ({ options, data, servers }) => {
    const [orthanc, embedded] = [await servers.getOrthanc(), await servers.getEmbedded()]
    const path = metadataPath(data)
    const { isogate, reference } = await loadPair(
      options,
      `${embedded.origin}/dicomweb/local${path}`,
      `${orthanc.dicomWebRoot}${path}`,
      { accept: 'application/dicom+json' },
      options.seconds * 2,
    )
    return [
      paired(
        'embedded series metadata',
        'req/s',
        'Orthanc direct',
        ratio('>=', 10),
        rps(isogate),
        rps(reference),
      ),
    ]
  },

  ttfi: async ({ options, data, servers, browser }) => {
    const [nginx, proxy, embedded] = [
      await servers.getNginx(),
      await servers.getProxy(),
      await servers.getEmbedded(),
    ]
    const b = await browser()
    const sides = { nginx: `${nginx.base}/`, proxy: proxy.url, embedded: embedded.url }
    const times: Record<keyof typeof sides, number[]> = { nginx: [], proxy: [], embedded: [] }
    for (let run = 0; run < options.runs; run++) {
      const order = (['nginx', 'proxy', 'embedded'] as const).slice()
      if (run % 2 === 1) order.reverse()
      for (const side of order) {
        const t = await timeToFirstImage(b, sides[side], data.studyUid)
        times[side].push(t.ms)
        options.log(`  first image ${side} run ${run + 1}: ${t.ms} ms`)
      }
    }
    const ref = 'OHIF over nginx + Orthanc'
    return [
      paired('first image, cold (via proxy)', 'ms', ref, ratio('<=', 1), times.proxy, times.nginx),
      paired(
        'first image, cold (embedded)',
        'ms',
        ref,
        ratio('<=', 0.8),
        times.embedded,
        times.nginx,
      ),
    ]
  },

  mpr: async ({ options, data, servers, browser }) => {
    const [nginx, proxy, embedded] = [
      await servers.getNginx(),
      await servers.getProxy(),
      await servers.getEmbedded(),
    ]
    const b = await browser()
    const sides = { nginx: `${nginx.base}/`, proxy: proxy.url, embedded: embedded.url }
    const times: Record<keyof typeof sides, number[]> = { nginx: [], proxy: [], embedded: [] }
    for (let run = 0; run < options.runs; run++) {
      const order = (['nginx', 'proxy', 'embedded'] as const).slice()
      if (run % 2 === 1) order.reverse()
      for (const side of order) {
        const t = await timeToMpr(b, sides[side], data.studyUid, data.slices)
        times[side].push(t.ms)
        options.log(`  MPR ${side} run ${run + 1}: ${t.ms} ms (${t.frames} frames)`)
      }
    }
    const ref = 'OHIF over nginx + Orthanc'
    return [
      paired('MPR volume loaded (via proxy)', 'ms', ref, ratio('<=', 1), times.proxy, times.nginx),
      paired(
        'MPR volume loaded (embedded)',
        'ms',
        ref,
        ratio('<=', 0.6),
        times.embedded,
        times.nginx,
      ),
    ]
  },

  memory: async ({ options }) => {
    const target: Target = { op: '<=', value: 150, of: 'value' }
    // Measured as the product runs: compiled, on plain node (see bundle.ts).
    const script = join(process.cwd(), 'bench', 'embedded-memory.ts')
    const out = await runChild([...nodeEntry(script), String(options.memoryGb)], 1_800_000)
    const summary = lastJson(out) ?? {}
    const mb = (key: string) => Number.parseFloat(String(summary[key] ?? 'NaN'))
    const gb = (Number(summary.folderBytes) / 1e9).toFixed(2)
    // The peak of each phase says where to look (baseline, indexing, serving, restart).
    const phases = Object.entries((summary.peakByPhase ?? {}) as Record<string, string>)
      .map(([phase, value]) => `${phase} ${value}`)
      .join(', ')
    const note =
      `${gb} GB, ${String(summary.files)} files; peak while indexing ` +
      `${mb('peakRssIndexing')} MB, baseline ${mb('baselineRss')} MB; peak by phase: ` +
      `${phases || 'not reported'} (bench/embedded-memory.ts)`
    return [absolute('RSS indexing + serving ≥ 1 GB (peak)', 'MB', target, [mb('peakRss')], note)]
  },

  indexing: async ({ options, data, servers, dir }) => {
    const { scan, indexPath } = await import('../src/dicomweb/embedded/scan.js')
    const { realpath } = await import('node:fs/promises')
    const root = await realpath(data.dir)
    const cold: number[] = []
    const warm: number[] = []
    const orthancMs: number[] = []
    // The first ingest is the one that loaded the shared Orthanc; more go into fresh ones.
    await servers.getOrthanc()
    orthancMs.push(...servers.ingests)
    for (let run = 0; run < options.runs; run++) {
      const state = mkdtempSync(join(dir, 'index-'))
      const file = indexPath(state, root)
      let started = Date.now()
      const first = await scan({ root, indexFile: file })
      cold.push(Date.now() - started)
      started = Date.now()
      await scan({ root, indexFile: file })
      warm.push(Date.now() - started)
      rmSync(state, { recursive: true, force: true })
      options.log(
        `  index run ${run + 1}: cold ${cold.at(-1)} ms (${first.records.length} instances), ` +
          `warm ${warm.at(-1)} ms`,
      )
      if (orthancMs.length < options.runs) {
        const fresh = await startOrthanc()
        try {
          orthancMs.push((await ingest(fresh, data.files)).ms)
          options.log(`  orthanc ingest: ${orthancMs.at(-1)} ms`)
        } finally {
          await fresh.stop()
        }
      }
    }
    const n = data.files.length
    const perSecond = (ms: number[]) => ms.map((m) => (n * 1000) / m)
    return [
      paired(
        `indexing cold (${n} files, ${(data.bytes / 1e6).toFixed(0)} MB)`,
        'files/s',
        'Orthanc ingest of the same files (REST, 4 at a time)',
        ratio('>=', 3),
        perSecond(cold),
        perSecond(orthancMs.slice(0, cold.length)),
      ),
      absolute(
        'indexing warm restart, per 10k files',
        's',
        { op: '<', value: 1, of: 'value' },
        warm.map((ms) => (ms / 1000) * (10_000 / n)),
        `${n} files re-scanned against the on-disk index, scaled to 10k`,
      ),
    ]
  },

  doctor: async ({ options }) => {
    const target: Target = { op: '<', value: 1, of: 'value' }
    const name = 'doctor static diagnosis'
    const script = join(process.cwd(), 'bench', 'doctor-static.ts')
    if (!existsSync(script)) return [missing(name, 's', target, 'bench/doctor-static.ts not there')]
    try {
      // Its own report: `static diagnosis, version scan on : median N ms, min N ms, p90 N ms`.
      const runs = Math.max(5, options.runs * 3)
      const out = await runChild(['--import', 'tsx', script, String(runs)], 300_000)
      const line = /version scan on\s*: median (\d+) ms, min (\d+) ms, p90 (\d+) ms over (\d+)/
      const match = line.exec(out)
      if (!match) throw new Error(`no "version scan on" line in: ${out.slice(-300)}`)
      const [median, min, p90, count] = match.slice(1).map(Number) as number[]
      const figure = absolute(name, 's', target, [median! / 1000], 'bench/doctor-static.ts')
      return [
        {
          ...figure,
          runs: count!,
          spread: { isogate: [min! / 1000, p90! / 1000], reference: null, ratio: null },
          note: 'bench/doctor-static.ts (version scan on; spread is min–p90)',
        },
      ]
    } catch (error) {
      return [missing(name, 's', target, `bench/doctor-static.ts failed: ${String(error)}`)]
    }
  },
}

/** Runs the selected figures and writes the results; resolves with what it wrote. */
export async function runBench(partial: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const options: BenchOptions = { ...DEFAULTS, ...partial }
  const startedAt = new Date()
  const dir = mkdtempSync(join(tmpdir(), 'isogate-bench-'))
  const needsData = options.only.some((id) => id !== 'memory' && id !== 'doctor')
  const data = needsData ? await benchData(options.slices) : undefined
  if (data)
    options.log(`data: ${data.files.length} files, ${data.bytes} B (${data.generatedMs} ms)`)
  const servers = new Servers(data as BenchData, dir, options.log)
  let browser: Promise<Browser> | undefined
  const figures: Figure[] = []
  const loads: number[][] = []
  try {
    for (const id of FIGURE_IDS) {
      if (!options.only.includes(id)) continue
      options.log(
        `${id} (load ${loadavg()
          .map((n) => n.toFixed(2))
          .join(' ')})`,
      )
      loads.push(loadavg())
      figures.push(
        ...(await MEASURES[id]({
          options,
          data: data as BenchData,
          servers,
          browser: () => (browser ??= launchChromium()),
          dir,
        })),
      )
    }
  } finally {
    if (browser) await (await browser).close().catch(() => undefined)
    await servers.stopAll()
    rmSync(dir, { recursive: true, force: true })
  }
  const machine = describeMachine()
  const result: BenchResult = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    options: {
      runs: options.runs,
      seconds: options.seconds,
      connections: options.connections,
      slices: options.slices,
      memoryGb: options.memoryGb,
      only: options.only,
      loadTool: existsSync('/usr/bin/wrk') ? 'wrk' : 'autocannon',
      loadAverageAtStart: loads[0] ?? loadavg(),
    },
    machine,
    figures,
  }
  writeResults(result, join(options.outDir, 'latest.json'), join(options.outDir, 'latest.svg'))
  return result
}

function cli(): Partial<BenchOptions> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      slices: { type: 'string' },
      only: { type: 'string' },
      'memory-gb': { type: 'string' },
      out: { type: 'string' },
    },
  })
  const only = values.only?.split(',').map((s) => s.trim()) as FigureId[] | undefined
  for (const id of only ?? []) {
    if (!FIGURE_IDS.includes(id)) throw new Error(`unknown figure ${id}; one of ${FIGURE_IDS}`)
  }
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s))
  const out: Record<string, unknown> = {
    runs: num(values.runs),
    seconds: num(values.seconds),
    connections: num(values.connections),
    slices: num(values.slices),
    memoryGb: num(values['memory-gb']),
    only,
    outDir: values.out,
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined))
}

const DOCS = join(process.cwd(), 'docs', 'benchmarks.md')
const START = '<!-- bench:results:start -->'
const END = '<!-- bench:results:end -->'

/** Replaces the results section of docs/benchmarks.md (between its markers) with `result`. */
export function updateDocs(result: BenchResult, path = DOCS): boolean {
  if (!existsSync(path)) return false
  const text = readFileSync(path, 'utf8')
  const [from, to] = [text.indexOf(START), text.indexOf(END)]
  if (from < 0 || to < from) return false
  const m = result.machine
  const section = [
    START,
    '',
    `Run ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC, ` +
      `${(result.durationMs / 60_000).toFixed(1)} min: ${m.cores} cores (${m.cpu}), ` +
      `${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB; load average ` +
      `${(result.options.loadAverageAtStart as number[]).map((n) => n.toFixed(2)).join(' ')} at ` +
      `the start, ${m.loadAverage.join(' ')} at the end; ` +
      Object.entries(m.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      '.',
    '',
    markdownTable(result.figures),
    '',
    '![ratios](../bench/results/latest.svg)',
    '',
    END,
  ].join('\n')
  writeFileSync(path, text.slice(0, from) + section + text.slice(to + END.length))
  return true
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const options = cli()
  const result = await runBench(options)
  // A run written elsewhere (--out) is a trial: the documented results stay as they were.
  if (options.outDir === undefined && updateDocs(result)) {
    process.stderr.write(`results written into ${DOCS}\n`)
  }
  process.stdout.write(`${markdownTable(result.figures)}\n`)
  process.stdout.write(
    `\nload average ${result.machine.loadAverage.join(' ')} on ${result.machine.cores} cores; ` +
      `${result.figures.length} figures in ${(result.durationMs / 1000).toFixed(0)} s\n`,
  )
}

/**
 * Memory of the embedded source over a folder of ≥ 1 GB: generates synthetic CT volumes into
 * a temporary folder (in a child process), indexes it, then lets a child process fetch every
 * frame and every series' metadata over HTTP while this process samples its own RSS. Prints
 * the peak (target ≤ 150 MB) and deletes the folder. Only the server runs in the measured
 * process, so the figures are the source's own.
 *
 *   node --import tsx bench/embedded-memory.ts [gigabytes]
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getHeapSpaceStatistics } from 'node:v8'

import { fastify } from 'fastify'

import { createEmbeddedSource } from '../src/dicomweb/embedded/index.js'
import { headersFor, registerPlanHook } from '../src/gateway/headers.js'
import { silentLogger } from '../src/log.js'
import { DEFAULT_INTENT, planHeaders } from '../src/policy/plan.js'

const SLICE_BYTES = 512 * 512 * 2
const PER_VOLUME = 300
const self = new URL(import.meta.url).pathname
const child = (...args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', self, ...args], { encoding: 'utf8' })

type Json = Record<string, { Value?: string[] }>

async function generate(dir: string, volumes: number): Promise<void> {
  // Loaded here only: the measured process must not carry the generator (and dcmjs's writer).
  const { writeCtVolume } = await import('../src/dicomweb/demo/generate.js')
  for (let v = 0; v < volumes; v++) {
    await writeCtVolume(join(dir, `volume-${v}`), {
      size: 512,
      slices: PER_VOLUME,
      seed: `bench ${v}`,
    })
  }
}

/** The client: every frame (8 at a time), then every series' metadata; bodies discarded. */
async function client(base: string): Promise<void> {
  const instances: Json[] = []
  for (let offset = 0; ; offset += 1000) {
    const page = (await (await fetch(`${base}/instances?offset=${offset}`)).json()) as Json[]
    instances.push(...page)
    if (page.length < 1000) break
  }
  let bytes = 0
  let next = 0
  const accept = 'multipart/related; type=application/octet-stream; transfer-syntax=*'
  const drain = async (response: Response) => {
    const reader = response.body!.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      bytes += value.byteLength
    }
  }
  const worker = async () => {
    while (next < instances.length) {
      const i = instances[next++]!
      const url =
        `${base}/studies/${i['0020000D']!.Value![0]}/series/${i['0020000E']!.Value![0]}` +
        `/instances/${i['00080018']!.Value![0]}/frames/1`
      await drain(await fetch(url, { headers: { accept } }))
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  for (const s of (await (await fetch(`${base}/series`)).json()) as Json[]) {
    const [study, uid] = [s['0020000D']!.Value![0], s['0020000E']!.Value![0]]
    await drain(await fetch(`${base}/studies/${study}/series/${uid}/metadata`))
  }
  console.log(JSON.stringify({ files: instances.length, bytes }))
}

async function measure(gigabytes: number): Promise<void> {
  const volumes = Math.ceil((gigabytes * 1e9) / (SLICE_BYTES * PER_VOLUME))
  // ISOGATE_BENCH_KEEP_DATA=1 keeps the generated folder for the next run (npm run bench sets
  // it; delete $TMPDIR/isogate-bench-memory-* to get the space back).
  const keep = process.env.ISOGATE_BENCH_KEEP_DATA === '1'
  const dir = keep
    ? join(tmpdir(), `isogate-bench-memory-${volumes}x${PER_VOLUME}`)
    : mkdtempSync(join(tmpdir(), 'isogate-bench-'))
  const state = mkdtempSync(join(tmpdir(), 'isogate-bench-state-'))
  const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`
  let peak = 0
  // Where the memory is at the RSS peak: V8 heap, and Buffers outside it.
  let atPeak = process.memoryUsage()
  let spacesAtPeak: Record<string, string> = {}
  let phase = 'baseline'
  const peaks: Record<string, string> = {}
  let phasePeak = 0
  const sample = () => {
    const now = process.memoryUsage()
    if (now.rss > peak) {
      ;[peak, atPeak] = [now.rss, now]
      spacesAtPeak = Object.fromEntries(
        getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_used_size)]),
      )
    }
    phasePeak = Math.max(phasePeak, now.rss)
    peaks[phase] = mb(phasePeak)
  }
  const enter = (next: string) => {
    sample()
    ;[phase, phasePeak] = [next, 0]
  }
  const sampler = setInterval(sample, 20)
  try {
    const started = Date.now()
    if (!existsSync(join(dir, '.complete'))) {
      rmSync(dir, { recursive: true, force: true })
      child('generate', dir, String(volumes))
      writeFileSync(join(dir, '.complete'), 'ok\n')
    }
    const generatedMs = Date.now() - started
    const baseline = process.memoryUsage().rss
    const baselineDetail = process.memoryUsage()
    peak = baseline

    const plan = planHeaders(DEFAULT_INTENT)
    const options = (mountPath: string, origin: () => string) => ({
      mountPath,
      publicOrigin: origin,
      stateDir: state,
      logger: silentLogger(),
      plan,
      headersFor: (c: Parameters<typeof headersFor>[1], s: number) => headersFor(plan, c, s),
    })
    let origin = ''
    const config = { name: 'bench', mode: 'embedded' as const, folder: dir, watch: false }
    // Indexing and serving in their own scope: nothing of that source is still referenced when
    // the restart is measured, as after a real restart.
    const first = async () => {
      const app = fastify()
      registerPlanHook(app, plan)
      enter('indexing')
      const indexStart = Date.now()
      const source = await createEmbeddedSource(
        config,
        options('/dicomweb/bench', () => origin),
      )
      const indexMs = Date.now() - indexStart
      const peakIndexing = peak
      await app.register(source.plugin, { prefix: '/dicomweb/bench' })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

      // The client runs in its own process, so this one stays free to answer (no execFileSync).
      enter('serving')
      const serveStart = Date.now()
      const { spawn } = await import('node:child_process')
      const output = await new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, [
          '--import',
          'tsx',
          self,
          'client',
          `${origin}/dicomweb/bench`,
        ])
        let text = ''
        c.stdout.on('data', (d: Buffer) => (text += d.toString()))
        c.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`client ${code}`))))
      })
      const serveMs = Date.now() - serveStart
      // With --expose-gc: the live heap after serving, to tell garbage from what is kept.
      const gc = (globalThis as { gc?: () => void }).gc
      if (gc) {
        gc()
        process.stderr.write(`live heap after serving: ${mb(process.memoryUsage().heapUsed)}\n`)
      }
      await source.close()
      await app.close()
      return { indexMs, peakIndexing, serveMs, output }
    }
    const { indexMs, peakIndexing, serveMs, output } = await first()

    enter('restart')
    const restart = Date.now()
    const again = await createEmbeddedSource(
      config,
      options('/x', () => origin),
    )
    const restartMs = Date.now() - restart
    await again.close()
    sample()
    console.log(
      JSON.stringify({
        folderBytes: volumes * PER_VOLUME * SLICE_BYTES,
        ...(JSON.parse(output) as object),
        generatedMs,
        indexMs,
        restartMs,
        serveMs,
        baselineRss: mb(baseline),
        peakRssIndexing: mb(peakIndexing),
        peakRss: mb(peak),
        peakByPhase: peaks,
        atPeak: {
          heapUsed: mb(atPeak.heapUsed),
          heapTotal: mb(atPeak.heapTotal),
          external: mb(atPeak.external),
          arrayBuffers: mb(atPeak.arrayBuffers),
          spaces: spacesAtPeak,
        },
        atBaseline: {
          heapUsed: mb(baselineDetail.heapUsed),
          heapTotal: mb(baselineDetail.heapTotal),
          external: mb(baselineDetail.external),
        },
        targetRss: '150 MB',
      }),
    )
  } finally {
    clearInterval(sampler)
    if (!keep) rmSync(dir, { recursive: true, force: true })
    rmSync(state, { recursive: true, force: true })
  }
}

const [mode, a, b] = process.argv.slice(2)
if (mode === 'generate') await generate(a!, Number(b))
else if (mode === 'client') await client(a!)
else await measure(Number(mode ?? 1.05))

/**
 * Throughput with one and with two Orthancs behind Isogate. PostgreSQL, two Orthanc processes on
 * it (DICOMweb plugin, index and storage in PostgreSQL) holding one synthetic CT, and one
 * Isogate gateway in its own process proxying first one Orthanc, then a pool of both. Each
 * workload is loaded for a bounded time by wrk (or autocannon) through the gateway; the script
 * prints both figures and their ratio. Everything runs on loopback and is stopped by PID.
 *
 *   node --import tsx bench/scale.ts [--seconds 10] [--connections 16] [--slices 32]
 *
 * On a machine where the load tool, the gateway and both Orthancs share the same cores, the
 * ratio says how much a second Orthanc process is worth there, not what a second machine gives.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { writeCtVolume } from '../test/helpers/dicom-volume.js'
import { startPgOrthanc, startPostgres, type PgOrthanc } from '../test/helpers/scale-cluster.js'
import { load, type LoadResult } from './load.js'
import { isogateConfig, startIsogate } from './servers.js'

export interface ScaleFigure {
  readonly workload: string
  readonly one: LoadResult
  readonly two: LoadResult
  /** Requests per second with two Orthancs over with one. */
  readonly ratio: number
}

export interface ScaleOptions {
  readonly seconds: number
  readonly connections: number
  readonly slices: number
}

/** Runs the comparison; every process it starts is stopped before it returns. */
export async function runScale(options: ScaleOptions): Promise<ScaleFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'isogate-bench-scale-'))
  const pg = await startPostgres()
  const orthancs: PgOrthanc[] = []
  try {
    orthancs.push(await startPgOrthanc(pg, 'bench-a'), await startPgOrthanc(pg, 'bench-b'))
    const study = await writeCtVolume(join(dir, 'ct'), {
      slices: options.slices,
      seed: 'bench-scale',
    })
    for (const file of study.files) await orthancs[0]!.upload(readFileSync(file))
    const root = orthancs[1]!.dicomWebRoot
    const instances = (await (
      await fetch(`${root}/studies/${study.studyInstanceUid}/series/${study.ctSeriesUid}/instances`)
    ).json()) as Array<Record<string, { Value?: string[] }>>
    const sop = instances[0]?.['00080018']?.Value?.[0]
    if (instances.length !== options.slices || sop === undefined) {
      throw new Error(`the second Orthanc sees ${instances.length} of ${options.slices} slices`)
    }
    const series = `studies/${study.studyInstanceUid}/series/${study.ctSeriesUid}`
    const workloads: Array<{ name: string; path: string; headers: Record<string, string> }> = [
      {
        name: 'frame (512×512, 16-bit)',
        path: `${series}/instances/${sop}/frames/1`,
        headers: {
          accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
        },
      },
      { name: 'series metadata', path: `${series}/metadata`, headers: {} },
      { name: 'QIDO study search', path: 'studies?limit=25', headers: {} },
    ]

    const results = new Map<string, { one?: LoadResult; two?: LoadResult }>()
    for (const [label, upstream] of [
      ['one', [orthancs[0]!.dicomWebRoot]],
      ['two', orthancs.map((o) => o.dicomWebRoot)],
    ] as const) {
      const gateway = await startIsogate(
        isogateConfig(join(dir, `state-${label}`), {
          name: 'pacs',
          mode: 'proxy',
          kind: 'orthanc',
          upstream,
          healthCheckMs: 2_000,
        }),
      )
      try {
        for (const workload of workloads) {
          const url = `${gateway.origin}/dicomweb/pacs/${workload.path}`
          // A short warm-up so both runs start with open connections and a warm JIT.
          await load(url, {
            connections: options.connections,
            seconds: 2,
            headers: workload.headers,
          })
          const result = await load(url, {
            connections: options.connections,
            seconds: options.seconds,
            headers: workload.headers,
          })
          results.set(workload.name, { ...results.get(workload.name), [label]: result })
        }
      } finally {
        await gateway.stop()
      }
    }
    return workloads.map(({ name }) => {
      const { one, two } = results.get(name) as { one: LoadResult; two: LoadResult }
      return { workload: name, one, two, ratio: two.rps / one.rps }
    })
  } finally {
    await Promise.allSettled(orthancs.map((o) => o.stop()))
    await pg.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The figures as a markdown table. */
export function scaleTable(figures: readonly ScaleFigure[], options: ScaleOptions): string {
  const row = (f: ScaleFigure) =>
    `| ${f.workload} | ${f.one.rps.toFixed(0)} | ${f.two.rps.toFixed(0)} | ` +
    `${f.ratio.toFixed(2)} | ${f.one.p99Ms.toFixed(1)} / ${f.two.p99Ms.toFixed(1)} | ` +
    `${f.one.errors + f.two.errors} |`
  return [
    `Isogate over one vs two Orthancs (PostgreSQL index and storage), ${options.connections} ` +
      `connections, ${options.seconds} s each, load tool ${figures[0]?.one.tool ?? '?'}:`,
    '',
    '| workload | req/s, 1 Orthanc | req/s, 2 Orthancs | ratio | p99 ms (1 / 2) | errors |',
    '|---|---|---|---|---|---|',
    ...figures.map(row),
    '',
  ].join('\n')
}

const invokedDirectly = process.argv[1]?.endsWith('scale.ts') === true
if (invokedDirectly) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      slices: { type: 'string', default: '32' },
    },
  })
  const options: ScaleOptions = {
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    slices: Number(values.slices),
  }
  const figures = await runScale(options)
  process.stdout.write(scaleTable(figures, options))
  if (figures.some((f) => f.one.errors + f.two.errors > 0)) process.exitCode = 1
}

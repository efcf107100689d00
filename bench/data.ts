/**
 * The bench's files: a 512×512×200 CT written by the demo's writer (consistent geometry, so MPR
 * works) plus pydicom's test files. Kept under the temporary folder between runs, keyed by the
 * slice count, so a second run does not spend a minute regenerating them.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { copyPydicomFiles, writeCtVolume } from '../test/helpers/dicom-volume.js'

export interface BenchData {
  readonly dir: string
  readonly files: string[]
  readonly bytes: number
  readonly slices: number
  readonly studyUid: string
  readonly seriesUid: string
  /** The middle slice: the one frame the load tests ask for, as the reference did. */
  readonly middleSop: string
  readonly generatedMs: number
}

const MARKER = '.isogate-bench-v1'

function listFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listFiles(path))
    else if (entry.isFile()) out.push(path)
  }
  return out.sort()
}

/** Writes (or reuses) the bench folder with a CT of `slices` slices of 512×512. */
export async function benchData(slices = 200, size = 512): Promise<BenchData> {
  const dir = join(tmpdir(), `isogate-bench-data-${size}x${slices}`)
  const started = Date.now()
  const seed = `bench ${size}x${slices}`
  if (!existsSync(join(dir, MARKER))) {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(join(dir, 'pydicom'), { recursive: true })
    await writeCtVolume(join(dir, 'ct'), { size, slices, seed })
    copyPydicomFiles(join(dir, 'pydicom'))
    writeFileSync(join(dir, MARKER), 'ok\n')
  }
  const { uidFor } = await import('../src/dicomweb/demo/generate.js')
  const files = listFiles(dir)
  return {
    dir,
    files,
    bytes: files.reduce((n, f) => n + statSync(f).size, 0),
    slices,
    studyUid: uidFor(`${seed} study`),
    seriesUid: uidFor(`${seed} ct series`),
    middleSop: uidFor(`${seed} ct ${Math.floor(slices / 2)}`),
    generatedMs: Date.now() - started,
  }
}

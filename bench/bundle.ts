/**
 * The processes a bench measures run as the product ships, compiled JavaScript on plain node,
 * not under tsx: its loader alone adds ~35 MB of RSS and source-map work on every Error. esbuild
 * (the one tsx brings) bundles an entry with packages left external, three folders deep under
 * test-output/ so that paths relative to `import.meta.url` (../../../package.json) still resolve.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { basename, join } from 'node:path'

const OUT = join(process.cwd(), 'test-output', 'bench', 'js')
const built = new Map<string, string>()

/** Bundles `entry` (a .ts path) once per bench run; returns the .mjs to run with node. */
export function bundle(entry: string): string {
  const known = built.get(entry)
  if (known) return known
  mkdirSync(OUT, { recursive: true })
  const outfile = join(OUT, basename(entry).replace(/\.ts$/, '.mjs'))
  execFileSync(
    join(process.cwd(), 'node_modules', '.bin', 'esbuild'),
    [
      entry,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      '--packages=external',
      '--log-level=warning',
      `--outfile=${outfile}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 },
  )
  built.set(entry, outfile)
  return outfile
}

/** Node arguments that run `entry`: its bundle, or the source under tsx with BENCH_TSX=1. */
export function nodeEntry(entry: string): string[] {
  return process.env.BENCH_TSX === '1' ? ['--import', 'tsx', entry] : [bundle(entry)]
}

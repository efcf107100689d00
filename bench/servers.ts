/**
 * The servers a bench run compares, each started by us on a loopback free port and stopped by
 * PID: a real Orthanc with its DICOMweb plugin holding the bench files, nginx running the site
 * `isogate recipe nginx` renders (the same OHIF build, proxying that Orthanc), and two Isogate
 * gateways in their own processes: one proxying the same Orthanc, one serving the same files
 * through its embedded source.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { nodeEntry } from './bundle.js'
import { renderRecipe } from '../src/recipes/index.js'
import { startOrthanc, type OrthancServer } from '../test/helpers/orthanc.js'
import { freePort } from '../test/helpers/ports.js'
import { viewerFolder } from '../test/helpers/recipe-check.js'
import {
  check,
  nginxMainConf,
  startNginx,
  writeRecipe,
  type RunningServer,
} from '../test/helpers/recipe-servers.js'

export const OHIF_ROOT = join(process.cwd(), 'vendor', 'ohif')
const CHILD = join(process.cwd(), 'bench', 'isogate-child.ts')

/** The mount of the proxied Orthanc in the nginx site (the recipe's default DICOMweb path). */
export const NGINX_MOUNT = '/dicom-web'

export interface IsogateServer {
  readonly pid: number
  /** The viewer's URL (ends with `/`). */
  readonly url: string
  readonly origin: string
  /** Time from process start to listening (includes indexing for an embedded source). */
  readonly startMs: number
  stop(): Promise<void>
}

/**
 * Starts `isogate-child.ts` with a config and waits for its one line of JSON. The config is
 * validated there by the product's own schema, as `isogate serve` would.
 */
export async function startIsogate(config: Record<string, unknown>): Promise<IsogateServer> {
  const started = Date.now()
  const child: ChildProcess = spawn(
    process.execPath,
    // BENCH_ISOGATE_NODE_ARGS adds Node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    [...nodeArgs(), ...nodeEntry(CHILD), JSON.stringify(config)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  let exited = false
  child.once('exit', () => (exited = true))
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`isogate did not start: ${stderr}`)), 180_000)
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        resolve(out.slice(0, nl))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`isogate exited (${code}): ${stderr.slice(-2000)}`))
    })
  })
  const info = JSON.parse(line) as { url: string; origin: string }
  return {
    pid: child.pid ?? -1,
    url: info.url.endsWith('/') ? info.url : `${info.url}/`,
    origin: info.origin,
    startMs: Date.now() - started,
    async stop() {
      if (exited || !child.pid) return
      const done = new Promise((r) => child.once('exit', r))
      process.kill(child.pid, 'SIGTERM')
      const timer = setTimeout(
        () => !exited && child.pid && process.kill(child.pid, 'SIGKILL'),
        5000,
      )
      await done
      clearTimeout(timer)
    },
  }
}

function nodeArgs(): string[] {
  return (process.env.BENCH_ISOGATE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
}

/** Config of an Isogate serving the bundled OHIF build with one source. */
export function isogateConfig(stateDir: string, source: Record<string, unknown>) {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    stateDir,
    viewer: { root: OHIF_ROOT },
    sources: [source],
    defaultSource: source.name,
  }
}

/** nginx with the rendered recipe in front of `upstream` (a DICOMweb root), on a free port. */
export async function startNginxSite(dir: string, upstream: string): Promise<RunningServer> {
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const root = viewerFolder(dir, NGINX_MOUNT)
  const output = renderRecipe('nginx', { root, upstream, port, includeDir: join(dir, 'isogate') })
  writeRecipe(dir, output)
  const conf = nginxMainConf(dir, join(dir, 'isogate.conf'))
  const verdict = check('nginx', ['-t', '-p', dir, '-c', conf])
  if (verdict.status !== 0) throw new Error(`nginx -t failed: ${verdict.output}`)
  return await startNginx(dir, conf, port)
}

export interface Ingest {
  readonly ms: number
  readonly accepted: number
  readonly refused: number
}

/** Uploads every file to Orthanc through its REST API, `concurrency` at a time. */
export async function ingest(
  orthanc: OrthancServer,
  files: readonly string[],
  concurrency = 4,
): Promise<Ingest> {
  const started = Date.now()
  let next = 0
  let accepted = 0
  let refused = 0
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!
      try {
        await orthanc.upload(readFileSync(file))
        accepted++
      } catch {
        refused++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ms: Date.now() - started, accepted, refused }
}

export { startOrthanc, type OrthancServer, type RunningServer }

/** The largest script of the viewer build: what a browser downloads first and longest. */
export function largestBundle(root = OHIF_ROOT): { name: string; bytes: number } {
  let best = { name: '', bytes: 0 }
  for (const name of readdirSync(root)) {
    if (!name.endsWith('.js')) continue
    const bytes = statSync(join(root, name)).size
    if (bytes > best.bytes) best = { name, bytes }
  }
  return best
}

/**
 * Load: 100 concurrent clients against a real gateway serving the bundled OHIF build, an
 * embedded source over real DICOM files and a proxy source in front of a real Orthanc, mixing
 * documents, assets, QIDO, metadata and frames for a bounded time split into windows. Zero
 * errors and zero non-2xx replies are required, and the gateway's memory and open file
 * descriptors after the last window must be no higher than after the first, within the margins
 * stated below.
 *
 * The gateway runs in a child process (startGateway from the sources, through tsx), so the load
 * generator (autocannon, in this process) never shares its event loop, and /proc/<pid> counts
 * only the gateway's memory and descriptors.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'

import { PYDICOM_FILES, writeCtVolume } from '../helpers/dicom-volume.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import { fdCounts, rssOf, sleep } from './hardening-kit.js'

const ROOT = new URL('../../', import.meta.url).pathname
const CONNECTIONS = 100
const WINDOWS = 6
const WINDOW_SECONDS = 14
/** Time for the gateway to settle after a window before it is measured. */
const SETTLE_MS = 1_000
/**
 * The longest the gateway may keep a connection open after its client has closed it: a reply
 * still being written (a 2 MB wasm to a client that left) ends within a few seconds.
 */
const CLIENT_CLOSE_MS = 5_000
/**
 * Growth allowed from the first window to the last, both measured right after a full
 * collection. Resident memory still moves by tens of MB without a leak (V8 keeps freed pages
 * for a while, malloc arenas grow under concurrency), so its margin is wide; the live heap is
 * what a leak fills, so its margin is narrow: over the 30,000 to 50,000 requests that follow
 * the first window on a 2-core machine, a leak of 250 to 400 bytes per request (a buffer, a
 * listener, a map entry kept per request) would exceed it.
 */
const RSS_MARGIN_BYTES = 64 * 1024 * 1024
const HEAP_MARGIN_BYTES = 12 * 1024 * 1024
/**
 * Descriptors allowed beyond the first window's count: client connections must all be gone,
 * but the keep-alive pool to Orthanc holds between 0 and 32 sockets depending on timing.
 */
const UPSTREAM_POOL = 32
const FILE_MARGIN = 2
/** A reply slower than this counts as an error (autocannon's timeout, in seconds). */
const REQUEST_TIMEOUT_S = 20

const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
const JSON_ACCEPT = 'application/dicom+json'

interface AutocannonRequest {
  readonly method: 'GET'
  readonly path: string
  readonly headers: Record<string, string>
}
interface AutocannonResult {
  readonly requests: { readonly total: number; readonly average: number }
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly resets: number
  readonly mismatches: number
  readonly statusCodeStats: Record<string, { count: number }>
}
type Autocannon = (options: {
  url: string
  connections: number
  duration: number
  timeout: number
  requests: readonly AutocannonRequest[]
}) => Promise<AutocannonResult>

/** autocannon ships no types; this is the part of its programmatic API the test uses. */
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

/**
 * The gateway started from the sources in a child process: it prints its port, then serves; on
 * SIGUSR2 it collects garbage and prints its memory, so that each window is measured on what is
 * still referenced rather than on when the collector last ran.
 */
const CHILD_SCRIPT = `
const { validateConfig } = await import(${JSON.stringify(
  pathToFileURL(join(ROOT, 'src/config/load.ts')).href,
)})
const { startGateway } = await import(${JSON.stringify(
  pathToFileURL(join(ROOT, 'src/gateway/start.ts')).href,
)})
const gateway = await startGateway(validateConfig(JSON.parse(process.env.ISOGATE_LOAD_CONFIG)))
process.stdout.write(JSON.stringify({ port: gateway.port }) + '\\n')
process.on('SIGTERM', () => void gateway.close().finally(() => process.exit(0)))
process.on('SIGUSR2', async () => {
  // A few rounds: buffers' backing stores and weak callbacks are released between them.
  for (let round = 0; round < 4; round++) {
    globalThis.gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const { rss, heapUsed, external } = process.memoryUsage()
  process.stdout.write(JSON.stringify({ memory: { rss, heapUsed, external } }) + '\\n')
})
`

/** The states of /proc/net/tcp that a socket still held by a process can be in. */
const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0B': 'CLOSING',
}

/** TCP sockets of a process by what they connect, read from /proc (IPv4 and IPv6). */
function tcpSockets(pid: number, gatewayPort: number, upstreamPort: number) {
  const inodes = new Set<string>()
  for (const [, target] of Object.entries(fdTargets(pid))) {
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
    if (inode) inodes.add(inode)
  }
  const counts = { listening: 0, clients: 0, upstream: 0, other: 0, clientStates: [] as string[] }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = readFileSync(table, 'utf8').split('\n').slice(1)
    for (const line of lines) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10 || !inodes.has(fields[9] as string)) continue
      const localPort = parseInt((fields[1] as string).split(':')[1] as string, 16)
      const remotePort = parseInt((fields[2] as string).split(':')[1] as string, 16)
      if (fields[3] === '0A') counts.listening++
      else if (localPort === gatewayPort) {
        counts.clients++
        counts.clientStates.push(TCP_STATES[fields[3] as string] ?? (fields[3] as string))
      } else if (remotePort === upstreamPort) counts.upstream++
      else counts.other++
    }
  }
  return counts
}

function fdTargets(pid: number): Record<string, string> {
  const out: Record<string, string> = {}
  const dir = `/proc/${pid}/fd`
  for (const name of readdirSync(dir)) {
    try {
      out[name] = readlinkSync(join(dir, name))
    } catch {
      // Closed between the listing and the read.
    }
  }
  return out
}

interface Memory {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
}

interface Sample {
  readonly window: number
  readonly requests: number
  readonly rps: number
  readonly p99Ms: number
  /** Resident memory and live heap (V8 heap plus external buffers), after a full collection. */
  readonly rssMb: number
  readonly heapMb: number
  readonly externalMb: number
  readonly fds: Record<string, number>
  readonly sockets: ReturnType<typeof tcpSockets>
  /** How long the gateway took to close its side of the clients' connections. */
  readonly closedMs: number
}

describe(
  'load: 100 clients, documents, assets, QIDO, metadata and frames',
  { timeout: 150_000 },
  () => {
    let work: string
    let orthanc: OrthancServer
    let child: ChildProcess | undefined
    let port = 0
    const mix: AutocannonRequest[] = []
    const memoryWaiters: Array<(memory: Memory) => void> = []

    /** The gateway's memory right after a full collection (see CHILD_SCRIPT). */
    const memoryAfterGc = (): Promise<Memory> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no memory report')), 10_000)
        memoryWaiters.push((memory) => {
          clearTimeout(timer)
          resolve(memory)
        })
        child?.kill('SIGUSR2')
      })

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'isogate-load-'))
      const folder = join(work, 'dicom')
      mkdirSync(folder)
      for (const name of ['CT_small.dcm', 'MR_small.dcm']) {
        copyFileSync(join(PYDICOM_FILES, name), join(folder, name))
      }
      await writeCtVolume(folder, { slices: 8, size: 128, seed: 'load' })
      orthanc = await startOrthanc()
      await orthanc.upload(join(PYDICOM_FILES, 'CT_small.dcm'))
      await orthanc.upload(join(PYDICOM_FILES, 'MR_small.dcm'))

      const config = {
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: join(work, 'state'),
        sources: [
          { name: 'local', mode: 'embedded', folder, watch: false },
          { name: 'pacs', mode: 'proxy', upstream: [orthanc.dicomWebRoot], kind: 'orthanc' },
        ],
      }
      child = spawn(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD_SCRIPT],
        {
          cwd: ROOT,
          env: { ...process.env, ISOGATE_LOAD_CONFIG: JSON.stringify(config) },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let output = ''
      let pending = ''
      child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)))
      child.stdout?.on('data', (c: Buffer) => {
        pending += c.toString()
        for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
          const line = pending.slice(0, end)
          pending = pending.slice(end + 1)
          output = (output + line + '\n').slice(-4000)
          const parsed = JSON.parse(line) as { port?: number; memory?: Memory }
          if (parsed.port !== undefined) portFound?.(parsed.port)
          if (parsed.memory) memoryWaiters.shift()?.(parsed.memory)
        }
      })
      let portFound: ((port: number) => void) | undefined
      port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`gateway did not start:\n${output}`)),
          60_000,
        )
        portFound = (found) => {
          clearTimeout(timer)
          resolve(found)
        }
        child?.once('exit', (code) => reject(new Error(`gateway exited ${code}:\n${output}`)))
      })
      const origin = `http://127.0.0.1:${port}`

      // The mix: a request list every client walks through in turn.
      const html = { Accept: 'text/html' }
      // CT_small is the CT study that is not the generated volume; the volume has its seed's ID.
      const volumeId = (s: Json) => valueOf(s, '00100020') === 'ISOGATE-load'
      const isCt = (s: Json) => JSON.stringify(s['00080061']?.Value ?? []).includes('"CT"')
      const local = await firstInstance(origin, 'local', (s) => isCt(s) && !volumeId(s))
      const volume = await firstInstance(origin, 'local', volumeId)
      const pacs = await firstInstance(origin, 'pacs', isCt)
      const frame = (source: string, at: InstancePath) =>
        `/dicomweb/${source}/studies/${at.study}/series/${at.series}/instances/${at.sop}/frames/1`
      const add = (path: string, headers: Record<string, string> = {}) =>
        mix.push({ method: 'GET', path, headers })
      add('/', html)
      add(`/viewer?StudyInstanceUIDs=${local.study}`, html)
      add('/app-config.js')
      add('/2623.css')
      add('/100.bundle.cb02411ce321d4e4.js')
      add('/9383.bundle.40008913697b48b8.js')
      add('/37fa160cc3a47cfd.wasm')
      add('/dicomweb/local/studies', { Accept: JSON_ACCEPT })
      add(`/dicomweb/local/studies/${volume.study}/series`, { Accept: JSON_ACCEPT })
      add(`/dicomweb/local/studies/${local.study}/series/${local.series}/metadata`)
      add(`/dicomweb/local/studies/${volume.study}/series/${volume.series}/metadata`)
      add(frame('local', local), { Accept: FRAME_ACCEPT })
      add(frame('local', volume), { Accept: FRAME_ACCEPT })
      add('/dicomweb/pacs/studies?includefield=00081030%2C00080060', { Accept: JSON_ACCEPT })
      add(`/dicomweb/pacs/studies/${pacs.study}/series`, { Accept: JSON_ACCEPT })
      add(`/dicomweb/pacs/studies/${pacs.study}/series/${pacs.series}/metadata`)
      add(frame('pacs', pacs), { Accept: FRAME_ACCEPT })
      // Each request of the mix answers 200 before any load, so a failure below is the load's.
      for (const request of mix) {
        const response = await getOnce(`${origin}${request.path}`, request.headers)
        assert.equal(response.status, 200, request.path)
      }
    })

    after(async () => {
      if (child?.pid && child.exitCode === null) {
        const exited = new Promise((r) => child?.once('exit', r))
        process.kill(child.pid, 'SIGTERM')
        const timer = setTimeout(() => child?.pid && process.kill(child.pid, 'SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      await orthanc?.stop()
      if (work) rmSync(work, { recursive: true, force: true })
    })

    it('serves every request with a 2xx, and memory and handles stay flat', async (t) => {
      const pid = child?.pid as number
      const samples: Sample[] = []
      const MB = 1024 * 1024
      for (let window = 1; window <= WINDOWS; window++) {
        const result = await autocannon({
          url: `http://127.0.0.1:${port}`,
          connections: CONNECTIONS,
          duration: WINDOW_SECONDS,
          timeout: REQUEST_TIMEOUT_S,
          requests: mix,
        })
        // Clients are gone: their sockets must close on the gateway's side too, promptly.
        const closing = Date.now()
        while (
          tcpSockets(pid, port, orthanc.port).clients > 0 &&
          Date.now() - closing < CLIENT_CLOSE_MS
        ) {
          await sleep(100)
        }
        const closedMs = Date.now() - closing
        await sleep(SETTLE_MS)
        const memory = await memoryAfterGc()
        const sample: Sample = {
          window,
          requests: result.requests.total,
          rps: Math.round(result.requests.average),
          p99Ms: result.latency.p99,
          rssMb: Math.round(rssOf(pid) / MB),
          heapMb: Math.round((memory.heapUsed + memory.external) / MB),
          externalMb: Math.round(memory.external / MB),
          fds: fdCounts(pid),
          sockets: tcpSockets(pid, port, orthanc.port),
          closedMs,
        }
        samples.push(sample)
        t.diagnostic(`window ${window}: ${JSON.stringify(sample)}`)
        const codes = Object.keys(result.statusCodeStats).join(', ')
        assert.equal(result.errors, 0, `window ${window}: ${result.errors} socket errors`)
        assert.equal(result.timeouts, 0, `window ${window}: ${result.timeouts} timeouts`)
        assert.equal(result.non2xx, 0, `window ${window}: non-2xx replies (statuses ${codes})`)
        assert.equal(result.resets, 0, `window ${window}: ${result.resets} resets`)
        assert.ok(result.requests.total > CONNECTIONS * mix.length, `window ${window}: too few`)
        // No client connection outlives its client.
        assert.equal(
          sample.sockets.clients,
          0,
          `window ${window}: client sockets left open (${sample.sockets.clientStates.join(', ')})`,
        )
        assert.equal(child?.exitCode, null, 'the gateway exited under load')
      }
      const first = samples[0] as Sample
      const last = samples[samples.length - 1] as Sample
      const total = samples.reduce((n, s) => n + s.requests, 0)
      const after = samples.slice(1).reduce((n, s) => n + s.requests, 0)
      const perRequest = (mb: number) => Math.round((Math.max(0, mb) * MB) / Math.max(1, after))
      t.diagnostic(
        `load: ${total} requests by ${CONNECTIONS} clients in ${WINDOWS} windows of ` +
          `${WINDOW_SECONDS} s, 0 errors; after the first window → the last: ` +
          `RSS ${first.rssMb} → ${last.rssMb} MB, heap ${first.heapMb} → ${last.heapMb} MB ` +
          `(${perRequest(last.heapMb - first.heapMb)} B per request), ` +
          `fds ${first.fds.total} → ${last.fds.total}`,
      )
      assert.ok(
        (last.rssMb - first.rssMb) * MB <= RSS_MARGIN_BYTES,
        `RSS grew ${last.rssMb - first.rssMb} MB from window 1 to ${WINDOWS}`,
      )
      assert.ok(
        (last.heapMb - first.heapMb) * MB <= HEAP_MARGIN_BYTES,
        `live heap grew ${last.heapMb - first.heapMb} MB from window 1 to ${WINDOWS}`,
      )
      assert.ok(
        (last.fds.file ?? 0) <= (first.fds.file ?? 0) + FILE_MARGIN,
        `open files ${first.fds.file} → ${last.fds.file}`,
      )
      assert.ok(
        last.sockets.upstream <= UPSTREAM_POOL + 1,
        `upstream sockets ${last.sockets.upstream}`,
      )
      assert.ok(
        (last.fds.total ?? 0) <=
          (first.fds.total ?? 0) - first.sockets.upstream + UPSTREAM_POOL + 1 + FILE_MARGIN,
        `descriptors ${first.fds.total} → ${last.fds.total}`,
      )
      assert.equal(last.sockets.listening, first.sockets.listening)
      assert.equal(last.sockets.other, first.sockets.other, 'sockets to elsewhere appeared')
    })
  },
)

/**
 * One GET on a connection of its own, closed after the reply: a keep-alive connection left by
 * the test would be counted as a client socket the gateway failed to close.
 */
function getOnce(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (c: Buffer) => chunks.push(c))
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }),
      )
      response.on('error', reject)
    })
    request.on('error', reject)
  })
}

interface InstancePath {
  readonly study: string
  readonly series: string
  readonly sop: string
}

type Json = Record<string, { Value?: unknown[] }>
const valueOf = (item: Json, tag: string) => String(item[tag]?.Value?.[0] ?? '')

/**
 * The first instance of the first study that `pick` accepts, read through the gateway itself
 * (QIDO), so the mix names only what the sources really hold.
 */
async function firstInstance(
  origin: string,
  source: string,
  pick: (study: Json) => boolean,
): Promise<InstancePath> {
  const get = async (path: string) => {
    const response = await getOnce(`${origin}/dicomweb/${source}${path}`, {
      Accept: JSON_ACCEPT,
    })
    assert.equal(response.status, 200, path)
    return JSON.parse(response.body.toString('utf8')) as Json[]
  }
  const studies = await get('/studies?includefield=00100020&includefield=00080061')
  const study = studies.find(pick)
  assert.ok(study, `${source}: no such study among ${studies.length}`)
  const studyUid = valueOf(study, '0020000D')
  const instances = await get(`/studies/${studyUid}/instances`)
  const first = instances[0] as Json
  return { study: studyUid, series: valueOf(first, '0020000E'), sop: valueOf(first, '00080018') }
}

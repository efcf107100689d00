/**
 * Faults: an upstream that is down, refuses, stalls, resets mid-body, answers 5xx or nonsense
 * (clear errors with isolation headers, everything else still served, recovery when it comes
 * back); thousands of requests aborted mid-frame against `isogate serve` as a child process,
 * with its file descriptors counted before and after; SIGTERM with a request in flight; a
 * restart that reuses the index and the certificate; and an embedded folder whose files are
 * deleted, truncated or replaced (by a directory, by a FIFO) while being served.
 *
 * `npx tsc -p tsconfig.build.json` first: the child runs bin/isogate.js over dist/.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess, execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import type { EmbeddedDataSource } from '../../src/dicomweb/embedded/index.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { writeCtVolume } from '../helpers/dicom-volume.js'
import { fdCounts, get, raw, sleep, writeViewer } from './hardening-kit.js'

const ROOT = new URL('../../', import.meta.url).pathname
const BIN = join(ROOT, 'bin', 'isogate.js')
const ABORT_TARGET = 10_000
const ABORT_BUDGET_MS = 60_000

type Mode = 'ok' | 'slow' | 'reset-mid' | '5xx' | 'nonsense' | 'drip'

/** An upstream whose behaviour the test switches; it can also stop listening and come back. */
class FakeUpstream {
  mode: Mode = 'ok'
  port = 0
  /** Responses whose client (the gateway) went away before the body was complete. */
  cancelled = 0
  finished = 0
  readonly sockets = new Set<Socket>()
  private server: http.Server | undefined

  get root(): string {
    return `http://127.0.0.1:${this.port}/dicom-web`
  }

  async start(port = 0): Promise<void> {
    const server = http.createServer((request, response) => this.answer(request, response))
    server.keepAliveTimeout = 5_000
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
    this.port = (server.address() as { port: number }).port
    this.server = server
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise((r) => this.server?.close(r))
    this.server = undefined
  }

  private answer(request: http.IncomingMessage, response: http.ServerResponse): void {
    response.on('close', () => {
      if (response.writableFinished) this.finished++
      else this.cancelled++
    })
    const url = request.url ?? ''
    if (url.includes('/slow-ok')) {
      setTimeout(() => response.writeHead(200, { 'Content-Type': 'text/plain' }).end('done'), 1500)
      return
    }
    if (url.includes('/frames/') || this.mode === 'drip') {
      // 2 MiB in 64 KiB pieces every 5 ms: long enough to be aborted mid-body.
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
      let sent = 0
      const piece = Buffer.alloc(64 * 1024, 7)
      const timer = setInterval(() => {
        if (response.destroyed) return clearInterval(timer)
        response.write(piece)
        if (++sent === 32) {
          clearInterval(timer)
          response.end()
        }
      }, 5)
      response.on('close', () => clearInterval(timer))
      return
    }
    switch (this.mode) {
      case 'ok':
        response.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end('[]')
        return
      case 'slow':
        return // never answers; the source timeout decides
      case 'reset-mid':
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        response.write(Buffer.alloc(4096, 1))
        setTimeout(() => request.socket.resetAndDestroy(), 30)
        return
      case '5xx':
        response.writeHead(503, { 'Content-Type': 'text/plain' }).end('maintenance')
        return
      case 'nonsense':
        request.socket.end('SPDY/9 banana\r\n\r\nnot http at all')
        return
    }
  }
}

/** `isogate serve` as a child process; resolves with its URL once it prints it. */
async function serveChild(
  args: readonly string[],
): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line:\n${out}`)), 30_000)
    const check = () => {
      const match = / at (https?:\/\/[^\s]+)/.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve(match[1] as string)
      }
    }
    child.stdout?.on('data', check)
    child.once('exit', (code) => reject(new Error(`exited ${code} at start:\n${out}`)))
  })
  return { child, url, out: () => out }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; at: number }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve({ code: child.exitCode, at: Date.now() })
    else child.once('exit', (code) => resolve({ code, at: Date.now() }))
  })
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exitOf(child)
  clearTimeout(timer)
}

/** Connects, asks for `target`, and destroys the socket at the first body bytes. */
function abortAfterFirstBytes(port: number, target: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let seen = 0
    const done = (midBody: boolean) => {
      socket.destroy()
      resolve(midBody)
    }
    const timer = setTimeout(() => done(false), 10_000)
    socket.on('error', () => {
      clearTimeout(timer)
      done(false)
    })
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length
      if (seen > 2048) {
        clearTimeout(timer)
        done(true)
      }
    })
    socket.write(get(target, { Accept: 'multipart/related; type="application/octet-stream"' }))
  })
}

/** The process's TCP sockets (from `ss`), with their states and peers. */
function socketsOf(pid: number): string[] {
  const ss = spawnSync('ss', ['-tanp'], { encoding: 'utf8' })
  return (ss.stdout ?? '').split('\n').filter((line) => line.includes(`pid=${pid},`))
}

/** Sockets of a process by kind: connections to `upstreamPort`, and every other one. */
function socketKinds(pid: number, upstreamPort: number): { upstream: number; rest: number } {
  const lines = socketsOf(pid)
  const upstream = lines.filter((l) => l.split(/\s+/)[4]?.endsWith(`:${upstreamPort}`)).length
  return { upstream, rest: lines.length - upstream }
}

describe('faults', { timeout: 240_000 }, () => {
  let work: string
  let upstream: FakeUpstream
  let gw: RunningGateway
  let folder: string
  let frames: string[] = []
  const children: ChildProcess[] = []

  const framesOf = (name: string) => frames.map((f) => f.replace('/local/', `/${name}/`))

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'isogate-hard-faults-'))
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
      throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` first')
    }
    upstream = new FakeUpstream()
    await upstream.start()
    folder = join(work, 'dicom')
    const study = await writeCtVolume(folder, { slices: 6, size: 256, seed: 'faults' })
    writeFileSync(join(folder, 'notes.txt'), 'not DICOM at all')
    const viewer = join(work, 'viewer')
    await writeViewer(viewer)
    gw = await startGateway(
      validateConfig({
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: join(work, 'state'),
        viewer: { root: viewer },
        sources: [
          { name: 'local', mode: 'embedded', folder, watch: false },
          { name: 'pacs', mode: 'proxy', upstream: [upstream.root], timeoutMs: 800 },
        ],
      } as IsogateConfigInput),
    )
    const instances = (await (
      await fetch(`${gw.origin}/dicomweb/local/studies/${study.studyInstanceUid}/instances`)
    ).json()) as Array<Record<string, { Value: string[] }>>
    frames = instances.map(
      (i) =>
        `/dicomweb/local/studies/${study.studyInstanceUid}/series/${i['0020000E']!.Value[0]}` +
        `/instances/${i['00080018']!.Value[0]}/frames/1`,
    )
    assert.equal(frames.length, 6)
  })

  after(async () => {
    for (const child of children) await stopChild(child)
    await gw?.close()
    await upstream?.stop()
    rmSync(work, { recursive: true, force: true })
  })

  it('answers upstream faults with clear errors, serves the rest, and recovers', async (t) => {
    const expected: Array<[Mode | 'down', number, string]> = [
      ['down', 502, 'ISOGATE_E_PROXY_UNREACHABLE'],
      ['slow', 504, 'ISOGATE_E_PROXY_TIMEOUT'],
      ['nonsense', 502, 'ISOGATE_E_PROXY_BAD_RESPONSE'],
      ['5xx', 503, ''],
      ['reset-mid', 200, ''],
    ]
    const port = upstream.port
    for (const [mode, status, code] of expected) {
      if (mode === 'down') await upstream.stop()
      else upstream.mode = mode
      const reply = await raw(gw.port, get('/dicomweb/pacs/studies'), { timeoutMs: 8_000 })
      assert.equal(reply.status, status, mode)
      if (code) {
        assert.equal((JSON.parse(reply.body) as { error: string }).error, code, mode)
        assert.match(reply.headers['cross-origin-embedder-policy'] ?? '', /require-corp/, mode)
        assert.match(reply.headers['cross-origin-opener-policy'] ?? '', /same-origin/, mode)
        assert.doesNotMatch(reply.body, new RegExp(`127\\.0\\.0\\.1:${port}`), mode)
      }
      if (mode === 'reset-mid') {
        // Headers were sent: the body is cut short, never padded or hung.
        assert.ok(reply.closedByServer && reply.ms < 5_000, `reset-mid took ${reply.ms} ms`)
      }
      // Everything else is served meanwhile.
      assert.equal((await raw(gw.port, get('/'))).status, 200, `viewer during ${mode}`)
      assert.equal((await raw(gw.port, get(frames[0] as string))).status, 200, mode)
      if (mode === 'down') await upstream.start(port)
      upstream.mode = 'ok'
      const back = await raw(gw.port, get('/dicomweb/pacs/studies'))
      assert.equal(back.status, 200, `recovery after ${mode}`)
    }
    t.diagnostic(`upstream fault classes: ${expected.length}, each followed by a recovery`)
  })

  it('cancels the upstream request when the client aborts mid-frame', async () => {
    const before = upstream.cancelled
    const midBody = await abortAfterFirstBytes(
      gw.port,
      '/dicomweb/pacs/studies/1/series/2/instances/3/frames/1',
    )
    assert.ok(midBody)
    const deadline = Date.now() + 3_000
    while (upstream.cancelled === before && Date.now() < deadline) await sleep(20)
    assert.equal(upstream.cancelled, before + 1, 'the upstream kept sending to nobody')
    // The client left; the upstream did nothing wrong and is not reported down for it.
    await sleep(100)
    const pacs = gw.sources.find((s) => s.name === 'pacs')!
    assert.equal(pacs.status().health, 'up', 'a client abort reported as an upstream fault')
    // An embedded frame aborted mid-body closes its file.
    const source = gw.sources.find((s) => s.name === 'local') as EmbeddedDataSource
    for (const frame of frames) await abortAfterFirstBytes(gw.port, frame)
    await sleep(200)
    assert.equal((source.status().details as { openFiles: number }).openFiles, 0)
  })

  it('leaks no socket or file after thousands of aborted requests (child process)', async (t) => {
    const { child, url } = await serveChild([
      folder,
      '--source',
      `pacs=${upstream.root}`,
      '--state-dir',
      join(work, 'state-child'),
    ])
    children.push(child)
    const port = Number(new URL(url).port)
    const pid = child.pid as number
    // The child names the folder's source after the folder.
    const frames = framesOf('dicom')
    // Warm up every path once (pools, file handles, lazy modules).
    for (const frame of frames) assert.equal((await raw(port, get(frame))).status, 200)

    let sent = 0
    let midBody = 0
    let proxied = 0
    const abortMany = async (count: number, budgetMs: number): Promise<void> => {
      const started = Date.now()
      const stopAt = sent + count
      const worker = async () => {
        while (sent < stopAt && Date.now() - started < budgetMs) {
          const n = sent++
          const viaProxy = n % 4 === 0
          if (viaProxy) proxied++
          const target = viaProxy
            ? `/dicomweb/pacs/studies/1/series/2/instances/${n}/frames/1`
            : (frames[n % frames.length] as string)
          if (await abortAfterFirstBytes(port, target)) midBody++
        }
      }
      await Promise.all(Array.from({ length: 24 }, () => worker()))
    }
    // A first round at the same concurrency fills the upstream keep-alive pool (up to one
    // socket per concurrent request, kept for reuse): those sockets are the pool, not a leak.
    await abortMany(500, ABORT_BUDGET_MS)
    await sleep(1_000)
    const baseline = fdCounts(pid)
    const upstreamPort = Number(new URL(upstream.root).port)
    const baselineSockets = socketKinds(pid, upstreamPort)
    sent = 0
    midBody = 0
    proxied = 0

    const started = Date.now()
    const cancelledBefore = upstream.cancelled
    await abortMany(ABORT_TARGET, ABORT_BUDGET_MS)
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    await sleep(2_500)
    const afterRun = fdCounts(pid)
    const afterSockets = socketKinds(pid, upstreamPort)
    t.diagnostic(
      `aborted requests: ${sent} in ${seconds} s (${midBody} mid-body, ${proxied} proxied; ` +
        `upstream cancelled ${upstream.cancelled - cancelledBefore}); fds before ` +
        `${JSON.stringify(baseline)}, after ${JSON.stringify(afterRun)}`,
    )
    assert.ok(midBody >= sent * 0.9, `only ${midBody} of ${sent} were aborted mid-body`)
    // Keep-alive connections to the upstream are the pool's, reused and bounded (checked
    // below from the upstream's side); every other socket must be back to the baseline.
    assert.ok(
      afterSockets.rest <= baselineSockets.rest + 1,
      `sockets other than the upstream pool ${baselineSockets.rest} → ${afterSockets.rest}:\n` +
        socketsOf(pid).join('\n'),
    )
    assert.ok(
      (afterRun.socket ?? 0) - afterSockets.upstream <=
        (baseline.socket ?? 0) - baselineSockets.upstream + 2,
      `socket fds ${baseline.socket} → ${afterRun.socket} (pool ${baselineSockets.upstream} → ` +
        `${afterSockets.upstream})`,
    )
    assert.ok(
      (afterRun.file ?? 0) <= (baseline.file ?? 0) + 2,
      `files ${baseline.file} → ${afterRun.file}`,
    )
    assert.ok(
      upstream.cancelled - cancelledBefore >= proxied * 0.9,
      'upstream requests not cancelled',
    )
    assert.ok(upstream.sockets.size <= 33, `${upstream.sockets.size} upstream sockets left`)
    // Still serving.
    assert.equal((await raw(port, get(frames[0] as string))).status, 200)
    await stopChild(child)
  })

  it('finishes in-flight requests on SIGTERM and exits 0', async () => {
    const { child, url } = await serveChild([
      folder,
      '--source',
      `pacs=${upstream.root}`,
      '--state-dir',
      join(work, 'state-child'),
    ])
    children.push(child)
    const port = Number(new URL(url).port)
    const inFlight = raw(port, get('/dicomweb/pacs/studies/slow-ok'), { timeoutMs: 10_000 })
    await sleep(300)
    const signalled = Date.now()
    child.kill('SIGTERM')
    const [reply, exit] = await Promise.all([inFlight, exitOf(child)])
    assert.equal(reply.status, 200)
    assert.match(reply.body, /done/)
    assert.equal(exit.code, 0)
    assert.ok(exit.at - signalled < 10_000, `exit took ${exit.at - signalled} ms`)
    const late = await raw(port, get('/'), { timeoutMs: 2_000 })
    assert.equal(late.status, 0, 'nothing answers after exit')
  })

  it('reuses the index and the certificate on restart', async () => {
    const state = join(work, 'state-restart')
    const args = [folder, '--tls', 'auto', '--state-dir', state]
    const first = await serveChild(args)
    children.push(first.child)
    await stopChild(first.child)
    const indexDir = join(state, 'embedded-index')
    const files = [
      join(state, 'tls', 'cert.pem'),
      join(state, 'tls', 'key.pem'),
      ...readdirSync(indexDir).map((n) => join(indexDir, n)),
    ]
    const stamp = () => files.map((f) => `${f}:${statSync(f).mtimeMs}:${statSync(f).size}`)
    const before = stamp()
    await sleep(50)
    const second = await serveChild(args)
    children.push(second.child)
    assert.deepEqual(stamp(), before, 'certificate or index rewritten on restart')
    assert.equal(readdirSync(indexDir).length, files.length - 2)
    await stopChild(second.child)
    assert.equal(
      second.child.exitCode,
      0,
      `${second.child.signalCode} ${JSON.stringify(second.out())}`,
    )
  })

  it('survives files deleted, truncated or replaced while being served', async (t) => {
    const source = gw.sources.find((s) => s.name === 'local') as EmbeddedDataSource
    /** Starts a frame download, reads a little, runs `change`, then reads the rest. */
    const during = async (target: string, change: () => void) => {
      const socket = connect(gw.port, '127.0.0.1')
      socket.on('error', () => undefined)
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.write(get(target))
      await new Promise((r) => socket.once('data', r))
      socket.pause()
      change()
      await sleep(50)
      socket.resume()
      await new Promise((r) => {
        socket.once('close', r)
        setTimeout(r, 5_000)
      })
      socket.destroy()
      return Buffer.concat(chunks).toString('latin1')
    }
    const changes: Array<[string, (file: string) => void]> = [
      ['deleted', (f) => unlinkSync(f)],
      ['truncated', (f) => truncateSync(f, 1000)],
      ['replaced by a directory', (f) => (unlinkSync(f), mkdirSync(f))],
      ['replaced by a FIFO', (f) => (unlinkSync(f), execFileSync('mkfifo', [f]))],
      ['replaced by other bytes', (f) => writeFileSync(f, Buffer.alloc(200_000, 1))],
    ]
    for (let i = 0; i < changes.length; i++) {
      const [what, change] = changes[i] as [string, (f: string) => void]
      const target = frames[i] as string
      const file = await fileOf(source, target)
      const text = await during(target, () => change(file))
      assert.match(text, /^HTTP\/1\.1 200/, what)
      const next = await raw(gw.port, get(target), { timeoutMs: 5_000 })
      assert.ok([200, 404, 410].includes(next.status), `${what}: then ${next.status}`)
      if (next.status !== 200) {
        assert.match(next.headers['cross-origin-embedder-policy'] ?? '', /require-corp/)
      }
      assert.equal((await raw(gw.port, get('/'))).status, 200, `viewer after ${what}`)
    }
    // A symlink loop and a non-DICOM file are skipped by the re-scan; nothing crashes.
    execFileSync('ln', ['-s', join(folder, 'loop-b'), join(folder, 'loop-a')])
    execFileSync('ln', ['-s', join(folder, 'loop-a'), join(folder, 'loop-b')])
    await source.rescan()
    const details = source.status().details as { skipped: Array<{ path: string; reason: string }> }
    const reasons = Object.fromEntries(details.skipped.map((s) => [s.path, s.reason]))
    assert.match(reasons['notes.txt'] ?? '', /DICM|not/)
    assert.match(reasons['loop-a'] ?? '', /loop/, JSON.stringify(details.skipped))
    for (const target of frames.slice(0, changes.length)) {
      const reply = await raw(gw.port, get(target), { timeoutMs: 5_000 })
      assert.ok([404, 410].includes(reply.status), `${target} after re-scan: ${reply.status}`)
    }
    assert.equal((await raw(gw.port, get(frames[5] as string))).status, 200)
    t.diagnostic(`file changes while serving: ${changes.length}, plus loop and non-DICOM skips`)
  })
})

/** The file behind a frame URL: the one whose bytes hold its SOP Instance UID. */
async function fileOf(source: EmbeddedDataSource, target: string): Promise<string> {
  const sop = /instances\/([^/]+)\/frames/.exec(target)?.[1] as string
  const dir = (source.status().details as { folder: string }).folder
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (!name.endsWith('.dcm') || !statSync(path).isFile()) continue
    if ((await readFile(path)).subarray(0, 4096).includes(sop)) return path
  }
  throw new Error(`no file holds ${sop}`)
}

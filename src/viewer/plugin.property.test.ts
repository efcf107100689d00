/**
 * Property tests for how a request path becomes a file of the viewer build: the pure resolver
 * (`viewerPathOf`) and the whole gateway answering raw requests over a socket, so that nothing
 * normalises the path on the way (an HTTP client or `inject` would resolve `%2e%2e` first). The
 * paths are built from every spelling of a way out: `..`, `%2e%2e`, double encoding,
 * backslashes, NUL, overlong UTF-8, look-alike Unicode dots, `;` parameters. Next to the build
 * sit a secret file, and links to it; no reply may ever carry it. Each property prints its count.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve, sep } from 'node:path'
import { after, before, describe, it } from 'node:test'

import fc from 'fast-check'

import { validateConfig } from '../config/load.js'
import { writeCtVolume } from '../dicomweb/demo/generate.js'
import { startGateway, type RunningGateway } from '../gateway/start.js'
import { viewerPathOf } from './safe-path.js'
import { holds } from '../../test/helpers/property.js'

const SECRET_SIBLING = 'SECRET-NEXT-TO-THE-BUILD'
const SECRET_DOTFILE = 'SECRET-IN-A-DOTFILE'
const HASHED = 'app.3f9a2c1b.js'

/** Path segments: names in the build, names outside it, and every spelling of a way out. */
const segment = fc.constantFrom(
  ...[
    ...['index.html', HASHED, 'assets', 'style.css', 'app-config.js', 'viewer', 'site'],
    ...['secret.txt', 'leak.txt', 'up', 'linked', '.env', '%2eenv', '.git', 'dicomweb'],
    ...['..', '.', '...', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%2e', '..%2f', '%2f', '%2F'],
    ...['%252e%252e', '%25252e%25252e', '%252f', '%5c', '\\', '..\\', '%5c..', '..%5c'],
    ...['%00', '\0', 'index.html%00', '%c0%ae%c0%ae', '%c0%2e', '%e0%80%ae', '%c1%9c'],
    ...['%c0%af', '%e0%80%af', '%u002e%u002e', '..;', ';', '%3b', '..;x=y', '%2e%2e;'],
    ...['\u2025', '\uff0e\uff0e', '%ef%bc%8e%ef%bc%8e', '%e2%80%a5', '%', '%zz', '%e0%a4%a'],
    ...['', 'a', '~', '*', '%20', '..%00', '%2e%2e%00', '/', '//', 'etc', 'passwd'],
  ],
)
/** Mostly names in the build, so that ways out are tried next to paths that do resolve. */
const weighted = fc.oneof(
  { arbitrary: fc.constantFrom('index.html', HASHED, 'assets', 'style.css', 'linked'), weight: 2 },
  { arbitrary: segment, weight: 3 },
)
const rest = fc.array(weighted, { maxLength: 8 }).map((parts) => parts.join('/'))

describe('viewerPathOf', () => {
  it('maps every path either to a refusal or to a file below the root', async (t) => {
    const root = resolve('/srv/viewer-root')
    await holds(
      t,
      'viewer path stays below the root',
      fc.property(fc.constantFrom('/', '/viewer/', '/a/b/'), rest, (base, tail) => {
        for (const raw of [`${base}${tail}`, tail, `/${tail}`]) {
          const verdict = viewerPathOf(raw, base)
          if (verdict.kind !== 'file') continue
          const segments = verdict.relPath.split('/')
          assert.ok(!segments.includes('..') && !segments.includes('.'), verdict.relPath)
          assert.ok(!/[\\\0]/.test(verdict.relPath), verdict.relPath)
          assert.ok(!segments.some((s) => s.startsWith('.')), `dot-file: ${verdict.relPath}`)
          const file = resolve(root, verdict.relPath)
          assert.ok(file === root || file.startsWith(root + sep), `${raw} → ${file}`)
        }
      }),
      5000,
    )
  })
})

interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Buffer
}

/** Sends one request exactly as given and reads the reply until the server closes. */
function exchange(port: number, request: Buffer): Promise<Reply> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const finish = () => {
      clearTimeout(timer)
      socket.destroy()
      const all = Buffer.concat(chunks)
      const end = all.indexOf('\r\n\r\n')
      const head = all.subarray(0, end < 0 ? all.length : end).toString('latin1')
      const [statusLine = '', ...lines] = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0)
      done({ status, headers, body: end < 0 ? Buffer.alloc(0) : all.subarray(end + 4) })
    }
    const timer = setTimeout(finish, 5_000)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', finish)
    socket.on('close', finish)
    socket.write(request)
  })
}

function get(target: string, headers: Record<string, string> = {}): Buffer {
  const lines = [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  // UTF-8 on the wire, as a browser would send a raw non-ASCII path if it did not encode it.
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8')
}

describe('the viewer served through the gateway', () => {
  let work: string
  let gw: RunningGateway
  /** Every body a 200 may carry: the files inside the build and the generated app-config. */
  const allowed = new Set<string>()

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'isogate-viewer-prop-'))
    const site = join(work, 'site')
    const viewer = join(site, 'viewer')
    mkdirSync(join(viewer, 'assets'), { recursive: true })
    const inside: Array<[string, string]> = [
      ['index.html', '<!doctype html><title>viewer</title><p>VIEWER-INDEX'],
      [HASHED, 'console.log("app")\n'],
      [join('assets', 'style.css'), 'body { color: black }\n'],
      ['app-config.js', 'window.config = { original: true }\n'],
    ]
    for (const [name, text] of inside) writeFileSync(join(viewer, name), text)
    writeFileSync(join(viewer, '.env'), SECRET_DOTFILE)
    writeFileSync(join(site, 'secret.txt'), SECRET_SIBLING)
    writeFileSync(join(work, 'secret.txt'), SECRET_SIBLING)
    // Links out of the build: to the secret file and to the folder that holds it.
    symlinkSync(join(site, 'secret.txt'), join(viewer, 'leak.txt'))
    symlinkSync(site, join(viewer, 'assets', 'up'))
    symlinkSync(join(viewer, 'assets'), join(viewer, 'linked'))
    // Precompressed siblings are sent in place of their file: links out through them too.
    writeFileSync(join(viewer, 'app.3f9a2c1b.js'), 'globalThis.app = 1\n')
    symlinkSync(join(site, 'secret.txt'), join(viewer, 'app.3f9a2c1b.js.br'))
    symlinkSync(join(site, 'secret.txt'), join(viewer, 'index.html.gz'))
    const folder = join(work, 'dicom')
    await writeCtVolume(folder, { slices: 1, size: 16, seed: 'viewer-property' })
    gw = await startGateway(
      validateConfig({
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: join(work, 'state'),
        viewer: { root: viewer, basePath: '/viewer/' },
        sources: [{ name: 'local', mode: 'embedded', folder, watch: false }],
      }),
    )
    for (const [name] of inside.slice(0, 3)) {
      allowed.add(readFileSync(join(viewer, name)).toString('latin1'))
    }
    allowed.add(readFileSync(join(viewer, 'app.3f9a2c1b.js')).toString('latin1'))
    const appConfig = await exchange(gw.port, get('/viewer/app-config.js'))
    assert.equal(appConfig.status, 200)
    allowed.add(appConfig.body.toString('latin1'))
    // The baseline the refusals are measured against: a file through a link inside the build.
    const linked = await exchange(gw.port, get('/viewer/linked/style.css'))
    assert.equal(linked.status, 200)
  })

  after(async () => {
    await gw?.close()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('never sends a precompressed sibling that links out of the build', async () => {
    for (const [path, coding] of [
      ['/viewer/app.3f9a2c1b.js', 'br'],
      ['/viewer/', 'gzip'],
      ['/viewer/index.html', 'gzip'],
      ['/viewer/viewer?StudyInstanceUIDs=1', 'gzip'],
    ] as const) {
      const reply = await exchange(gw.port, get(path, { 'Accept-Encoding': coding }))
      assert.equal(reply.status, 200, path)
      assert.ok(!reply.body.toString('latin1').includes(SECRET_SIBLING), `secret sent for ${path}`)
    }
  })

  it('never answers with a file outside the build, whatever the path', async (t) => {
    const prefix = fc.constantFrom('/viewer/', '/viewer', '/', '', '/viewer/assets/', '//viewer/')
    const query = fc.constantFrom('', '?x=1', '?../../secret.txt', '?%2e%2e%2fsecret.txt', '#x')
    const accept = fc.constantFrom<Record<string, string>>(
      {},
      { Accept: 'text/html' },
      { 'Accept-Encoding': 'br, gzip' },
    )
    let served = 0
    await holds(
      t,
      'gateway serves nothing outside the viewer root',
      fc.asyncProperty(prefix, rest, query, accept, async (p, tail, q, headers) => {
        const target = `${p}${tail}${q}`
        const reply = await exchange(gw.port, get(target, headers))
        const text = reply.body.toString('latin1')
        assert.ok(!text.includes(SECRET_SIBLING), `secret served for ${JSON.stringify(target)}`)
        assert.ok(!text.includes(SECRET_DOTFILE), `dot-file served for ${JSON.stringify(target)}`)
        assert.ok(reply.status >= 200 && reply.status < 500, `${target} → ${reply.status}`)
        if (reply.status === 200) {
          served++
          assert.ok(allowed.has(text), `unexpected body for ${JSON.stringify(target)}`)
        }
        if (reply.status >= 300 && reply.status < 400) {
          assert.match(reply.headers.location ?? '', /^\/viewer\//)
        }
        // Refusals keep the isolation headers; files served carry their resource policy.
        const shown = `${JSON.stringify(target)} → ${reply.status} ${JSON.stringify(reply.headers)}`
        if (reply.status >= 400) {
          assert.match(reply.headers['cross-origin-embedder-policy'] ?? '', /^require-corp/, shown)
        } else {
          assert.ok(reply.headers['cross-origin-resource-policy'], shown)
        }
      }),
      600,
    )
    // Guard against a generator that only ever produces refusals.
    assert.ok(served > 0, 'no generated path reached a file at all')
    t.diagnostic(`viewer paths answered 200: ${served} of 600`)
  })
})

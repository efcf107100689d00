/**
 * The real gateway with the bundled OHIF: every response class carries the plan's headers, over
 * HTTP/1.1 on loopback and over HTTP/2 with a generated certificate, error replies included.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'

import { validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import type { ResponseClass } from '../../src/policy/plan.js'
import { bundledViewerRoot } from '../../src/viewer/locate.js'

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

const state = mkdtempSync(join(tmpdir(), 'isogate-serve-headers-'))
const DIRECT = { name: 'remote', mode: 'direct', url: 'https://dicom.example.test/dicom-web' }

function config(input: Record<string, unknown>) {
  return validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: state,
    sources: [DIRECT],
    ...input,
  } as IsogateConfigInput)
}

/** HTTP/1.1 request with the path sent exactly as given (no client-side normalisation). */
function get1(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path, method, headers },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (c: Buffer) => chunks.push(c))
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        )
      },
    )
    request.on('error', reject)
    request.end()
  })
}

/** A raw request line, for paths no HTTP client would send as they are. */
function rawStatus(origin: string, path: string): Promise<{ status: number; text: string }> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`)
    })
    let text = ''
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')))
    socket.on('end', () => resolve({ status: Number(text.split(' ')[1]), text }))
    socket.on('error', reject)
  })
}

/** The plan's headers for a class must all be there, with exactly the planned values. */
function assertPlanned(gateway: RunningGateway, reply: Reply, cls: ResponseClass, what: string) {
  for (const [name, value] of gateway.plan.classes[cls]) {
    assert.equal(reply.headers[name.toLowerCase()], value, `${what}: ${name}`)
  }
}

const CASES: Array<{
  path: string
  cls: ResponseClass
  accept?: string
  type?: RegExp
  cache?: string
}> = [
  { path: '/', cls: 'document', type: /^text\/html/ },
  { path: '/index.html', cls: 'document', type: /^text\/html/ },
  {
    path: '/viewer?StudyInstanceUIDs=1.2.3',
    cls: 'document',
    accept: 'text/html',
    type: /^text\/html/,
  },
  { path: '/tmtv', cls: 'document', accept: 'text/html', type: /^text\/html/ },
  { path: '/segmentation?StudyInstanceUIDs=x', cls: 'document', type: /^text\/html/ },
  { path: '/app-config.js', cls: 'app-config', type: /^text\/javascript/ },
  {
    path: '/app.bundle.0f6159c501addfe9.js',
    cls: 'script',
    type: /^text\/javascript/,
    cache: 'hashed',
  },
  {
    path: '/89.bundle.b327bf3664812958.js',
    cls: 'script',
    type: /^text\/javascript/,
    cache: 'hashed',
  },
  { path: '/histogram-worker.bundle.ec5f0cf05ce3909c.js', cls: 'worker', cache: 'hashed' },
  { path: '/compute.bundle.0fc3a3ee85296cf2.js', cls: 'worker', cache: 'hashed' },
  { path: '/0ddf166f7a343eda.wasm', cls: 'wasm', type: /^application\/wasm$/, cache: 'hashed' },
  {
    path: '/ort/ort-wasm-simd-threaded.wasm',
    cls: 'wasm',
    type: /^application\/wasm$/,
    cache: 'plain',
  },
  { path: '/app.bundle.css', cls: 'static', type: /^text\/css/, cache: 'plain' },
  { path: '/a34f9d1faa5f3315.woff2', cls: 'static', type: /^font\/woff2$/, cache: 'hashed' },
  { path: '/assets/favicon.ico', cls: 'static', cache: 'plain' },
]

// Literal values: each names the status page's collector (`Reporting-Endpoints: isogate=…`).
const COOP = 'same-origin; report-to="isogate"'
const COEP = 'require-corp; report-to="isogate"'

function checkCase(gateway: RunningGateway, c: (typeof CASES)[number], reply: Reply) {
  assert.equal(reply.status, 200, c.path)
  assertPlanned(gateway, reply, c.cls, c.path)
  if (c.type) assert.match(String(reply.headers['content-type']), c.type, c.path)
  if (c.cache === 'hashed') {
    assert.equal(reply.headers['cache-control'], 'public, max-age=31536000, immutable', c.path)
  }
  if (c.cache === 'plain') assert.equal(reply.headers['cache-control'], 'no-cache', c.path)
  // Literal checks too, so a plan that lost its headers would fail here as well.
  if (c.cls === 'document') {
    assert.equal(reply.headers['cross-origin-opener-policy'], COOP, c.path)
    assert.equal(reply.headers['cache-control'], 'no-store', c.path)
    assert.match(reply.body.toString('utf8'), /<div id="root">/)
  }
  if (c.cls !== 'static') {
    assert.equal(reply.headers['cross-origin-embedder-policy'], COEP, c.path)
  }
  assert.equal(reply.headers['cross-origin-resource-policy'], 'same-origin', c.path)
}

function checkError(gateway: RunningGateway, reply: Reply, status: number, code: string) {
  assert.equal(reply.status, status)
  assert.match(String(reply.headers['content-type']), /^application\/json/)
  assert.equal(JSON.parse(reply.body.toString('utf8')).error, code)
  assertPlanned(gateway, reply, 'error', `error ${status}`)
  assert.equal(reply.headers['cross-origin-embedder-policy'], COEP)
  assert.equal(reply.headers['cross-origin-opener-policy'], COOP)
}

describe('serve headers over HTTP/1.1 on loopback', () => {
  let gateway: RunningGateway
  before(async () => {
    gateway = await startGateway(config({}))
  })
  after(async () => {
    await gateway?.close()
  })

  for (const c of CASES) {
    it(`${c.cls}: ${c.path}`, async () => {
      const reply = await get1(gateway.origin, c.path, c.accept ? { accept: c.accept } : {})
      checkCase(gateway, c, reply)
    })
  }

  it('HEAD answers the same headers without a body', async () => {
    const path = '/0ddf166f7a343eda.wasm'
    const head = await get1(gateway.origin, path, {}, 'HEAD')
    const full = await get1(gateway.origin, path)
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)
    assert.equal(head.headers['content-length'], String(full.body.length))
    assert.equal(head.headers['content-type'], 'application/wasm')
    assertPlanned(gateway, head, 'wasm', 'HEAD')
  })

  it('revalidates with ETag (304 keeps the isolation headers)', async () => {
    const first = await get1(gateway.origin, '/app.bundle.css')
    const again = await get1(gateway.origin, '/app.bundle.css', {
      'if-none-match': String(first.headers.etag),
    })
    assert.equal(again.status, 304)
    assert.equal(again.body.length, 0)
    assert.equal(again.headers['cross-origin-resource-policy'], 'same-origin')
  })

  it('a missing asset is a 404 JSON error with the isolation headers', async () => {
    const reply = await get1(gateway.origin, '/missing.bundle.0123456789abcdef.js')
    checkError(gateway, reply, 404, 'ISOGATE_E_STATIC_NOT_FOUND')
    const worker = await get1(gateway.origin, '/nope', { 'sec-fetch-dest': 'worker' })
    checkError(gateway, worker, 404, 'ISOGATE_E_STATIC_NOT_FOUND')
    const source = await get1(gateway.origin, '/dicomweb/nope/studies', { accept: 'text/html' })
    checkError(gateway, source, 404, 'ISOGATE_E_STATIC_NOT_FOUND')
  })

  it('no path leaves the viewer root', async () => {
    const attempts = [
      '/../../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/assets/..%2f..%2f..%2fetc%2fpasswd',
      '/..%5c..%5cetc%5cpasswd',
      '/assets\\..\\..\\etc\\passwd',
      '/index.html%00.js',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
    ]
    for (const path of attempts) {
      const reply = await rawStatus(gateway.origin, path)
      assert.ok(reply.status === 400 || reply.status === 404, `${path}: ${reply.status}`)
      assert.doesNotMatch(reply.text, /root:x:0|"name": ?"isogate"/, path)
      assert.match(reply.text, /cross-origin-embedder-policy: require-corp/i, path)
    }
    const hidden = await get1(gateway.origin, '/.isogate-viewer.json')
    checkError(gateway, hidden, 404, 'ISOGATE_E_STATIC_NOT_FOUND')
  })

  it('a request the gateway cannot route is a 404 error with the isolation headers', async () => {
    const reply = await get1(gateway.origin, '/index.html', {}, 'DELETE')
    assert.equal(reply.status, 404)
    assertPlanned(gateway, reply, 'error', 'DELETE')
  })
})

describe('serve error replies: 500', () => {
  let gateway: RunningGateway
  const blocker = join(state, 'not-a-folder')
  before(async () => {
    // The state folder is a plain file, so the base-path copies cannot be written: a real
    // internal failure, not a simulated one.
    writeFileSync(blocker, 'x')
    gateway = await startGateway(config({ stateDir: blocker, viewer: { basePath: '/viewer/' } }))
  })
  after(async () => {
    await gateway?.close()
  })

  it('an internal failure is a 500 JSON error with the isolation headers', async () => {
    const reply = await get1(gateway.origin, '/viewer/', { accept: 'text/html' })
    checkError(gateway, reply, 500, 'ISOGATE_E_GATEWAY_INTERNAL')
  })
})

describe('serve precompressed files of a user build', () => {
  let gateway: RunningGateway
  const build = join(state, 'build')
  const script = 'x.bundle.0123456789abcdef.js'
  before(async () => {
    mkdirSync(build, { recursive: true })
    copyFileSync(join(bundledViewerRoot(), 'index.html'), join(build, 'index.html'))
    const text = 'console.log("isogate precompressed")\n'.repeat(50)
    writeFileSync(join(build, script), text)
    writeFileSync(join(build, `${script}.gz`), gzipSync(text))
    gateway = await startGateway(config({ viewer: { root: build } }))
  })
  after(async () => {
    await gateway?.close()
  })

  it('sends the .gz sibling to clients that take gzip, the plain file otherwise', async () => {
    const gz = await get1(gateway.origin, `/${script}`, { 'accept-encoding': 'gzip, deflate' })
    assert.equal(gz.headers['content-encoding'], 'gzip')
    assert.equal(gz.headers.vary, 'Accept-Encoding')
    assert.ok(gz.body.length < 200)
    assertPlanned(gateway, gz, 'script', 'gzip')
    const plain = await get1(gateway.origin, `/${script}`, { 'accept-encoding': 'identity' })
    assert.equal(plain.headers['content-encoding'], undefined)
    assert.equal(plain.headers.vary, 'Accept-Encoding')
    assert.match(plain.body.toString('utf8'), /isogate precompressed/)
    assert.notEqual(gz.headers.etag, plain.headers.etag)
  })

  it('a user build without app-config.js still gets a generated one', async () => {
    const reply = await get1(gateway.origin, '/app-config.js')
    assert.equal(reply.status, 200)
    assert.match(reply.body.toString('utf8'), /dicom\.example\.test/)
  })
})

describe('serve headers over HTTP/2 with --tls auto', () => {
  let gateway: RunningGateway
  let client: http2.ClientHttp2Session
  before(async () => {
    gateway = await startGateway(config({ tls: 'auto' }))
    assert.ok(gateway.tls?.generated)
    // Trust exactly the generated certificate, as a browser told to trust it would.
    client = http2.connect(gateway.origin.replace('127.0.0.1', 'localhost'), {
      ca: gateway.tls.cert,
      host: '127.0.0.1',
      lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as http2.SecureClientSessionOptions)
  })
  after(async () => {
    client?.close()
    await gateway?.close()
    rmSync(state, { recursive: true, force: true })
  })

  function get2(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const stream = client.request({ ':path': path, ...headers })
      const chunks: Buffer[] = []
      let head: http2.IncomingHttpHeaders = {}
      stream.on('response', (h) => (head = h))
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () =>
        resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }),
      )
      stream.on('error', reject)
      stream.end()
    })
  }

  it('negotiates h2 through ALPN', async () => {
    await get2('/index.html')
    assert.equal(client.alpnProtocol, 'h2')
  })

  for (const c of CASES) {
    it(`${c.cls} over h2: ${c.path}`, async () => {
      checkCase(gateway, c, await get2(c.path, c.accept ? { accept: c.accept } : {}))
    })
  }

  it('a 404 over h2 keeps the isolation headers', async () => {
    checkError(gateway, await get2('/missing.wasm'), 404, 'ISOGATE_E_STATIC_NOT_FOUND')
  })

  it('still answers HTTP/1.1 on the same port', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const url = new URL(gateway.origin)
      const request = (https.request as typeof http.request)(
        {
          host: url.hostname,
          port: url.port,
          path: '/',
          servername: 'localhost',
          ca: gateway.tls?.cert,
        } as http.RequestOptions,
        (response) => {
          const chunks: Buffer[] = []
          response.on('data', (c: Buffer) => chunks.push(c))
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          )
        },
      )
      request.on('error', reject)
      request.end()
    })
    assert.equal(reply.status, 200)
    assertPlanned(gateway, reply, 'document', 'https/1.1')
  })
})

/**
 * Hostile requests against a real gateway (viewer under /viewer/, an embedded folder, sources
 * proxied and fronted to a real Orthanc, a fake upstream that redirects), sent over raw sockets
 * so that nothing normalises them on the way: traversal in every spelling, absolute-form
 * targets, SSRF through a source (a canary server on loopback must never be reached), header
 * injection, methods, CORS, sizes, slow clients, many connections, HTTP/2 limits, and the
 * status page. Every case counts; the total is printed at the end.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { after, before, describe, it } from 'node:test'

import { validateConfig } from '../../src/config/load.js'
import type { IsogateConfigInput } from '../../src/config/schema.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { PYDICOM_FILES, writeCtVolume } from '../helpers/dicom-volume.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import {
  get,
  raw,
  sleep,
  startCanary,
  writeViewer,
  type Canary,
  type RawReply,
} from './hardening-kit.js'

const ALLOWED = 'https://viewer.example.test'
const TIMEOUTS = {
  headersMs: 1_500,
  requestMs: 3_000,
  keepAliveMs: 1_500,
  idleMs: 3_000,
  checkIntervalMs: 250,
}
/** Markers that must never appear in a reply: files outside the roots, Orthanc's own API. */
const SECRET_VIEWER = 'SECRET-VIEWER-OUTSIDE'
const SECRET_DOTFILE = 'SECRET-DOTFILE'
const ORTHANC_PRIVATE = /DatabaseVersion|"isogate-test"|StorageAreaPlugin/

let cases = 0
const counted = <T>(value: T): T => {
  cases++
  return value
}

describe('hostile requests', { timeout: 150_000 }, () => {
  let work: string
  let orthanc: OrthancServer
  let canary: Canary
  let redirector: http.Server
  let gw: RunningGateway
  let tlsGw: RunningGateway
  let port: number
  let studyUid: string
  const V = '/viewer/'
  const LOCAL = '/viewer/dicomweb/local'
  const PACS = '/viewer/dicomweb/pacs'

  /** A raw GET to the HTTP gateway. */
  const send = (target: string, headers: Record<string, string> = {}, method = 'GET') =>
    counted(raw(port, get(target, headers, method)))

  /** Isolation headers on a reply, whatever its status. */
  function isolated(reply: RawReply, what: string): void {
    assert.match(reply.headers['cross-origin-opener-policy'] ?? '', /^same-origin/, `COOP ${what}`)
    assert.match(reply.headers['cross-origin-embedder-policy'] ?? '', /^require-corp/, what)
  }

  function clean(reply: RawReply, what: string): void {
    assert.ok(!reply.text.includes(SECRET_VIEWER), `viewer secret leaked: ${what}`)
    assert.ok(!reply.text.includes(SECRET_DOTFILE), `dot-file leaked: ${what}`)
    assert.ok(!ORTHANC_PRIVATE.test(reply.text), `Orthanc private API reached: ${what}`)
    assert.ok(!reply.text.includes('CANARY-REACHED'), `canary reached: ${what}`)
    assert.equal(canary.hits(), 0, `canary reached: ${what}`)
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'isogate-hard-req-'))
    const viewer = join(work, 'site', 'viewer')
    await writeViewer(viewer)
    writeFileSync(join(work, 'site', 'secret.txt'), SECRET_VIEWER)
    symlinkSync(join(work, 'site', 'secret.txt'), join(viewer, 'leak.txt'))
    const folder = join(work, 'dicom')
    const outside = join(work, 'outside')
    mkdirSync(outside)
    copyFileSync(join(PYDICOM_FILES, 'MR_small.dcm'), join(outside, 'mr.dcm'))
    const study = await writeCtVolume(folder, { slices: 4, size: 64, seed: 'hardening' })
    studyUid = study.studyInstanceUid
    symlinkSync(join(outside, 'mr.dcm'), join(folder, 'escape.dcm'))
    symlinkSync(outside, join(folder, 'escape-dir'))

    canary = await startCanary()
    orthanc = await startOrthanc()
    await orthanc.upload(join(PYDICOM_FILES, 'CT_small.dcm'))
    redirector = http.createServer((request, response) => {
      const root = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/dicom-web`
      if (request.url?.includes('/here')) {
        response.writeHead(302, { Location: `${root}/studies/1.2.3?x=1` }).end()
      } else {
        response.writeHead(302, { Location: `http://127.0.0.1:${canary.port}/stolen` }).end()
      }
    })
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r))
    const redirectRoot = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/dicom-web`

    const config = (tls: 'off' | 'auto') =>
      validateConfig({
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: join(work, `state-${tls}`),
        tls,
        viewer: { root: viewer, basePath: V },
        sources: [
          { name: 'local', mode: 'embedded', folder, watch: false },
          { name: 'pacs', mode: 'proxy', upstream: [orthanc.dicomWebRoot], kind: 'orthanc' },
          { name: 'rw', mode: 'proxy', upstream: [orthanc.dicomWebRoot], writeMethods: ['POST'] },
          {
            name: 'front',
            mode: 'front',
            upstream: [orthanc.dicomWebRoot],
            allowOrigins: [ALLOWED],
            credentials: true,
          },
          { name: 'open', mode: 'front', upstream: [orthanc.dicomWebRoot], allowOrigins: ['*'] },
          { name: 'redir', mode: 'proxy', upstream: [redirectRoot] },
        ],
      } as IsogateConfigInput)
    gw = await startGateway(config('off'), { timeouts: TIMEOUTS })
    port = gw.port
    tlsGw = await startGateway(config('auto'), { timeouts: TIMEOUTS })
  })

  after(async () => {
    await gw?.close()
    await tlsGw?.close()
    await orthanc?.stop()
    await canary?.close()
    await new Promise((r) => redirector?.close(r))
    rmSync(work, { recursive: true, force: true })
  })

  it('serves the normal paths (the baseline the refusals are measured against)', async () => {
    const index = await send(V)
    assert.equal(index.status, 200)
    assert.match(index.body, /VIEWER-INDEX/)
    isolated(index, 'index')
    const studies = await send(`${LOCAL}/studies`, { Accept: 'application/dicom+json' })
    assert.equal(studies.status, 200)
    const pacs = await send(`${PACS}/studies`)
    assert.equal(pacs.status, 200)
    assert.match(pacs.body, /0020000D/)
  })

  it('refuses traversal out of the viewer root in every spelling', async () => {
    const spellings = [
      '../secret.txt',
      '..%2fsecret.txt',
      '%2e%2e/secret.txt',
      '%2E%2E/secret.txt',
      '.%2e/secret.txt',
      '%2e./secret.txt',
      '%252e%252e/secret.txt',
      '%25252e%25252e/secret.txt',
      '..%5csecret.txt',
      '..\\secret.txt',
      '%2e%2e%5csecret.txt',
      'assets/../../secret.txt',
      'assets/%2e%2e/%2e%2e/secret.txt',
      'assets%2f..%2f..%2fsecret.txt',
      '%c0%ae%c0%ae/secret.txt',
      '%c0%2e%c0%2e/secret.txt',
      '%e0%80%ae%e0%80%ae/secret.txt',
      '%c1%9c../secret.txt',
      '..;/secret.txt',
      '..%3b/secret.txt',
      'index.html;/../../secret.txt',
      'secret.txt%00.html',
      'index.html%00',
      '%00../secret.txt',
      '/%2e%2e/secret.txt',
      '//secret.txt',
      '.env',
      '%2eenv',
      'assets/../.env',
      'leak.txt',
      '..',
      '%2e%2e',
      '...',
      './index.html/..',
    ]
    for (const spelling of spellings) {
      const reply = await send(`${V}${spelling}`)
      clean(reply, spelling)
      assert.ok([400, 404].includes(reply.status), `${spelling} → ${reply.status}`)
      isolated(reply, spelling)
    }
    // Outside the base path entirely.
    for (const path of [
      '/secret.txt',
      '/../secret.txt',
      '/%2e%2e/site/secret.txt',
      '/etc/passwd',
    ]) {
      const reply = await send(path)
      clean(reply, path)
      assert.ok([400, 404].includes(reply.status), `${path} → ${reply.status}`)
    }
  })

  it('refuses absolute-form and other odd request targets without reaching anyone', async () => {
    const targets = [
      `http://127.0.0.1:${canary.port}/`,
      `http://127.0.0.1:${canary.port}${PACS}/studies`,
      `http://127.0.0.1:${port}${PACS}/../../../system`,
      `//127.0.0.1:${canary.port}/`,
      `https://127.0.0.1:${canary.port}/`,
      `file:///etc/passwd`,
      '*',
      `127.0.0.1:${canary.port}`,
    ]
    for (const target of targets) {
      const reply = await send(target)
      clean(reply, target)
      assert.ok(reply.status === 0 || reply.status >= 400, `${target} → ${reply.status}`)
      assert.ok(reply.status < 500, `${target} → ${reply.status}`)
    }
    const connect = await counted(
      raw(port, `CONNECT 127.0.0.1:${canary.port} HTTP/1.1\r\nHost: x\r\n\r\n`, {
        timeoutMs: 3_000,
      }),
    )
    clean(connect, 'CONNECT')
    assert.notEqual(connect.status, 200)
    assert.equal(canary.hits(), 0)
  })

  it('keeps embedded-folder paths and symlinks inside the folder', async () => {
    const studies = JSON.parse((await send(`${LOCAL}/studies`)).body) as unknown[]
    assert.equal(studies.length, 1, 'only the volume: links out of the folder are not indexed')
    for (const path of [
      '/../../../etc/passwd',
      '/studies/%2e%2e/%2e%2e/%2e%2e/secret',
      `/studies/${studyUid}/series/..%2f..%2f/metadata`,
      `/studies/${studyUid}/series/x/instances/y/bulk/..%2f..%2f..%2fetc%2fpasswd`,
      `/studies/${studyUid}/series/x/instances/y/frames/1%00`,
      `/studies/${studyUid}%00/metadata`,
      `/studies/${'9'.repeat(300)}/metadata`,
      '/escape.dcm',
      '/escape-dir/mr.dcm',
    ]) {
      const reply = await send(`${LOCAL}${path}`)
      clean(reply, path)
      assert.ok(!/root:x:0:0/.test(reply.text), path)
      assert.ok([400, 404].includes(reply.status), `${path} → ${reply.status}`)
      isolated(reply, path)
    }
  })

  it('never lets a proxied source reach another host, port or path (SSRF)', async () => {
    const c = canary.port
    const paths = [
      `/@127.0.0.1:${c}/studies`,
      `@127.0.0.1:${c}/studies`,
      `:${c}/studies`,
      `//127.0.0.1:${c}/studies`,
      `/%2f127.0.0.1:${c}/studies`,
      `/%2F%2F127.0.0.1:${c}`,
      `/%40127.0.0.1:${c}`,
      `/..`,
      `/../..`,
      `/../../system`,
      `/%2e%2e/%2e%2e/system`,
      `/%2E%2e/system`,
      `/%252e%252e/system`,
      `/..%2fsystem`,
      `/..%5csystem`,
      `/..\\system`,
      `/..;/system`,
      `/..;x=y/system`,
      `/.;/..;/system`,
      `/%c0%ae%c0%ae/system`,
      `/studies/../../instances`,
      `/studies/%00/../../system`,
      `/studies/%0d%0aHost:%20127.0.0.1:${c}`,
      `/studies?x=%0d%0aHost:%20127.0.0.1:${c}`,
      `/studies#/../../system`,
      `/studies/%2e/../system`,
      `/\t/system`,
    ]
    for (const path of paths) {
      const reply = await send(`${PACS}${path}`)
      clean(reply, path)
      assert.ok(reply.status !== 200 || /^\/studies\?/.test(path), `${path} → ${reply.status}`)
      assert.ok(reply.status < 500 || reply.status === 0, `${path} → ${reply.status}`)
    }
    // Host and X-Forwarded-* games: the public origin is the configured one, never the client's.
    const games: Array<Record<string, string>> = [
      { Host: `127.0.0.1:${c}` },
      { 'X-Forwarded-Host': `127.0.0.1:${c}` },
      { 'X-Forwarded-Host': `evil.example:${c}`, 'X-Forwarded-Proto': 'gopher' },
      { Forwarded: `host=127.0.0.1:${c};proto=http` },
      { 'X-Forwarded-For': '127.0.0.1', 'X-Real-IP': '127.0.0.1' },
      { 'X-Original-URL': '/system', 'X-Rewrite-URL': '/system' },
      { 'X-Forwarded-Prefix': `//127.0.0.1:${c}/` },
      { 'X-HTTP-Method-Override': 'DELETE' },
    ]
    for (const headers of games) {
      const lines = Object.entries(headers).map(([n, v]) => `${n}: ${v}`)
      const hasHost = 'Host' in headers
      const text =
        `GET ${PACS}/studies/${'1.2.3'}/series HTTP/1.1\r\n` +
        (hasHost ? '' : 'Host: 127.0.0.1\r\n') +
        `${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`
      const reply = await counted(raw(port, text))
      clean(reply, JSON.stringify(headers))
      assert.ok(!reply.text.includes('evil.example'), JSON.stringify(headers))
      assert.ok(reply.status < 500, `${JSON.stringify(headers)} → ${reply.status}`)
    }
    const qido = await send(`${PACS}/studies`, {
      'X-Forwarded-Host': 'evil.example',
      Host: 'evil.example',
    })
    assert.ok(!qido.text.includes('evil.example'))
    // An upstream redirect is passed on, never followed by the gateway.
    const redirect = await send('/viewer/dicomweb/redir/studies')
    assert.equal(redirect.status, 302)
    assert.equal(canary.hits(), 0, 'the canary was reached')
    // The upstream's own URLs in Location are rewritten to the public mount.
    const here = await send('/viewer/dicomweb/redir/here')
    assert.equal(here.headers.location, `${gw.origin}/viewer/dicomweb/redir/studies/1.2.3?x=1`)
  })

  it('lets no CR/LF or NUL through into a header it writes', async () => {
    const injections = [
      '/viewer?x=%0d%0aSet-Cookie:%20pwn=1',
      '/viewer?%0d%0aLocation:%20http://evil.example/',
      '/viewer?x=%E5%98%8A%E5%98%8DSet-Cookie:%20pwn=1',
      '/viewer?x=%u000d%u000aSet-Cookie:%20pwn=1',
      '/viewer?x=\u560a\u560dSet-Cookie: pwn=1',
      `${PACS}/studies?x=%0d%0aSet-Cookie:%20pwn=1`,
      `${PACS}/studies?includefield=%0d%0aX-Injected:%201`,
      `${LOCAL}/studies?PatientName=%0d%0aSet-Cookie:%20pwn=1`,
      `${V}%0d%0aSet-Cookie:%20pwn=1`,
      `${V}x%0aSet-Cookie:pwn=1`,
    ]
    for (const target of injections) {
      const reply = await counted(
        raw(port, Buffer.from(get(target), target.includes('\u560a') ? 'utf8' : 'latin1')),
      )
      assert.ok(reply.headers['set-cookie'] === undefined, target)
      assert.ok(reply.headers['x-injected'] === undefined, target)
      assert.ok(!/\r\n(Set-Cookie|X-Injected|Location: http:\/\/evil)/i.test(reply.text), target)
      assert.ok(reply.status > 0 && reply.status < 500, `${target} → ${reply.status}`)
    }
    // Raw CR, LF, NUL and obs-fold in the request are refused by the parser, with isolation.
    for (const text of [
      'GET /viewer/?a=\rSet-Cookie: x HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /viewer/\0 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /viewer/ HTTP/1.1\r\nHost: x\r\nAccept: a\r\n b\r\n\r\n',
      'GET /viewer/ HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n',
      'GET /viewer/ HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      'GET /viewer/ HTTP/1.1\nHost: x\n\n',
    ]) {
      const reply = await counted(raw(port, text, { timeoutMs: 3_000 }))
      assert.ok(reply.status === 400 || reply.status === 200, `${JSON.stringify(text)}`)
      if (reply.status === 400) isolated(reply, JSON.stringify(text))
      assert.ok(reply.headers['set-cookie'] === undefined)
    }
  })

  it('refuses request smuggling shapes', async () => {
    const smuggles = [
      'POST /viewer/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /viewer/.env HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /viewer/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'POST /viewer/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      'POST /viewer/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
      'POST /viewer/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
      'GET /viewer/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'GET /viewer/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n',
    ]
    for (const text of smuggles) {
      const reply = await counted(raw(port, text, { timeoutMs: 3_000 }))
      clean(reply, text)
      assert.ok(reply.status === 400 || reply.status === 404, `${text} → ${reply.status}`)
      assert.equal(reply.text.match(/HTTP\/1\.1 /g)?.length ?? 0, 1, `one reply: ${text}`)
    }
  })

  it('allows only the methods a source enables', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const reply = await send(`${PACS}/studies`, { 'Content-Length': '0' }, method)
      assert.equal(reply.status, 405, `${method} on a read-only proxy`)
      assert.equal(reply.headers.allow, 'GET, HEAD')
      isolated(reply, method)
    }
    for (const method of ['TRACE', 'TRACK', 'PROPFIND', 'MKCOL', 'FOO']) {
      for (const path of [`${PACS}/studies`, `${LOCAL}/studies`, V]) {
        const reply = await send(path, {}, method)
        assert.ok([400, 404, 405].includes(reply.status), `${method} ${path} → ${reply.status}`)
        assert.ok(!reply.body.includes('Host: 127.0.0.1'), 'TRACE echoed the request')
      }
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      for (const path of [`${LOCAL}/studies`, V, `${V}index.html`]) {
        const reply = await send(path, { 'Content-Length': '0' }, method)
        assert.ok([404, 405].includes(reply.status), `${method} ${path} → ${reply.status}`)
      }
      const front = await send('/viewer/dicomweb/front/studies', { 'Content-Length': '0' }, method)
      assert.ok([403, 405].includes(front.status), `${method} front → ${front.status}`)
    }
    // The source that enables POST forwards it (Orthanc answers for itself) and nothing else.
    const post = await send(
      '/viewer/dicomweb/rw/studies',
      {
        'Content-Type': 'multipart/related; type="application/dicom"; boundary=b',
        'Content-Length': '8',
      },
      'POST',
    )
    assert.notEqual(post.status, 405)
    const del = await send('/viewer/dicomweb/rw/studies/1.2.3', { 'Content-Length': '0' }, 'DELETE')
    assert.equal(del.status, 405)
    // A method override header is not honoured.
    const overridden = await send(`${PACS}/studies`, { 'X-HTTP-Method-Override': 'DELETE' })
    assert.equal(overridden.status, 200)
  })

  it('never reflects an arbitrary Origin, never `null`, never credentials with *', async () => {
    const FRONT = '/viewer/dicomweb/front/studies'
    const OPEN = '/viewer/dicomweb/open/studies'
    const hostile = [
      'https://evil.example',
      'null',
      `${ALLOWED}.evil.example`,
      `${ALLOWED}/`,
      `${ALLOWED}:443`,
      'https://evilviewer.example.test',
      'HTTPS://VIEWER.EXAMPLE.TEST',
      `${ALLOWED}, https://evil.example`,
      'http://viewer.example.test',
      'file://',
      '*',
    ]
    for (const origin of hostile) {
      for (const path of [FRONT, PACS + '/studies', `${LOCAL}/studies`, V, '/viewer/__isogate/']) {
        const reply = await send(path, { Origin: origin })
        const acao = reply.headers['access-control-allow-origin']
        assert.ok(acao === undefined, `${origin} at ${path}: ACAO ${acao}`)
        assert.equal(reply.headers['access-control-allow-credentials'], undefined)
      }
      const refused = await send(FRONT, { Origin: origin })
      assert.equal(refused.status, 403, origin)
      isolated(refused, origin)
      const preflight = await send(
        FRONT,
        { Origin: origin, 'Access-Control-Request-Method': 'GET' },
        'OPTIONS',
      )
      assert.equal(preflight.status, 403, `preflight ${origin}`)
      assert.ok(!/access-control-allow/i.test(Object.keys(preflight.headers).join(' ')))
      const open = await send(OPEN, { Origin: origin })
      assert.ok(['*', undefined].includes(open.headers['access-control-allow-origin']), origin)
      assert.equal(open.headers['access-control-allow-credentials'], undefined, origin)
    }
    const ok = await send(FRONT, { Origin: ALLOWED })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['access-control-allow-origin'], ALLOWED)
    assert.equal(ok.headers['access-control-allow-credentials'], 'true')
    assert.match(ok.headers.vary ?? '', /Origin/)
    const preflight = await send(
      FRONT,
      { Origin: ALLOWED, 'Access-Control-Request-Method': 'DELETE' },
      'OPTIONS',
    )
    assert.equal(preflight.status, 403, 'a write method the source does not enable')
  })

  it('limits header and URL sizes, and bodies where none is taken', async () => {
    const big = 'a'.repeat(17 * 1024)
    for (const text of [
      `GET ${V} HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`,
      `GET ${V} HTTP/1.1\r\nHost: x\r\n` +
        `${Array.from({ length: 200 }, (_, i) => `X-${i}: ${'b'.repeat(100)}`).join('\r\n')}` +
        '\r\n\r\n',
      `GET ${V}${big} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET ${PACS}/studies?${big} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET ${V} HTTP/1.1\r\nHost: x\r\nCookie: ${'c=1; '.repeat(4000)}\r\n\r\n`,
    ]) {
      const reply = await counted(raw(port, text))
      assert.ok([414, 431].includes(reply.status), `${text.slice(0, 40)} → ${reply.status}`)
      isolated(reply, 'oversized headers')
      assert.ok(reply.closedByServer)
    }
    // Long but legal URLs are answered without a 5xx.
    for (const target of [
      `${PACS}/studies?PatientName=${'x'.repeat(8000)}`,
      `${LOCAL}/studies/${'1.'.repeat(3000)}1/metadata`,
      `${V}${'a/'.repeat(3000)}index.html`,
    ]) {
      const reply = await send(target)
      assert.ok(
        reply.status >= 200 && reply.status < 500,
        `${target.slice(0, 40)} → ${reply.status}`,
      )
    }
    // Bodies to endpoints that take none are refused without reading 2 MB into memory.
    const body = Buffer.alloc(2 * 1024 * 1024, 0x61)
    for (const [method, path] of [
      ['POST', V],
      ['PUT', `${V}index.html`],
      ['POST', `${LOCAL}/studies`],
      ['GET', `${LOCAL}/studies`],
      ['POST', `${PACS}/studies`],
      ['POST', '/viewer/__isogate/reports'],
    ] as const) {
      const head =
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`
      const reply = await counted(raw(port, [head, body]))
      assert.ok(
        [404, 405, 413, 415].includes(reply.status) || (method === 'GET' && reply.status < 500),
        `${method} ${path} → ${reply.status}`,
      )
      if (reply.status >= 400) isolated(reply, `${method} ${path}`)
      else assert.ok(reply.headers['cross-origin-resource-policy'], `CORP: ${method} ${path}`)
    }
    const chunked = await counted(
      raw(port, [
        'POST /viewer/__isogate/reports HTTP/1.1\r\nHost: x\r\n' +
          'Content-Type: application/reports+json\r\nTransfer-Encoding: chunked\r\n\r\n',
        ...Array.from({ length: 40 }, () => `1000\r\n${'r'.repeat(0x1000)}\r\n`),
        '0\r\n\r\n',
      ]),
    )
    assert.equal(chunked.status, 413)
  })

  it('cuts off slow clients: headers, bodies, idle and keep-alive connections', async () => {
    // Slowloris: one header line every 300 ms never completes the head.
    const drip = Array.from({ length: 30 }, (_, i) => `X-Drip-${i}: ${i}\r\n`)
    const slowHeaders = await counted(
      raw(port, [`GET ${V} HTTP/1.1\r\nHost: x\r\n`, ...drip], { pauseMs: 300, timeoutMs: 8_000 }),
    )
    assert.ok(slowHeaders.closedByServer, 'slow headers were not cut off')
    assert.ok(slowHeaders.ms < 4_000, `slow headers cut after ${slowHeaders.ms} ms`)
    assert.equal(slowHeaders.status, 408)
    isolated(slowHeaders, 'slow headers')

    // A body dripped slower than the request timeout.
    const head =
      'POST /viewer/__isogate/reports HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: application/reports+json\r\nContent-Length: 1000\r\n\r\n'
    const slowBody = await counted(
      raw(port, [head, ...Array.from({ length: 40 }, () => 'x'.repeat(10))], {
        pauseMs: 200,
        timeoutMs: 10_000,
      }),
    )
    assert.ok(slowBody.closedByServer, 'slow body was not cut off')
    assert.ok(slowBody.ms < 6_000, `slow body cut after ${slowBody.ms} ms`)

    // A connection that sends nothing, and an idle keep-alive connection.
    const silent = await counted(raw(port, [], { timeoutMs: 8_000 }))
    assert.ok(silent.closedByServer && silent.ms < 4_000, `silent kept ${silent.ms} ms`)
    const keepAlive = await counted(
      raw(port, `GET ${V} HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 8_000 }),
    )
    assert.equal(keepAlive.status, 200)
    assert.ok(keepAlive.closedByServer && keepAlive.ms < 5_000, `idle kept ${keepAlive.ms} ms`)
  })

  it('keeps answering with hundreds of idle connections open, then sheds them', async () => {
    const sockets: Socket[] = []
    const { connect } = await import('node:net')
    let closed = 0
    for (let i = 0; i < 400; i++) {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => undefined)
      socket.on('close', () => closed++)
      // Read, or the server's FIN is never noticed and 'close' never comes.
      socket.resume()
      if (i % 2 === 0) socket.once('connect', () => socket.write('GET /viewer/ HTTP/1.1\r\n'))
      sockets.push(socket)
    }
    cases += 400
    await sleep(300)
    const started = Date.now()
    const reply = await send(V)
    assert.equal(reply.status, 200)
    assert.ok(Date.now() - started < 2_000, 'slow answer with many idle connections')
    await sleep(TIMEOUTS.headersMs + 2 * TIMEOUTS.checkIntervalMs + 1_000)
    assert.ok(closed >= 390, `only ${closed} of 400 idle connections were closed`)
    for (const socket of sockets) socket.destroy()
  })

  it('speaks HTTP/2 with sane stream limits, survives resets and oversized headers', async () => {
    const ca = tlsGw.tls?.cert
    const session = http2.connect(tlsGw.origin, { ca, servername: 'localhost' })
    session.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve())
      session.once('error', reject)
    })
    const settings = session.remoteSettings
    assert.ok(
      settings.maxConcurrentStreams !== undefined && settings.maxConcurrentStreams <= 1000,
      `SETTINGS_MAX_CONCURRENT_STREAMS ${settings.maxConcurrentStreams}`,
    )
    assert.ok((settings.maxHeaderListSize ?? Infinity) <= 64 * 1024)
    cases++

    const fetch2 = (path: string, extra: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const stream = session.request({ ':path': path, ...extra })
        let status = 0
        stream.on('response', (h) => (status = Number(h[':status'])))
        stream.on('error', () => resolve(-1))
        stream.resume()
        stream.on('close', () => resolve(status))
      })
    // As many streams at once as the server allows: all answered.
    const limit = settings.maxConcurrentStreams ?? 100
    const statuses = await Promise.all(Array.from({ length: limit }, () => fetch2(V)))
    assert.equal(statuses.filter((s) => s === 200).length, limit)
    cases += limit

    // Rapid reset: streams opened and cancelled at once, in bulk.
    for (let i = 0; i < 500; i++) {
      const stream = session.request({ ':path': `${LOCAL}/studies` })
      stream.on('error', () => undefined)
      stream.close(http2.constants.NGHTTP2_CANCEL)
    }
    cases += 500
    const after = http2.connect(tlsGw.origin, { ca, servername: 'localhost' })
    after.on('error', () => undefined)
    const status = await new Promise<number>((resolve) => {
      const stream = after.request({ ':path': V })
      stream.on('response', (h) => resolve(Number(h[':status'])))
      stream.on('error', () => resolve(-1))
      stream.resume()
    })
    assert.equal(status, 200, 'the server answers after a rapid-reset burst')

    // Headers beyond the limit: the stream (or session) is refused, the server lives on.
    const big = await new Promise<number>((resolve) => {
      const stream = after.request({ ':path': V, 'x-big': 'a'.repeat(40 * 1024) })
      stream.on('response', (h) => resolve(Number(h[':status'])))
      stream.on('error', () => resolve(-1))
      stream.on('close', () => resolve(-2))
      stream.resume()
    })
    assert.ok(big !== 200, `oversized h2 headers answered ${big}`)
    cases++
    session.destroy()
    after.destroy()

    // TLS: a client that completes the handshake and then sends nothing, or drips headers.
    const tlsPort = tlsGw.port
    const dripped = await new Promise<{ closed: boolean; ms: number }>((resolve) => {
      const started = Date.now()
      const socket = tlsConnect({ port: tlsPort, host: '127.0.0.1', ca, servername: 'localhost' })
      socket.on('error', () => undefined)
      let timer: NodeJS.Timeout | undefined
      socket.once('secureConnect', () => {
        socket.write(`GET ${V} HTTP/1.1\r\nHost: x\r\n`)
        timer = setInterval(() => socket.write('X-Drip: 1\r\n'), 300)
      })
      const give = setTimeout(() => {
        clearInterval(timer)
        socket.destroy()
        resolve({ closed: false, ms: Date.now() - started })
      }, 12_000)
      socket.on('close', () => {
        clearInterval(timer)
        clearTimeout(give)
        resolve({ closed: true, ms: Date.now() - started })
      })
    })
    cases++
    assert.ok(dripped.closed, 'a TLS client dripping headers is never cut off')
    assert.ok(dripped.ms < 8_000, `TLS drip cut after ${dripped.ms} ms`)
  })

  it('keeps the status page local, limited and free of secrets', async () => {
    const page = await send('/viewer/__isogate/')
    assert.equal(page.status, 200)
    const forged = await send('/viewer/__isogate/status.json', {
      'X-Forwarded-For': '203.0.113.7',
      Forwarded: 'for=203.0.113.7',
    })
    // A loopback peer forwarding for someone is a proxy in front, not a person here: refused.
    assert.equal(forged.status, 403, 'forwarding headers never grant access')
    // Remote peers, simulated in-process (no packet leaves the machine).
    for (const path of ['/viewer/__isogate/', '/viewer/__isogate/status.json']) {
      const remote = counted(
        await gw.app.inject({ method: 'GET', url: path, remoteAddress: '203.0.113.7' }),
      )
      assert.equal(remote.statusCode, 403, path)
      assert.match(String(remote.headers['cross-origin-opener-policy']), /^same-origin/)
    }
    const health = await gw.app.inject({
      method: 'GET',
      url: '/viewer/__isogate/healthz',
      remoteAddress: '203.0.113.7',
    })
    assert.equal(counted(health).statusCode, 200)
    assert.doesNotMatch(health.body, /version|upstream|127\.0\.0\.1/)

    // Reports: type, size, rate.
    const report = (body: string, type = 'application/reports+json') =>
      counted(
        raw(
          port,
          `POST /viewer/__isogate/reports HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        ),
      )
    const secretUrl = `https://127.0.0.1/viewer/?patient=SECRET-PATIENT&token=SECRET-TOKEN`
    const one = JSON.stringify([
      {
        type: 'coep',
        url: secretUrl,
        body: { blockedURL: `${secretUrl}&x=1`, type: 'corp', disposition: 'enforce' },
      },
    ])
    assert.equal((await report(one)).status, 204)
    assert.equal((await report(one, 'text/html')).status, 415)
    assert.equal((await report('x'.repeat(70 * 1024))).status, 413)
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) statuses.push((await report(one)).status)
    const limited = statuses.filter((s) => s === 429).length
    assert.ok(limited > 0, 'forty reports in a burst were never rate-limited')

    // No secrets: the key, Authorization values, report queries.
    await send(`${PACS}/studies`, { Authorization: 'Bearer SECRET-BEARER' })
    const tlsStatus = await tlsGw.app.inject({
      method: 'GET',
      url: '/viewer/__isogate/status.json',
    })
    const plainStatus = await send('/viewer/__isogate/status.json')
    const tlsPage = await tlsGw.app.inject({ method: 'GET', url: '/viewer/__isogate/' })
    for (const text of [tlsStatus.body, plainStatus.text, tlsPage.body, page.text]) {
      assert.doesNotMatch(text, /PRIVATE KEY|SECRET-BEARER|SECRET-PATIENT|SECRET-TOKEN/)
      assert.ok(!text.includes(String(tlsGw.tls?.key).slice(40, 80)))
    }
    cases += 4
  })

  it('is still healthy after all of the above, and the canary was never reached', async () => {
    const reply = await send(`${PACS}/studies`)
    assert.equal(reply.status, 200)
    assert.equal((await send(V)).status, 200)
    assert.equal(canary.hits(), 0)
  })

  it('counts the cases', (t) => {
    t.diagnostic(`hostile request cases: ${cases}`)
    console.log(`hostile request cases: ${cases}`)
  })
})

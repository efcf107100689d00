/**
 * A proxied source in front of upstreams that fail: nobody listening, one that stalls past the
 * timeout, one that resets before and in the middle of a body, one that answers garbage. Each
 * gives a JSON error with a stable code and status, the isolation headers, one log line naming
 * the upstream, and no upstream address in the reply. A client that leaves stops the upstream.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'

import { pino } from 'pino'

import { freePort } from '../helpers/ports.js'
import { header, mountProxy, proxyConfig, request, type MountedProxy } from './proxy-kit.js'

/** A TCP server on a free loopback port running `onSocket` for each connection. */
async function tcpServer(
  onSocket: (socket: Socket) => void,
): Promise<{ server: Server; url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return { server, url: `http://127.0.0.1:${port}/dicom-web`, sockets }
}

function onRequest(socket: Socket, handler: () => void): void {
  let seen = ''
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1')
    if (seen.includes('\r\n\r\n')) {
      seen = ''
      handler()
    }
  })
}

describe('proxy faults', { timeout: 60_000 }, () => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    }),
  )
  const servers: Array<{ server: Server; sockets: Set<Socket> }> = []
  const closers: Array<() => Promise<unknown>> = []
  let proxy: MountedProxy
  let downUrl: string
  const upstreams: Record<string, string> = {}
  let leftAt: number | undefined
  let dripSocketClosed: Promise<number>

  before(async () => {
    downUrl = `http://127.0.0.1:${await freePort()}/dicom-web`
    const stall = await tcpServer(() => undefined)
    const resetEarly = await tcpServer((socket) =>
      onRequest(socket, () => socket.resetAndDestroy()),
    )
    const resetMid = await tcpServer((socket) =>
      onRequest(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n')
        socket.write('Content-Length: 100000\r\n\r\n')
        socket.write(Buffer.alloc(5000, 7), () => setTimeout(() => socket.resetAndDestroy(), 50))
      }),
    )
    const garbage = await tcpServer((socket) =>
      onRequest(socket, () => socket.end('SPDY/9 banana\r\n\r\nnot http at all')),
    )
    let resolveClosed: (at: number) => void = () => undefined
    dripSocketClosed = new Promise((r) => (resolveClosed = r))
    const drip = await tcpServer((socket) => {
      // Health checks (GET …/studies?limit=1) come and go; only the bulk request's close counts.
      let bulk = false
      socket.once('data', (chunk: Buffer) => (bulk = chunk.toString('latin1').includes('/bulk/')))
      onRequest(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n')
        socket.write('Transfer-Encoding: chunked\r\n\r\n')
        const timer = setInterval(() => socket.write('4\r\nabcd\r\n'), 50)
        socket.on('close', () => {
          clearInterval(timer)
          if (bulk) resolveClosed(Date.now())
        })
      })
    })
    // A pool member that answers its health check, then sends the headers of a JSON reply and
    // dies before the body; and a healthy member holding the same data.
    const dies = await tcpServer((socket) => {
      let seen = ''
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1')
        if (!seen.includes('\r\n\r\n')) return
        if (seen.includes('limit=1')) {
          seen = ''
          socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n')
          socket.write('Content-Length: 2\r\n\r\n[]')
          return
        }
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n')
        socket.write('Content-Length: 5000\r\n\r\n', () => socket.resetAndDestroy())
      })
    })
    const healthy = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/dicom+json' }).end('["same"]')
    })
    await new Promise<void>((resolve) => healthy.listen(0, '127.0.0.1', resolve))
    const healthyUrl = `http://127.0.0.1:${(healthy.address() as AddressInfo).port}/dicom-web`
    servers.push(stall, resetEarly, resetMid, garbage, drip, dies)
    closers.push(() => new Promise((r) => healthy.close(r)))
    Object.assign(upstreams, {
      down: downUrl,
      stall: stall.url,
      resetEarly: resetEarly.url,
      resetMid: resetMid.url,
      garbage: garbage.url,
      drip: drip.url,
      dies: dies.url,
    })
    const names = Object.keys(upstreams)
    const pooled = {
      ...proxyConfig(dies.url, { name: 'pooled', upstream: [dies.url, healthyUrl] }),
      mountPath: '/dicomweb/pooled',
    }
    proxy = await mountProxy(
      [
        ...names.map((name) => ({
          ...proxyConfig(upstreams[name]!, { name: name.toLowerCase(), timeoutMs: 700 }),
          mountPath: `/dicomweb/${name.toLowerCase()}`,
        })),
        pooled,
      ],
      { logger },
    )
  })

  after(async () => {
    await proxy?.close()
    for (const close of closers) await close()
    for (const { server, sockets } of servers) {
      for (const socket of sockets) socket.destroy()
      await new Promise((r) => server.close(r))
    }
  })

  async function expectError(name: string, status: number, code: string) {
    const before = lines.length
    const started = Date.now()
    const reply = await request(proxy.origin, `/dicomweb/${name.toLowerCase()}/studies`)
    assert.equal(reply.status, status, `${name}: ${reply.body.toString()}`)
    const body = JSON.parse(reply.body.toString()) as { error: string; message: string }
    assert.equal(body.error, code)
    assert.match(header(reply, 'content-type') ?? '', /application\/json/)
    assert.equal(header(reply, 'cross-origin-embedder-policy'), 'require-corp')
    assert.equal(header(reply, 'cross-origin-opener-policy'), 'same-origin')
    assert.equal(header(reply, 'cross-origin-resource-policy'), 'same-origin')
    const upstreamPort = new URL(upstreams[name]!).port
    assert.ok(!reply.body.toString().includes(upstreamPort), 'upstream address in the reply')
    const named = lines.slice(before).filter((l) => JSON.stringify(l).includes(upstreams[name]!))
    assert.equal(
      named.length,
      1,
      `one log line naming the upstream: ${JSON.stringify(lines.slice(before))}`,
    )
    const source = proxy.sources.find((s) => s.name === name.toLowerCase())!
    assert.equal(source.status().health, 'down')
    assert.ok(source.status().lastError?.includes(upstreams[name]!))
    return Date.now() - started
  }

  it('a pool member that dies before the first byte: the GET goes to the other', async () => {
    // Round-robin sends every other request to the member that dies; none may fail.
    for (let i = 0; i < 6; i++) {
      const reply = await request(proxy.origin, '/dicomweb/pooled/studies')
      assert.equal(reply.status, 200, `request ${i}: ${reply.body.toString()}`)
      assert.equal(reply.body.toString(), '["same"]')
    }
  })

  it('a lone upstream dying before the first byte of a JSON reply → 502, not 500', async () => {
    await expectError('dies', 502, 'ISOGATE_E_PROXY_BAD_RESPONSE')
  })

  it('upstream down → 502 ISOGATE_E_PROXY_UNREACHABLE', async () => {
    await expectError('down', 502, 'ISOGATE_E_PROXY_UNREACHABLE')
  })

  it('upstream stalls past the timeout → 504 ISOGATE_E_PROXY_TIMEOUT, in time', async () => {
    const ms = await expectError('stall', 504, 'ISOGATE_E_PROXY_TIMEOUT')
    assert.ok(ms < 3_000, `took ${ms} ms with a 700 ms timeout`)
  })

  it('upstream resets before answering → 502 ISOGATE_E_PROXY_BAD_RESPONSE', async () => {
    await expectError('resetEarly', 502, 'ISOGATE_E_PROXY_BAD_RESPONSE')
  })

  it('upstream answers garbage → 502 ISOGATE_E_PROXY_BAD_RESPONSE', async () => {
    await expectError('garbage', 502, 'ISOGATE_E_PROXY_BAD_RESPONSE')
  })

  it('upstream resets mid-body → the reply is cut short, logged once', async () => {
    const before = lines.length
    const outcome = await new Promise<{ status: number; bytes: number; complete: boolean }>(
      (resolve) => {
        const req = http.get(`${proxy.origin}/dicomweb/resetmid/studies/1/bulk/1`, (res) => {
          let bytes = 0
          res.on('data', (c: Buffer) => (bytes += c.length))
          res.on('error', () => resolve({ status: res.statusCode ?? 0, bytes, complete: false }))
          res.on('close', () =>
            resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }),
          )
        })
        req.on('error', () => resolve({ status: 0, bytes: 0, complete: false }))
      },
    )
    assert.equal(outcome.status, 200)
    assert.equal(outcome.complete, false, 'a truncated body must not look complete')
    assert.ok(outcome.bytes < 100_000)
    await new Promise((r) => setTimeout(r, 100))
    const named = lines.slice(before).filter((l) => JSON.stringify(l).includes(upstreams.resetMid!))
    assert.equal(named.length, 1, JSON.stringify(lines.slice(before)))
  })

  it('a client that goes away stops the upstream request', async () => {
    await new Promise<void>((resolve) => {
      const req = http.get(`${proxy.origin}/dicomweb/drip/studies/1/bulk/1`, (res) => {
        res.once('data', () => {
          leftAt = Date.now()
          req.destroy()
          resolve()
        })
      })
      req.on('error', () => undefined)
    })
    const closedAt = await Promise.race([
      dripSocketClosed,
      new Promise<number>((r) => setTimeout(() => r(-1), 3_000)),
    ])
    assert.ok(closedAt > 0, 'the upstream connection was not closed after the client left')
    assert.ok(closedAt - (leftAt ?? 0) < 1_000)
  })
})

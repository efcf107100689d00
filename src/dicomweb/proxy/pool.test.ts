/**
 * Upstream pools against real loopback servers: requests spread round-robin, a refused or reset
 * request goes once to the other upstream, a reply that breaks off mid-body is not repeated,
 * and the health check takes a member out and puts it back.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { after, describe, it } from 'node:test'

import { freePort } from '../../../test/helpers/ports.js'
import { Upstream, type UpstreamRequest } from './upstream.js'

interface Backend {
  readonly url: string
  readonly port: number
  hits: number
  /** What the next requests get: a reply, a reset before headers, or a cut-off body. */
  mode: 'ok' | 'reset' | 'midbody' | 'error500'
  close(): Promise<void>
}

async function backend(name: string, port = 0): Promise<Backend> {
  const sockets = new Set<Socket>()
  const state = { hits: 0, mode: 'ok' as Backend['mode'] }
  const server = http.createServer((request, response) => {
    state.hits++
    if (state.mode === 'reset') return request.socket.resetAndDestroy()
    if (state.mode === 'error500') return void response.writeHead(500).end()
    if (state.mode === 'midbody') {
      response.writeHead(200, { 'content-length': '1000' })
      response.write('x'.repeat(100), () => request.socket.resetAndDestroy())
      return
    }
    response.writeHead(200, { 'content-type': 'application/dicom+json' }).end(`["${name}"]`)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const bound = (server.address() as AddressInfo).port
  return Object.assign(state, {
    url: `http://127.0.0.1:${bound}/dicom-web`,
    port: bound,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  })
}

function get(path = '/studies'): UpstreamRequest {
  return {
    method: 'GET',
    url: (root) => `${root.origin}${root.pathname}${path}`,
    headers: {},
    signal: AbortSignal.timeout(5_000),
  }
}

async function text(upstream: Upstream, method = 'GET'): Promise<string> {
  const response = await upstream.request({ ...get(), method })
  const chunks: Buffer[] = []
  for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks).toString()
}

describe('upstream pool', { timeout: 30_000 }, () => {
  const closing: Array<() => Promise<void>> = []
  after(async () => {
    for (const close of closing.reverse()) await close()
  })

  async function pool(urls: string[], healthCheckMs = 60_000): Promise<Upstream> {
    const upstream = new Upstream(urls, 2_000, { healthCheckMs })
    closing.push(() => upstream.close())
    await upstream.startHealthChecks()
    return upstream
  }

  it('spreads requests round-robin over the upstreams that are up', async () => {
    const a = await backend('a')
    const b = await backend('b')
    closing.push(a.close, b.close)
    const upstream = await pool([a.url, b.url])
    const seen = []
    for (let i = 0; i < 10; i++) seen.push(await text(upstream))
    assert.equal(seen.filter((s) => s === '["a"]').length, 5)
    assert.equal(seen.filter((s) => s === '["b"]').length, 5)
    const status = upstream.status()
    assert.deepEqual(
      status.map((m) => m.state),
      ['up', 'up'],
    )
    assert.ok(status.every((m) => m.requests === 5 && m.errors === 0 && m.latencyMs !== null))
  })

  it('a refused connection goes to the other upstream, then the only one used', async () => {
    const a = await backend('a')
    closing.push(a.close)
    const dead = `http://127.0.0.1:${await freePort()}/dicom-web`
    const upstream = new Upstream([dead, a.url], 2_000, { healthCheckMs: 60_000 })
    closing.push(() => upstream.close())
    // No health check yet: the first request finds out the hard way, and is retried.
    for (let i = 0; i < 6; i++) assert.equal(await text(upstream), '["a"]')
    const [deadStatus, aStatus] = upstream.status()
    assert.equal(deadStatus?.state, 'down')
    assert.equal(deadStatus?.errors, 1, 'taken out after its first refusal')
    assert.equal(aStatus?.requests, 6)
    assert.equal(upstream.stats.retries, 1)
    assert.equal(upstream.stats.failures, 0)
  })

  it('a reset before headers is retried once on the other upstream; POST is not', async () => {
    const a = await backend('a')
    const b = await backend('b')
    closing.push(a.close, b.close)
    const upstream = await pool([a.url, b.url])
    a.mode = 'reset'
    const replies = [await text(upstream), await text(upstream)]
    assert.deepEqual(replies, ['["b"]', '["b"]'])
    assert.equal(upstream.stats.retries, 1)
    const hitsBefore = a.hits + b.hits
    // POST starts on a (round-robin), which resets: no second try.
    await assert.rejects(text(upstream, 'POST'), { code: 'ISOGATE_E_PROXY_BAD_RESPONSE' })
    assert.equal(a.hits + b.hits, hitsBefore + 1)
  })

  it('a 5xx from one member sends a GET to the other; a lone upstream passes it on', async () => {
    const a = await backend('a')
    const b = await backend('b')
    closing.push(a.close, b.close)
    const upstream = await pool([a.url, b.url])
    a.mode = 'error500'
    assert.deepEqual([await text(upstream), await text(upstream)], ['["b"]', '["b"]'])
    assert.equal(upstream.stats.retries, 1)
    // POST is never sent twice: the 500 comes back as it is.
    b.mode = 'error500'
    const post = await upstream.request({ ...get(), method: 'POST' })
    post.body.resume()
    assert.equal(post.statusCode, 500)
    // With one upstream there is nobody else to ask.
    const lone = await pool([a.url])
    const response = await lone.request(get())
    response.body.resume()
    assert.equal(response.statusCode, 500)
    assert.equal(lone.stats.retries, 0)
  })

  it('a reply that breaks off mid-body is not repeated', async () => {
    const a = await backend('a')
    const b = await backend('b')
    closing.push(a.close, b.close)
    const upstream = await pool([a.url, b.url])
    a.mode = 'midbody'
    b.mode = 'midbody'
    const hitsBefore = a.hits + b.hits
    await assert.rejects(text(upstream))
    assert.equal(a.hits + b.hits, hitsBefore + 1)
    assert.equal(upstream.stats.retries, 0)
  })

  it('the health check takes a failing upstream out and back in once it recovers', async () => {
    const a = await backend('a')
    let b = await backend('b')
    closing.push(a.close, () => b.close())
    const changes: string[] = []
    const upstream = new Upstream([a.url, b.url], 2_000, {
      healthCheckMs: 200,
      onChange: (member, from) =>
        changes.push(`${member.url === b.url ? 'b' : 'a'}:${from}>${member.state}`),
    })
    closing.push(() => upstream.close())
    await upstream.startHealthChecks()
    const port = b.port
    await b.close()
    const waitFor = async (state: string) => {
      for (let i = 0; i < 50 && upstream.status()[1]?.state !== state; i++) {
        await new Promise((r) => setTimeout(r, 100))
      }
      assert.equal(upstream.status()[1]?.state, state)
    }
    await waitFor('down')
    for (let i = 0; i < 4; i++) assert.equal(await text(upstream), '["a"]')
    b = await backend('b', port)
    await waitFor('up')
    const seen = new Set<string>()
    for (let i = 0; i < 4; i++) seen.add(await text(upstream))
    assert.deepEqual([...seen].sort(), ['["a"]', '["b"]'])
    b.mode = 'error500'
    await waitFor('down')
    assert.deepEqual(changes, ['b:up>down', 'b:down>up', 'b:up>down'])
    assert.ok(upstream.status()[1]!.checks >= 3)
  })
})

/**
 * Shared pieces of the proxy and front e2e tests: a proxied source mounted on a bare fastify app
 * with the gateway's header hook, and HTTP clients that send paths exactly as given.
 */
import http from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'

import { fastify, type FastifyInstance } from 'fastify'

import type { FrontSourceConfig, ProxySourceConfig } from '../../src/config/schema.js'
import { createProxySource, type ProxyDataSource } from '../../src/dicomweb/proxy/index.js'
import { headersFor, registerPlanHook } from '../../src/gateway/headers.js'
import { silentLogger, type Logger } from '../../src/log.js'
import { DEFAULT_INTENT, planHeaders, type PlanIntent } from '../../src/policy/plan.js'

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

export interface MountedProxy {
  readonly app: FastifyInstance
  readonly origin: string
  readonly sources: ProxyDataSource[]
  close(): Promise<void>
}

type SourceInput = (ProxySourceConfig | FrontSourceConfig) & { mountPath: string }

/** Mounts sources on a bare fastify app (plan hook only) listening on a free loopback port. */
export async function mountProxy(
  inputs: readonly SourceInput[],
  options: { intent?: Partial<PlanIntent>; logger?: Logger } = {},
): Promise<MountedProxy> {
  const plan = planHeaders({ ...DEFAULT_INTENT, ...options.intent })
  const app = fastify()
  registerPlanHook(app, plan)
  let origin = ''
  const sources: ProxyDataSource[] = []
  for (const input of inputs) {
    const { mountPath, ...config } = input
    const source = await createProxySource(config as ProxySourceConfig, {
      mountPath,
      publicOrigin: () => origin,
      stateDir: '/nonexistent',
      logger: options.logger ?? silentLogger(),
      plan,
      headersFor: (cls, status) => headersFor(plan, cls, status),
    })
    sources.push(source)
    await app.register(source.plugin, { prefix: mountPath })
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return {
    app,
    origin,
    sources,
    async close() {
      await app.close()
      await Promise.allSettled(sources.map((s) => s.close()))
    },
  }
}

/** A proxy source config with the schema's defaults filled in. */
export function proxyConfig(
  upstream: string,
  extra: Partial<ProxySourceConfig> = {},
): ProxySourceConfig {
  return {
    name: 'pacs',
    mode: 'proxy',
    upstream: [upstream],
    kind: 'generic',
    repairs: {},
    timeoutMs: 5_000,
    writeMethods: [],
    ...extra,
  }
}

/** HTTP/1.1 request with the path sent exactly as given (no client-side normalisation). */
export function request(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      { host: url.hostname, port: url.port, path, method, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (c: Buffer) => chunks.push(c))
        response.on('error', reject)
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        )
      },
    )
    outgoing.on('error', reject)
    outgoing.end()
  })
}

/** Sends raw bytes on a fresh connection and returns everything the server wrote back. */
export function rawExchange(origin: string, text: string): Promise<string> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname)
    const chunks: Buffer[] = []
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw exchange timed out')))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    // No half-close: Node's server drops a connection whose client ended before the reply.
    // Requests here say `Connection: close`, so the server closes once it has answered.
    socket.write(text)
  })
}

/** Status code of a raw HTTP/1.1 reply. */
export function rawStatus(reply: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0)
}

/** Every header value and the body as one string, for "does X appear anywhere" checks. */
export function everything(reply: Reply): string {
  return `${JSON.stringify(reply.headers)}\n${reply.body.toString('latin1')}`
}

export function header(reply: Reply, name: string): string | undefined {
  const value = reply.headers[name.toLowerCase()]
  return Array.isArray(value) ? value.join(', ') : value
}

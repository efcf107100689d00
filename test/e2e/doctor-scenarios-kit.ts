/**
 * The scenario lab for the doctor's browser-truth suite: one handler served on several loopback
 * listeners (two ports on 127.0.0.1, one on 127.0.0.2, one https), so that Chromium sees many
 * origins and sites on one machine. Every response is described by its URL (status, header
 * lines, preflight answer), and every page carries a batch of tests its own script runs.
 */
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttps } from 'node:https'
import type { AddressInfo } from 'node:net'

import { generate } from 'selfsigned'

export type Pairs = ReadonlyArray<readonly [string, string]>

/** One check the page runs; the result is true/false, or the frame's report for iframes. */
export interface PageTest {
  readonly id: string
  readonly kind: 'img' | 'img-crossorigin' | 'script' | 'fetch' | 'worker' | 'wasm' | 'iframe'
  readonly url: string
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly mode?: 'cors' | 'no-cors'
  readonly credentials?: 'include' | 'same-origin'
  readonly allow?: string
  readonly credentialless?: boolean
}

export interface ResourceSpec {
  readonly kind: 'img' | 'js' | 'worker' | 'wasm' | 'json' | 'child' | 'redirect'
  readonly status?: number
  readonly headers?: Pairs
  /** The answer to OPTIONS; absent → 405 without CORS headers. */
  readonly preflight?: { readonly status: number; readonly headers: Pairs }
  readonly to?: string
  readonly id?: string
}

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
export const DEFAULT_TYPE: Record<ResourceSpec['kind'], string> = {
  img: 'image/gif',
  js: 'text/javascript',
  worker: 'text/javascript',
  wasm: 'application/wasm',
  json: 'application/json',
  child: 'text/html',
  redirect: 'text/plain',
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const unb64 = <T>(value: string | null): T | undefined =>
  value ? (JSON.parse(Buffer.from(value, 'base64url').toString()) as T) : undefined

/** The URL path (and query) that makes the lab answer as `spec` says. */
export function resourcePath(spec: ResourceSpec): string {
  // The id rides in its own parameter too, so a framed child can report under it.
  return `/res?r=${b64(spec)}${spec.id ? `&i=${encodeURIComponent(spec.id)}` : ''}`
}

const CHILD = `<!doctype html><script>parent.postMessage({id: new URLSearchParams(location.search)
.get('i'), coi: self.crossOriginIsolated, secure: self.isSecureContext}, '*')</script>`

/** The in-page runner: runs every test at once, each with a timeout, and publishes results. */
const RUNNER = `
const T = 8000
const tests = JSON.parse(document.getElementById('tests').textContent)
const late = (p) => Promise.race([p, new Promise((r) => setTimeout(() => r(false), T))])
const element = (tag, t, setup) => late(new Promise((r) => {
  const e = document.createElement(tag)
  setup(e)
  e.onload = () => r(true)
  e.onerror = () => r(false)
  e.src = t.url
  document.body.appendChild(e)
}))
const settle = (p) => late(p.then(() => true, () => false))
async function run(t) {
  try {
    switch (t.kind) {
      case 'img': return await element('img', t, () => {})
      case 'img-crossorigin':
        return await element('img', t, (e) => { e.crossOrigin = 'anonymous' })
      case 'script': return await element('script', t, () => {})
      case 'fetch':
        return await settle(fetch(t.url, { method: t.method || 'GET', headers: t.headers || {},
          mode: t.mode || 'cors', credentials: t.credentials || 'same-origin' }))
      case 'worker': {
        const w = new Worker(t.url)
        return await late(new Promise((r) => {
          w.onmessage = () => r(true)
          w.onerror = () => r(false)
        }))
      }
      case 'wasm': return await settle(WebAssembly.compileStreaming(fetch(t.url)))
      case 'iframe': return await late(new Promise((r) => {
        addEventListener('message', (e) => { if (e.data && e.data.id === t.id) r(e.data) })
        const f = document.createElement('iframe')
        if (t.allow) f.allow = t.allow
        if (t.credentialless) f.setAttribute('credentialless', '')
        f.src = t.url
        document.body.appendChild(f)
      }))
    }
  } catch (e) { return false }
  return false
}
Promise.all(tests.map(async (t) => [t.id, await run(t)])).then((r) => {
  window.__done = { coi: self.crossOriginIsolated, secure: self.isSecureContext,
    sab: typeof SharedArrayBuffer, results: Object.fromEntries(r) } })
`

export interface Lab {
  /** Origins by role; the https names map to 127.0.0.1 through Chromium's resolver rules. */
  readonly http1: string
  readonly http2: string
  readonly http3: string
  readonly httpsPort: number
  readonly httpPort: number
  /** Chromium switches that point the lab's names at loopback. */
  readonly resolverRules: string
  /** Registers a page; returns its path. */
  page(headers: Pairs, tests: readonly PageTest[]): string
  close(): Promise<void>
}

/** Starts the lab's listeners on free loopback ports. */
export async function startLab(): Promise<Lab> {
  const pages = new Map<string, { headers: Pairs; tests: readonly PageTest[] }>()
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://lab')
    const page = pages.get(url.pathname)
    if (page) {
      const json = JSON.stringify(page.tests).replace(/</g, '\\u003c')
      res.writeHead(200, ['Content-Type', 'text/html', ...page.headers.flat()])
      res.end(
        `<!doctype html><body><script id="tests" type="application/json">${json}</script>` +
          `<script>${RUNNER}</script></body>`,
      )
      return
    }
    const spec =
      url.pathname === '/res' ? unb64<ResourceSpec>(url.searchParams.get('r')) : undefined
    if (!spec) {
      res.writeHead(404, ['Content-Type', 'text/plain'])
      res.end('no such scenario')
      return
    }
    if (req.method === 'OPTIONS') {
      const answer = spec.preflight ?? { status: 405, headers: [] }
      res.writeHead(answer.status, answer.headers.flat())
      res.end()
      return
    }
    const headers = spec.headers ?? []
    const typed = headers.some(([n]) => n.toLowerCase() === 'content-type')
    const flat = [...(typed ? [] : ['Content-Type', DEFAULT_TYPE[spec.kind]]), ...headers.flat()]
    if (spec.kind === 'redirect') flat.push('Location', spec.to ?? '/')
    res.writeHead(spec.status ?? (spec.kind === 'redirect' ? 302 : 200), flat)
    const body =
      spec.kind === 'img'
        ? GIF
        : spec.kind === 'wasm'
          ? WASM
          : spec.kind === 'worker'
            ? "postMessage('ok')"
            : spec.kind === 'child'
              ? CHILD
              : spec.kind === 'json'
                ? '[]'
                : spec.kind === 'js'
                  ? 'void 0'
                  : ''
    res.end(body)
  }
  const pems = await generate([{ name: 'commonName', value: 'isogate-lab' }], { keySize: 2048 })
  const servers = [
    createHttp(handler),
    createHttp(handler),
    createHttp(handler),
    createHttps({ cert: pems.cert, key: pems.private }, handler),
  ]
  const hosts = ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.1']
  const ports: number[] = []
  for (const [i, server] of servers.entries()) {
    server.keepAliveTimeout = 500
    await new Promise<void>((resolve) => server.listen(0, hosts[i], resolve))
    ports.push((server.address() as AddressInfo).port)
  }
  const [p1, p2, p3, ps] = ports as [number, number, number, number]
  let counter = 0
  return {
    http1: `http://127.0.0.1:${p1}`,
    http2: `http://127.0.0.1:${p2}`,
    http3: `http://127.0.0.2:${p3}`,
    httpPort: p1,
    httpsPort: ps,
    resolverRules:
      '--host-resolver-rules=MAP viewer.example.org 127.0.0.1, MAP pacs.example.org 127.0.0.1, ' +
      'MAP cdn.example.net 127.0.0.1, MAP insecure.test 127.0.0.1, MAP *.insecure.test 127.0.0.1',
    page(headers, tests) {
      const path = `/page/${++counter}`
      pages.set(path, { headers, tests })
      return path
    },
    close: async () => {
      for (const server of servers) {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      }
    },
  }
}

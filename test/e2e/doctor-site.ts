/**
 * A loopback web server for the doctor's tests: routes answer with exactly the status, headers
 * (repeated lines included) and body a scenario asks for, so a test can reproduce a reported
 * deployment without nginx. It listens on 127.0.0.1 and is closed by the test that started it.
 */
import { readFileSync } from 'node:fs'
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'

export type Pairs = ReadonlyArray<readonly [string, string]>

export interface Route {
  readonly status?: number
  readonly headers?: Pairs
  readonly body?: string | Buffer | (() => string | Buffer)
  /** Answer OPTIONS (a preflight) with this instead of the route itself. */
  readonly options?: { readonly status?: number; readonly headers?: Pairs }
  /** Forward the request to this URL with this Host header, and relay the answer. */
  readonly proxy?: { readonly url: string; readonly host: string }
}

export type Router = (req: IncomingMessage, url: URL) => Route | undefined

export interface Site {
  readonly port: number
  readonly origin: string
  /** Requests seen, as `METHOD path` with the Origin header. */
  readonly log: Array<{
    method: string
    path: string
    origin: string | undefined
    headers: IncomingMessage['headers']
  }>
  close(): Promise<void>
}

/** Starts a server; `router` returns the answer for each request (undefined → 404). */
export async function startSite(router: Router, host = '127.0.0.1', port = 0): Promise<Site> {
  const log: Site['log'] = []
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`)
    log.push({
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      origin: req.headers.origin,
      headers: req.headers,
    })
    const route = router(req, url)
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
      return
    }
    if (route.proxy) {
      forward(req, res, route.proxy)
      return
    }
    const preflight = req.method === 'OPTIONS' && route.options
    const status = preflight ? (route.options.status ?? 204) : (route.status ?? 200)
    const headers = preflight ? (route.options.headers ?? []) : (route.headers ?? [])
    // writeHead with a flat array keeps repeated names as separate field lines.
    res.writeHead(
      status,
      headers.flatMap(([n, v]) => [n, v]),
    )
    const body = typeof route.body === 'function' ? route.body() : route.body
    res.end(preflight || req.method === 'HEAD' ? undefined : (body ?? ''))
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    port: actual,
    origin: `http://${host}:${actual}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: { readonly url: string; readonly host: string },
): void {
  const headers = { ...req.headers, host: target.host }
  delete headers.origin
  const upstream = request(target.url, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.rawHeaders)
    answer.pipe(res)
  })
  upstream.on('error', () => {
    res.writeHead(502)
    res.end()
  })
  req.pipe(upstream)
}

/** A file's content, read once. */
export function file(path: string): () => Buffer {
  let cached: Buffer | undefined
  return () => (cached ??= readFileSync(path))
}

const OHIF_DIR = new URL('../../vendor/ohif/', import.meta.url).pathname

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
}

export interface OhifSiteOptions {
  /** Headers for a path (the SPA fallback is asked for as the request's path). */
  readonly headers: (path: string, status: number) => Pairs
  /** The app-config.js served instead of the build's (which points at a public demo server). */
  readonly appConfig: string
  /** Extra routes (a DICOMweb mount, ...), tried first. */
  readonly extra?: Router
}

/** Serves the bundled OHIF build as a plain static server with an SPA fallback would. */
export function ohifRouter(options: OhifSiteOptions): Router {
  const cache = new Map<string, Buffer | null>()
  const read = (rel: string): Buffer | null => {
    if (!cache.has(rel)) {
      try {
        cache.set(rel, readFileSync(`${OHIF_DIR}${rel}`))
      } catch {
        cache.set(rel, null)
      }
    }
    return cache.get(rel) ?? null
  }
  return (req, url) => {
    const extra = options.extra?.(req, url)
    if (extra) return extra
    const path = url.pathname
    if (path === '/app-config.js') {
      return {
        headers: [['Content-Type', 'text/javascript'], ...options.headers(path, 200)],
        body: options.appConfig,
      }
    }
    const rel = path === '/' ? 'index.html' : path.slice(1)
    const body = rel.includes('..') ? null : read(rel)
    if (body) {
      const ext = /\.[a-z0-9]+$/.exec(rel)?.[0] ?? ''
      return {
        headers: [
          ['Content-Type', TYPES[ext] ?? 'application/octet-stream'],
          ...options.headers(path, 200),
        ],
        body,
      }
    }
    // Files with an extension 404; other paths fall back to index.html (try_files ... /index.html).
    if (/\.[a-z0-9]+$/i.test(path)) {
      return {
        status: 404,
        headers: [['Content-Type', 'text/plain'], ...options.headers(path, 404)],
        body: 'not found',
      }
    }
    return {
      headers: [['Content-Type', 'text/html'], ...options.headers(path, 200)],
      body: read('index.html') ?? '',
    }
  }
}

/** An app-config.js with one DICOMweb source. */
export function appConfigFor(root: string, configuration: Record<string, unknown> = {}): string {
  const source = {
    namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
    sourceName: 'dicomweb',
    configuration: {
      friendlyName: 'test',
      name: 'test',
      qidoRoot: root,
      wadoRoot: root,
      ...configuration,
    },
  }
  const config = {
    routerBasename: null,
    extensions: [],
    modes: [],
    showStudyList: true,
    dataSources: [source],
    defaultDataSourceName: 'dicomweb',
  }
  return `window.config = ${JSON.stringify(config, null, 2)};\n`
}

/**
 * Forwards `/dicom-web/*` to an upstream (a real Orthanc), the way a reverse proxy in front of
 * it would; `host` is the Host header sent upstream (B15: the upstream builds absolute URLs
 * from it).
 */
export function proxyTo(upstream: string, host: (req: IncomingMessage) => string): Router {
  return (req, url) => {
    if (!url.pathname.startsWith('/dicom-web/')) return undefined
    return { proxy: { url: `${upstream}${url.pathname}${url.search}`, host: host(req) } }
  }
}

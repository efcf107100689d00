/**
 * Recipes read back: the Node middleware (Vite, webpack-dev-server, Express) is imported and
 * run on a real loopback server over every file of the OHIF build, client routes and missing
 * files, and each reply must carry exactly `headersFor(plan, class, status)`; the Kubernetes
 * YAML is parsed and must leave every header to the gateway; bad targets and options fail
 * clearly.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, it } from 'node:test'

import { parseAllDocuments } from 'yaml'

import { headersFor, type ResponseClass } from '../policy/plan.js'
import { listTargets, renderRecipe, type RecipeOptions } from './index.js'
import { assetCache, contextOf, isAsset } from './model.js'
import { classOfPath } from './paths.js'

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void

const OHIF = join(process.cwd(), 'vendor', 'ohif')

/** Sample paths: every top-level file of the build, client routes and missing files. */
function samplePaths(base: string): string[] {
  const files = readdirSync(OHIF, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.includes('.'))
    .map((e) => `${base}${e.name}`)
  return [
    ...files,
    base,
    `${base}viewer`,
    `${base}tmtv/abc`,
    `${base}no-such-chunk.js`,
    `${base}gone.worker.js`,
    `${base}gone.wasm`,
    `${base}assets/missing.png`,
  ]
}

/** The headers a reply must carry: the plan's rule, with the hashed/unhashed cache of assets. */
function expected(options: RecipeOptions, path: string, status: number): Map<string, string> {
  const ctx = contextOf(options)
  const cls: ResponseClass = classOfPath(ctx.basePath, path, false)
  const want = new Map<string, string>()
  for (const [name, value] of headersFor(ctx.plan, cls, status)) want.set(name.toLowerCase(), value)
  if (status < 400 && isAsset(cls)) want.set('cache-control', assetCache(ctx.plan, path))
  return want
}

/** The middleware of a rendered target, imported from disk as a project would. */
async function middlewareOf(target: string, options: RecipeOptions, dir: string) {
  const file = renderRecipe(target, options).files.find((f) => f.path === 'isogate-headers.mjs')
  assert.ok(file, `${target} renders isogate-headers.mjs`)
  const path = join(dir, `${target}-${Math.random().toString(36).slice(2)}.mjs`)
  writeFileSync(path, file.content)
  return (await import(pathToFileURL(path).href)) as { isogateHeaders: Middleware }
}

/**
 * A stand-in file server behind the middleware: 200 for files of the build and index.html,
 * 404 otherwise, and it sets the framework headers the middleware must override (helmet's
 * CORP, a static handler's Cache-Control passed to writeHead).
 */
function serve(middleware: Middleware, base: string) {
  const files = new Set(readdirSync(OHIF).map((n) => `${base}${n}`))
  return createServer((req, res) => {
    middleware(req, res, () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
      res.setHeader('Cross-Origin-Opener-Policy', 'unsafe-none')
      const found = files.has(path)
      res.writeHead(found ? 200 : 404, { 'Cache-Control': 'public, max-age=0' })
      res.end(found ? 'file' : 'missing')
    })
  })
}

async function get(port: number, path: string) {
  return await new Promise<{ status: number; headers: Map<string, string[]> }>((ok, fail) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const headers = new Map<string, string[]>()
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i]!.toLowerCase()
        headers.set(name, [...(headers.get(name) ?? []), res.rawHeaders[i + 1]!])
      }
      res.resume()
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers }))
    })
      .on('error', fail)
      .end()
  })
}

const PLANNED = [
  'cross-origin-opener-policy',
  'cross-origin-embedder-policy',
  'cross-origin-resource-policy',
  'cross-origin-opener-policy-report-only',
  'cross-origin-embedder-policy-report-only',
  'content-security-policy',
  'x-frame-options',
  'cache-control',
]

const INTENTS: ReadonlyArray<[string, RecipeOptions]> = [
  ['require-corp at /', {}],
  ['credentialless under /viewer/', { isolation: 'credentialless', basePath: '/viewer/' }],
  ['report-only, framed by a portal', { isolation: 'report-only', embedOrigins: ['https://p.ex'] }],
  ['isolation off', { isolation: 'off' }],
]

describe('Node middleware recipes: every sample path gets headersFor(plan, class, status)', () => {
  for (const target of ['vite', 'webpack-dev-server', 'express', 'express-helmet']) {
    for (const [label, options] of INTENTS) {
      it(`${target}, ${label}`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'isogate-recipe-unit-'))
        const base = options.basePath ?? '/'
        const { isogateHeaders } = await middlewareOf(target, options, dir)
        const server = serve(isogateHeaders, base)
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
        const port = (server.address() as { port: number }).port
        const problems: string[] = []
        try {
          for (const path of samplePaths(base)) {
            const res = await get(port, path)
            const want = expected(options, path, res.status)
            for (const name of PLANNED) {
              const got = res.headers.get(name) ?? []
              const w = want.get(name)
              if (JSON.stringify(got) !== JSON.stringify(w === undefined ? [] : [w])) {
                problems.push(
                  `${path} ${res.status} ${name}: got ${JSON.stringify(got)}, want ${w}`,
                )
              }
            }
          }
        } finally {
          server.close()
          rmSync(dir, { recursive: true, force: true })
        }
        assert.deepEqual(problems, [])
      })
    }
  }

  it('client routes are answered as the viewer page, missing files stay 404', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isogate-recipe-unit-'))
    const { isogateHeaders } = await middlewareOf('express', {}, dir)
    const server = serve(isogateHeaders, '/')
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    try {
      assert.equal((await get(port, '/viewer?StudyInstanceUIDs=1.2')).status, 200)
      assert.equal((await get(port, '/no-such-chunk.js')).status, 404)
    } finally {
      server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('k8s-ingress-nginx: parsed back, one mechanism (B23)', () => {
  const options: RecipeOptions = {
    serverName: 'viewer.example.org',
    cert: '/c.pem',
    key: '/k.pem',
    upstream: 'http://orthanc:8042/dicom-web',
    basePath: '/ohif/',
  }
  const text = renderRecipe('k8s-ingress-nginx', options).files[0]!.content
  const docs = parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, [])
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walked by known paths
    return d.toJSON() as Record<string, any>
  })
  const byKind = new Map(docs.map((d) => [d.kind as string, d]))

  it('holds a Deployment, a Service and an Ingress that point at each other', () => {
    assert.deepEqual([...byKind.keys()], ['Deployment', 'Service', 'Ingress'])
    const deployment = byKind.get('Deployment')!
    const service = byKind.get('Service')!
    const ingress = byKind.get('Ingress')!
    const labels = deployment.spec.template.metadata.labels
    assert.deepEqual(service.spec.selector, labels)
    assert.deepEqual(deployment.spec.selector.matchLabels, labels)
    const backend = ingress.spec.rules[0].http.paths[0].backend.service
    assert.equal(backend.name, service.metadata.name)
    assert.equal(backend.port.name, service.spec.ports[0].name)
    assert.equal(ingress.spec.rules[0].host, 'viewer.example.org')
    assert.equal(ingress.spec.rules[0].http.paths[0].path, '/ohif/')
    assert.deepEqual(ingress.spec.tls[0].hosts, ['viewer.example.org'])
  })

  it('probes the gateway on readyz/healthz under the base path; args match the intent', () => {
    const container = byKind.get('Deployment')!.spec.template.spec.containers[0]
    assert.equal(container.readinessProbe.httpGet.path, '/ohif/__isogate/readyz')
    assert.equal(container.livenessProbe.httpGet.path, '/ohif/__isogate/healthz')
    const args = container.args as string[]
    assert.equal(args[args.indexOf('--public-url') + 1], 'https://viewer.example.org/ohif/')
    assert.equal(args[args.indexOf('--source') + 1], 'pacs=http://orthanc:8042/dicom-web')
    assert.equal(args[args.indexOf('--base-path') + 1], '/ohif/')
  })

  it('the ingress sets no planned header, CORS or snippet: the gateway is the only one', () => {
    const annotations = JSON.stringify(byKind.get('Ingress')!.metadata.annotations).toLowerCase()
    for (const forbidden of ['snippet', 'enable-cors', 'cors-allow', 'add-headers', ...PLANNED]) {
      assert.ok(!annotations.includes(forbidden), `${forbidden} in ${annotations}`)
    }
  })

  it('lists the plan it leaves to the gateway, from the plan itself', () => {
    const ctx = contextOf(options)
    for (const [name, value] of headersFor(ctx.plan, 'document', 200)) {
      assert.ok(text.includes(`#     ${name}: ${value}`), `${name}: ${value}`)
    }
  })
})

describe('targets and options', () => {
  it('--list names every target with how it is verified', () => {
    const names = listTargets().map((t) => `${t.name}:${t.verifiedBy}`)
    for (const t of ['nginx', 'apache', 'caddy', 'vite', 'webpack-dev-server', 'express']) {
      assert.ok(names.includes(`${t}:server`), t)
    }
    assert.ok(names.includes('k8s-ingress-nginx:format'))
  })

  it('data-source targets take --allow-origin though the generic default mode is proxy', () => {
    for (const target of ['orthanc-nginx-cors', 'dcm4chee-rendered-corp']) {
      const out = renderRecipe(target, { allowOrigins: ['https://viewer.example.org'] })
      assert.match(out.files[0]!.content, /"https:\/\/viewer\.example\.org"/, target)
    }
  })

  it('an unknown target and a bad option fail with their codes', () => {
    assert.throws(() => renderRecipe('lighttpd', {}), { code: 'ISOGATE_E_RECIPE_TARGET' })
    assert.throws(() => renderRecipe('vite', { isolation: 'maybe' }), {
      code: 'ISOGATE_E_RECIPE_OPTION',
    })
  })
})

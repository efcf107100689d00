/**
 * Checking a server that runs a rendered recipe: raw requests (so a header sent twice shows up
 * twice), the headers the plan expects for each response class, a viewer folder whose
 * app-config points at the proxied DICOMweb mount, and a counting pass-through in front of an
 * upstream (to prove preflights never reach it).
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { request as httpRequest, createServer, type Server } from 'node:http'
import { join } from 'node:path'

import type { ResponseClass } from '../../src/policy/plan.js'
import { classRules, ruleValue, allRuleNames, type RecipeContext } from '../../src/recipes/model.js'
import { diagnose } from '../../src/doctor/diagnose.js'
import { renderAppConfig } from '../../src/viewer/app-config.js'

export const OHIF_ROOT = join(process.cwd(), 'vendor', 'ohif')

export interface RawResponse {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

/** One request over a fresh connection; headers exactly as they came off the wire. */
export async function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const pairs: Array<readonly [string, string]> = []
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!])
          }
          resolve({ status: res.statusCode ?? 0, headers: pairs, body: Buffer.concat(chunks) })
        })
      },
    )
    req.on('error', reject)
    req.setTimeout(20_000, () => req.destroy(new Error(`timeout ${url}`)))
    req.end()
  })
}

export function headerValues(res: RawResponse, name: string): string[] {
  return res.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v)
}

/** Differences between a reply's headers and what the plan says its class must carry. */
export function planMismatches(
  ctx: RecipeContext,
  res: RawResponse,
  cls: ResponseClass,
  path: string,
  origin?: string,
): string[] {
  const problems: string[] = []
  const expected = new Map<string, string>()
  for (const rule of classRules(ctx, cls)) {
    let value = ruleValue(ctx.plan, rule, res.status, path)
    if (rule.reflectsOrigin) {
      value = origin !== undefined && ctx.cors?.allowOrigins.includes(origin) ? origin : undefined
    }
    if (value !== undefined && value !== '') expected.set(rule.name.toLowerCase(), value)
  }
  // httpd rewrites a Vary list without spaces; a list means the same either way.
  const list = (n: string, v: string) => (n === 'vary' ? v.split(/\s*,\s*/).join(', ') : v)
  for (const [name, value] of expected) {
    const got = headerValues(res, name)
    if (got.length !== 1 || list(name, got[0]!) !== value) {
      problems.push(`${name}: want exactly [${value}], got ${JSON.stringify(got)}`)
    }
  }
  for (const name of allRuleNames(ctx)) {
    const lower = name.toLowerCase()
    if (expected.has(lower) || lower === 'vary' || lower === 'cache-control') continue
    const got = headerValues(res, name)
    if (got.length > 0) problems.push(`${name}: not planned for ${cls}, got ${JSON.stringify(got)}`)
  }
  return problems
}

/**
 * A viewer folder for a live test: every file of the bundled OHIF build linked in, and an
 * app-config.js whose data source is the DICOMweb mount on the viewer's own origin.
 */
export function viewerFolder(dir: string, mountPath: string): string {
  const root = join(dir, 'viewer')
  mkdirSync(root, { recursive: true })
  for (const name of readdirSync(OHIF_ROOT)) {
    if (name !== 'app-config.js') symlinkSync(join(OHIF_ROOT, name), join(root, name))
  }
  const original = readFileSync(join(OHIF_ROOT, 'app-config.js'), 'utf8')
  const config = renderAppConfig(original, {
    basePath: '/',
    sources: [{ name: 'orthanc', qidoRoot: mountPath, wadoRoot: mountPath, options: {} }],
    defaultSource: 'orthanc',
    isolation: 'require-corp',
    version: '3.13.2',
  })
  writeFileSync(join(root, 'app-config.js'), config)
  return root
}

export interface CountingProxy {
  readonly url: string
  /** Requests seen, by method. */
  readonly seen: string[]
  close(): Promise<void>
}

/** Forwards every request unchanged (Host included) to `target`, and counts them. */
export async function countingProxy(target: string, port: number): Promise<CountingProxy> {
  const seen: string[] = []
  const upstream = new URL(target)
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`)
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders)
        up.pipe(res)
      },
    )
    out.on('error', () => {
      res.writeHead(502)
      res.end()
    })
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

export interface ClassProbe {
  readonly label: string
  readonly path: string
  readonly cls: ResponseClass
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly status: number
  readonly contentType?: string
}

/** One request per response class of the OHIF build, with the status each must get. */
export function viewerProbes(): ClassProbe[] {
  return [
    { label: 'document /', path: '/', cls: 'document', status: 200 },
    { label: 'document index.html', path: '/index.html', cls: 'document', status: 200 },
    { label: 'SPA route', path: '/viewer?StudyInstanceUIDs=1.2.3', cls: 'document', status: 200 },
    { label: 'hashed JS', path: '/app.bundle.0f6159c501addfe9.js', cls: 'script', status: 200 },
    {
      label: 'worker bundle',
      path: '/histogram-worker.bundle.ec5f0cf05ce3909c.js',
      cls: 'worker',
      status: 200,
    },
    {
      label: 'wasm',
      path: '/0ddf166f7a343eda.wasm',
      cls: 'wasm',
      status: 200,
      contentType: 'application/wasm',
    },
    { label: 'static css', path: '/app.bundle.css', cls: 'static', status: 200 },
    { label: 'hashed font', path: '/a34f9d1faa5f3315.woff2', cls: 'static', status: 200 },
    { label: 'app-config', path: '/app-config.js', cls: 'app-config', status: 200 },
    { label: 'missing script (404)', path: '/no-such-chunk.js', cls: 'script', status: 404 },
    { label: 'missing file (404)', path: '/assets/no-such.png', cls: 'static', status: 404 },
  ]
}

/** DICOMweb probes through the mount: QIDO, metadata, a missing study, a preflight. */
export function dicomwebProbes(
  mount: string,
  study: string,
  series: string,
  origin?: string,
): ClassProbe[] {
  const o: Record<string, string> = origin ? { Origin: origin } : {}
  return [
    {
      label: 'QIDO studies',
      path: `${mount}/studies`,
      cls: 'dicomweb',
      status: 200,
      headers: { Accept: 'application/dicom+json', ...o },
    },
    {
      label: 'series metadata',
      path: `${mount}/studies/${study}/series/${series}/metadata`,
      cls: 'dicomweb',
      status: 200,
      headers: { Accept: 'application/dicom+json', ...o },
    },
    {
      label: 'missing study (upstream 404)',
      path: `${mount}/studies/1.2.3.4.5.404/metadata`,
      cls: 'dicomweb',
      status: 404,
      headers: { Accept: 'application/dicom+json', ...o },
    },
    {
      label: 'preflight',
      path: `${mount}/studies/${study}/series/${series}/instances/x/frames/1`,
      cls: 'preflight',
      method: 'OPTIONS',
      status: 204,
      headers: {
        ...(origin ? { Origin: origin } : { Origin: 'http://127.0.0.1' }),
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'accept,authorization',
      },
    },
  ]
}

/**
 * Rendered probes through the mount: an instance's `/rendered` (a PDF or image shown in an
 * `<object>`: the `rendered` class, with its own COEP) and a missing one (the error set).
 */
export function renderedProbes(
  mount: string,
  study: string,
  series: string,
  sop: string,
  origin?: string,
): ClassProbe[] {
  const headers: Record<string, string> = {
    Accept: 'image/png',
    ...(origin ? { Origin: origin } : {}),
  }
  return [
    {
      label: 'instance rendered',
      path: `${mount}/studies/${study}/series/${series}/instances/${sop}/rendered`,
      cls: 'rendered',
      status: 200,
      headers,
    },
    {
      label: 'missing instance rendered (upstream 404)',
      path: `${mount}/studies/${study}/series/${series}/instances/1.2.3.404/rendered`,
      cls: 'rendered',
      status: 404,
      headers,
    },
  ]
}

/** The first instance of a series, asked of the upstream directly. */
export async function firstInstance(root: string, study: string, series: string): Promise<string> {
  const url = `${root}/studies/${study}/series/${series}/instances`
  const list = (await (await fetch(url)).json()) as Array<Record<string, { Value: string[] }>>
  return list[0]!['00080018']!.Value[0]!
}

/** Runs probes against a base URL; returns one line per difference from the plan. */
export async function checkProbes(
  ctx: RecipeContext,
  base: string,
  probes: readonly ClassProbe[],
): Promise<string[]> {
  const failures: string[] = []
  for (const probe of probes) {
    const res = await rawRequest(`${base}${probe.path}`, {
      method: probe.method ?? 'GET',
      headers: probe.headers ?? {},
    })
    if (res.status !== probe.status) {
      failures.push(`${probe.label}: status ${res.status}, want ${probe.status}`)
    }
    if (probe.contentType) {
      const type = headerValues(res, 'content-type')
      if (type.length !== 1 || !type[0]!.startsWith(probe.contentType)) {
        failures.push(`${probe.label}: content-type ${JSON.stringify(type)}`)
      }
    }
    const origin = probe.headers?.Origin
    for (const p of planMismatches(ctx, res, probe.cls, probe.path.split('?')[0]!, origin)) {
      failures.push(`${probe.label}: ${p}`)
    }
  }
  return failures
}

/**
 * The doctor's verdict on a live recipe target: runs `isogate doctor` (src/doctor `diagnose`)
 * against the URL and returns its error-severity findings as `CODE: message` lines, so a test
 * asserts an empty list. The doctor is under active development; this is the one place a
 * recipe test calls it.
 */
export async function doctorErrors(url: string): Promise<string[]> {
  const report = await diagnose({ url, timeoutMs: 20_000 })
  return report.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}: ${f.message}`)
}

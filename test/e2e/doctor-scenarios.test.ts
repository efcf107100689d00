/**
 * Browser truth: the rules engine's predictions against what Chromium does, over several
 * hundred generated scenarios (document headers on several origins, subresources with and
 * without CORP/CORS, preflights, redirects, workers, wasm, iframes with and without isolation
 * and `allow`). Prints the agreement and every disagreement; fails on any disagreement.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'

import type { Browser as PwBrowser, BrowserContext } from 'playwright-core'

import {
  evaluateFrameChain,
  headerLines,
  predictSubresource,
  topLevelIsolation,
  type CorsResponse,
  type SubresourceKind,
} from '../../src/policy/rules/index.js'
import { launchChromium } from '../helpers/chromium.js'
import {
  DEFAULT_TYPE,
  resourcePath,
  startLab,
  type Lab,
  type PageTest,
  type Pairs,
  type ResourceSpec,
} from './doctor-scenarios-kit.js'

const COOP = (v: string): Pairs => [['Cross-Origin-Opener-Policy', v]]
const COEP = (v: string): Pairs => [['Cross-Origin-Embedder-Policy', v]]
const CORP = (v: string): Pairs => [['Cross-Origin-Resource-Policy', v]]
const ACAO = (v: string): Pairs => [['Access-Control-Allow-Origin', v]]
const ISO: Pairs = [...COOP('same-origin'), ...COEP('require-corp')]
const ISO_CL: Pairs = [...COOP('same-origin'), ...COEP('credentialless')]
const QUOTED = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
const UNQUOTED = 'multipart/related; type=application/octet-stream; transfer-syntax=*'

/** Document header variants for top-level pages (browser-rules §2–§4, R-SF-3). */
const DOCUMENT_VARIANTS: Record<string, Pairs> = {
  none: [],
  iso: ISO,
  'iso-credentialless': ISO_CL,
  'coop-only': COOP('same-origin'),
  'coep-only': COEP('require-corp'),
  'coop-allow-popups': [...COOP('same-origin-allow-popups'), ...COEP('require-corp')],
  'coop-noopener-allow-popups': [...COOP('noopener-allow-popups'), ...COEP('require-corp')],
  'coop-case': [...COOP('Same-Origin'), ...COEP('require-corp')],
  'coop-quoted': [...COOP('"same-origin"'), ...COEP('require-corp')],
  'coop-restrict-properties': [...COOP('restrict-properties'), ...COEP('require-corp')],
  'coep-duplicate': [...COOP('same-origin'), ...COEP('require-corp'), ...COEP('require-corp')],
  'coop-duplicate': [...COOP('same-origin'), ...COOP('same-origin'), ...COEP('require-corp')],
  'report-to params': [
    ...COOP('same-origin; report-to="a"'),
    ...COEP('require-corp; report-to="b"'),
  ],
  'coep-trailing-semicolon': [...COOP('same-origin'), ...COEP('require-corp;')],
  'coep-spaces': [...COOP('same-origin'), ...COEP(' require-corp ')],
  'coep-tabs': [...COOP('same-origin'), ...COEP('\trequire-corp\t')],
  'coep-tab-after-semicolon': [...COOP('same-origin'), ...COEP('require-corp;\tfoo=bar')],
  'coep-param': [...COOP('same-origin'), ...COEP('require-corp; foo=bar')],
  'coep-comma-list': [...COOP('same-origin'), ...COEP('require-corp, require-corp')],
  'coep-empty-then-value': [...COOP('same-origin'), ...COEP(''), ...COEP('require-corp')],
  'coep-jibberish': [...COOP('same-origin'), ...COEP('jibberish')],
  'coep-bytes': [...COOP('same-origin'), ...COEP(':cmVxdWlyZS1jb3Jw:')],
  'coep-non-ascii': [...COOP('same-origin'), ...COEP('require-c\u00e9orp')],
  'coep-unsafe-none': [...COOP('same-origin'), ...COEP('unsafe-none')],
  'coep-report-only': [
    ...COOP('same-origin'),
    ['Cross-Origin-Embedder-Policy-Report-Only', 'require-corp'],
  ],
  'coop-report-only': [
    ['Cross-Origin-Opener-Policy-Report-Only', 'same-origin'],
    ...COEP('require-corp'),
  ],
  'iso + report-only': [...ISO, ['Cross-Origin-Embedder-Policy-Report-Only', 'require-corp']],
  'pp denied': [...ISO, ['Permissions-Policy', 'cross-origin-isolated=()']],
  'pp self': [...ISO, ['Permissions-Policy', 'cross-origin-isolated=(self)']],
  'pp star': [...ISO, ['Permissions-Policy', 'cross-origin-isolated=*']],
  'dip require-corp': [['Document-Isolation-Policy', 'isolate-and-require-corp']],
  'dip credentialless': [['Document-Isolation-Policy', 'isolate-and-credentialless']],
}

interface Scenario {
  readonly id: string
  readonly predicted: unknown
  observed?: unknown
}

interface PageOrigins {
  readonly name: string
  readonly page: string
  readonly sameSite: string
  readonly crossSite: string
}

let lab: Lab
let browser: PwBrowser
let context: BrowserContext
const scenarios: Scenario[] = []
const remeasured: string[] = []
const differs = (x: Scenario) => JSON.stringify(x.predicted) !== JSON.stringify(x.observed)

before(async () => {
  lab = await startLab()
  browser = await launchChromium({ args: [lab.resolverRules] })
  context = await browser.newContext({ ignoreHTTPSErrors: true })
})

after(async () => {
  await context?.close()
  await browser?.close()
  await lab?.close()
})

/** Loads a page and returns what its runner published. */
async function load(url: string): Promise<{
  coi: boolean
  secure: boolean
  sab: string
  results: Record<string, unknown>
}> {
  const page = await context.newPage()
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 30_000 })
    await page.waitForFunction(() => (window as { __done?: unknown }).__done !== undefined, null, {
      timeout: 30_000,
    })
    return await page.evaluate(() => (window as unknown as { __done: never }).__done)
  } finally {
    await page.close()
  }
}

/** The header lines the lab really sends: the spec's, plus its default Content-Type. */
function withType(s: ResourceSpec): Pairs {
  const headers = s.headers ?? []
  const typed = headers.some(([n]) => n.toLowerCase() === 'content-type')
  return typed ? headers : [['Content-Type', DEFAULT_TYPE[s.kind]], ...headers]
}

function spec(origin: string, s: ResourceSpec): string {
  return `${origin}${resourcePath(s)}`
}

const KIND: Record<string, SubresourceKind> = {
  img: 'img',
  'img-crossorigin': 'img-crossorigin',
  script: 'script',
  worker: 'worker',
  wasm: 'wasm-streaming',
}

/** Builds a batch page's tests, each with the engine's prediction. */
function batch(
  o: PageOrigins,
  pageHeaders: Pairs,
): { tests: PageTest[]; predictions: Map<string, unknown> } {
  const tests: PageTest[] = []
  const predictions = new Map<string, unknown>()
  const page = topLevelIsolation({ url: `${o.page}/`, headers: headerLines(pageHeaders) })
  const facts = { url: `${o.page}/`, secure: page.secure, coep: page.coep }
  const origin = new URL(o.page).origin
  let n = 0
  const add = (
    kind: PageTest['kind'],
    target: string,
    res: ResourceSpec,
    extra: Partial<PageTest> & { redirect?: { final: ResourceSpec; at: string } } = {},
  ) => {
    const id = `${o.name}#${++n}`
    const url = spec(target, { ...res, id })
    const { redirect, ...rest } = extra
    tests.push({ id, kind, url, ...rest })
    const response = (s: ResourceSpec, u: string): CorsResponse => ({
      url: u,
      status: s.status ?? (s.kind === 'redirect' ? 302 : 200),
      headers: headerLines(withType(s)),
    })
    if (kind === 'iframe') {
      const [, child] = evaluateFrameChain([
        { url: `${o.page}/`, headers: headerLines(pageHeaders) },
        {
          url,
          headers: headerLines(res.headers ?? []),
          allow: extra.allow,
          credentialless: extra.credentialless === true,
        },
      ])
      predictions.set(
        id,
        child?.loads ? { loads: true, coi: child.coi, secure: child.secure } : { loads: false },
      )
      return
    }
    const finalUrl = redirect ? redirect.at : url
    const result = predictSubresource({
      page: facts,
      kind: kind === 'fetch' ? (extra.mode === 'no-cors' ? 'fetch-no-cors' : 'fetch') : KIND[kind]!,
      url,
      method: extra.method ?? 'GET',
      response: response(redirect ? redirect.final : res, finalUrl),
      ...(redirect ? { hops: [url, finalUrl], redirectResponses: [response(res, url)] } : {}),
      preflight: {
        url,
        status: res.preflight?.status ?? 405,
        headers: headerLines(res.preflight?.headers ?? []),
      },
      requestHeaders: Object.entries(extra.headers ?? {}),
      credentialed: extra.credentials === 'include',
    })
    predictions.set(id, { loads: result.loads })
  }
  const { sameSite, crossSite } = o
  // No-cors images under the page's COEP: CORP variants, same-site and cross-site.
  add('img', o.page, { kind: 'img' })
  for (const target of [sameSite, crossSite]) {
    for (const corp of [
      [],
      CORP('same-origin'),
      CORP('same-site'),
      CORP('cross-origin'),
      [...CORP('same-origin'), ...CORP('cross-origin')],
      CORP('Same-Site'),
    ] as Pairs[]) {
      add('img', target, { kind: 'img', headers: corp })
    }
  }
  for (const acao of [[], ACAO('*'), ACAO(origin)] as Pairs[]) {
    add('img-crossorigin', crossSite, { kind: 'img', headers: acao })
  }
  add('script', crossSite, { kind: 'js' })
  add('script', crossSite, { kind: 'js', headers: CORP('cross-origin') })
  add('fetch', crossSite, { kind: 'json' }, { mode: 'no-cors' })
  add('fetch', crossSite, { kind: 'json', headers: CORP('cross-origin') }, { mode: 'no-cors' })
  // CORS: the response check.
  for (const acao of [
    [],
    ACAO('*'),
    ACAO(origin),
    ACAO(`${origin}/`),
    [...ACAO(origin), ...ACAO(origin)],
    ACAO('http://elsewhere.example'),
  ] as Pairs[]) {
    add(
      'fetch',
      crossSite,
      { kind: 'json', headers: acao },
      { headers: { Accept: 'application/dicom+json' } },
    )
  }
  // Preflights: OHIF's quoted multipart Accept, Authorization, methods, Range.
  const allow = (h: Pairs) => ({ status: 204, headers: [...ACAO(origin), ...h] })
  add('fetch', crossSite, { kind: 'json', headers: ACAO(origin) }, { headers: { Accept: QUOTED } })
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Headers', 'accept']]),
    },
    { headers: { Accept: QUOTED } },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Headers', '*']]),
    },
    { headers: { Accept: QUOTED } },
  )
  add(
    'fetch',
    crossSite,
    { kind: 'json', headers: ACAO(origin) },
    { headers: { Accept: UNQUOTED } },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Headers', '*']]),
    },
    { headers: { Authorization: 'Bearer t' } },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Headers', 'authorization']]),
    },
    { headers: { Authorization: 'Bearer t' } },
  )
  add(
    'fetch',
    crossSite,
    { kind: 'json', headers: ACAO(origin), preflight: { status: 401, headers: ACAO(origin) } },
    { headers: { Authorization: 'Bearer t' } },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: { status: 302, headers: [...ACAO(origin), ['Location', '/login']] },
    },
    { headers: { Authorization: 'Bearer t' } },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Methods', 'GET, POST']]),
    },
    { method: 'DELETE' },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Methods', 'DELETE']]),
    },
    { method: 'DELETE' },
  )
  add(
    'fetch',
    crossSite,
    { kind: 'json', headers: ACAO(origin) },
    { headers: { Range: 'bytes=0-1' } },
  )
  add(
    'fetch',
    crossSite,
    {
      kind: 'json',
      headers: ACAO(origin),
      preflight: allow([['Access-Control-Allow-Headers', 'accept']]),
    },
    { headers: { Range: 'bytes=-5' } },
  )
  // Credentials.
  add('fetch', crossSite, { kind: 'json', headers: ACAO('*') }, { credentials: 'include' })
  add('fetch', crossSite, { kind: 'json', headers: ACAO(origin) }, { credentials: 'include' })
  add(
    'fetch',
    crossSite,
    { kind: 'json', headers: [...ACAO(origin), ['Access-Control-Allow-Credentials', 'true']] },
    { credentials: 'include' },
  )
  // Redirect through a third origin: the Origin becomes null (R-CORS-11).
  for (const acao of [ACAO(origin), ACAO('*')]) {
    const final: ResourceSpec = { kind: 'json', headers: acao }
    const at = spec(crossSite, final)
    add(
      'fetch',
      sameSite,
      { kind: 'redirect', to: at, headers: ACAO(origin) },
      { redirect: { final, at } },
    )
  }
  // Errors with and without ACAO.
  add('fetch', crossSite, { kind: 'json', status: 500 })
  add('fetch', crossSite, { kind: 'json', status: 500, headers: ACAO(origin) })
  // Workers and wasm.
  add('worker', o.page, { kind: 'worker', headers: COEP('require-corp') })
  add('worker', o.page, { kind: 'worker' })
  add('worker', crossSite, { kind: 'worker', headers: [...COEP('require-corp'), ...ACAO('*')] })
  add('wasm', crossSite, { kind: 'wasm', headers: ACAO('*') })
  add('wasm', crossSite, {
    kind: 'wasm',
    headers: [...ACAO('*'), ['Content-Type', 'application/octet-stream']],
  })
  add('wasm', o.page, { kind: 'wasm', headers: [['Content-Type', 'application/octet-stream']] })
  // CORP same-site between hosts without a registrable domain (Chromium: all compare equal).
  if (!o.page.startsWith('https:')) {
    for (const host of ['other.insecure.test', 'ohif.localhost', 'localhost', 'a.ohif.localhost']) {
      add('img', `http://${host}:${lab.httpPort}`, { kind: 'img', headers: CORP('same-site') })
    }
    add('img', `http://localhost:${lab.httpPort}`, { kind: 'img' })
    add('img', `http://localhost:${lab.httpPort}`, { kind: 'img', headers: CORP('cross-origin') })
    add('fetch', `http://localhost:${lab.httpPort}`, { kind: 'json', headers: ACAO('*') })
  }
  // Mixed content from https pages: an insecure host is blocked, loopback is not.
  if (o.page.startsWith('https:')) {
    add('fetch', `http://insecure.test:${lab.httpPort}`, { kind: 'json', headers: ACAO('*') })
    add('fetch', lab.http1, { kind: 'json', headers: ACAO('*') })
  }
  // Iframes: child COEP/CORP, allow, credentialless, framing, DIP.
  const coi = 'cross-origin-isolated'
  const embeddable: Pairs = [...COEP('require-corp'), ...CORP('cross-origin')]
  add('iframe', crossSite, { kind: 'child', headers: embeddable }, { allow: coi })
  add('iframe', crossSite, { kind: 'child', headers: embeddable })
  add('iframe', crossSite, { kind: 'child', headers: CORP('cross-origin') }, { allow: coi })
  add('iframe', crossSite, { kind: 'child', headers: COEP('require-corp') }, { allow: coi })
  add('iframe', o.page, { kind: 'child', headers: COEP('require-corp') })
  add('iframe', o.page, { kind: 'child' })
  add('iframe', crossSite, { kind: 'child' }, { credentialless: true })
  add('iframe', crossSite, { kind: 'child' }, { credentialless: true, allow: coi })
  add(
    'iframe',
    sameSite,
    { kind: 'child', headers: [...COEP('require-corp'), ...CORP('same-site')] },
    { allow: coi },
  )
  add(
    'iframe',
    crossSite,
    { kind: 'child', headers: [...embeddable, ['X-Frame-Options', 'DENY']] },
    { allow: coi },
  )
  add('iframe', o.page, {
    kind: 'child',
    headers: [...COEP('require-corp'), ['X-Frame-Options', 'SAMEORIGIN']],
  })
  add(
    'iframe',
    crossSite,
    {
      kind: 'child',
      headers: [...embeddable, ['Content-Security-Policy', `frame-ancestors ${origin}`]],
    },
    { allow: coi },
  )
  add(
    'iframe',
    crossSite,
    {
      kind: 'child',
      headers: [...embeddable, ['Content-Security-Policy', "frame-ancestors 'self'"]],
    },
    { allow: coi },
  )
  add('iframe', crossSite, {
    kind: 'child',
    headers: [['Document-Isolation-Policy', 'isolate-and-require-corp']],
  })
  add('iframe', crossSite, { kind: 'child', headers: COEP('credentialless') }, { allow: coi })
  return { tests, predictions }
}

describe('doctor rules vs Chromium', { timeout: 240_000 }, () => {
  it('agrees on every scenario', async () => {
    const p = lab.httpPort
    const s = lab.httpsPort
    const http: PageOrigins = {
      name: 'http',
      page: lab.http1,
      sameSite: lab.http2,
      crossSite: `http://localhost:${p}`,
    }
    const https: PageOrigins = {
      name: 'https',
      page: `https://viewer.example.org:${s}`,
      sameSite: `https://pacs.example.org:${s}`,
      crossSite: `https://cdn.example.net:${s}`,
    }
    const insecure: PageOrigins = {
      name: 'insecure',
      page: `http://insecure.test:${p}`,
      sameSite: `http://insecure.test:${new URL(lab.http2).port}`,
      crossSite: lab.http1,
    }
    // Batch pages: subresources and iframes under each COEP.
    const batches: Array<[PageOrigins, string, Pairs]> = [
      [http, 'none', []],
      [http, 'iso', ISO],
      [http, 'iso-cl', ISO_CL],
      [https, 'none', []],
      [https, 'iso', ISO],
      [https, 'iso-cl', ISO_CL],
      [insecure, 'iso', ISO],
    ]
    const jobs: Array<() => Promise<void>> = []
    for (const [origins, label, headers] of batches) {
      const named = { ...origins, name: `${origins.name}/${label}` }
      const { tests, predictions } = batch(named, headers)
      const path = lab.page(headers, tests)
      jobs.push(async () => {
        const measure = async () => {
          const seen = await load(`${origins.page}${path}`)
          return tests.map((t) => {
            const raw = seen.results[t.id]
            const observed =
              t.kind === 'iframe'
                ? raw && typeof raw === 'object'
                  ? { loads: true, ...(raw as { coi: boolean; secure: boolean }), id: undefined }
                  : { loads: false }
                : { loads: raw === true }
            return {
              id: `${t.id} ${t.kind} ${decodeSpec(t.url)}`,
              predicted: predictions.get(t.id),
              observed,
            }
          })
        }
        let measured = await measure()
        // A page whose tests queue behind each other on a loaded machine can time out; a real
        // disagreement survives a second, fresh load of the whole page.
        if (measured.some(differs)) {
          remeasured.push(named.name)
          measured = await measure()
        }
        scenarios.push(...measured)
      })
    }
    // Top-level documents: header variants on several origins and sites.
    const topOrigins = [
      lab.http1,
      `http://localhost:${p}`,
      lab.http3,
      `http://ohif.localhost:${p}`,
      `http://insecure.test:${p}`,
      `https://viewer.example.org:${s}`,
    ]
    for (const [variant, headers] of Object.entries(DOCUMENT_VARIANTS)) {
      for (const origin of topOrigins) {
        const path = lab.page(headers, [])
        jobs.push(async () => {
          const predicted = topLevelIsolation({
            url: `${origin}${path}`,
            headers: headerLines(headers),
          })
          const seen = await load(`${origin}${path}`)
          scenarios.push({
            id: `top ${variant} @ ${origin}`,
            predicted: {
              coi: predicted.coi,
              secure: predicted.secure,
              sab: predicted.coi ? 'function' : 'undefined',
            },
            observed: { coi: seen.coi, secure: seen.secure, sab: seen.sab },
          })
        })
      }
    }
    // Two pages at a time: one browser, two cores.
    const queue = [...jobs]
    await Promise.all(
      [0, 1].map(async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await job()
      }),
    )

    const disagreements = scenarios.filter(differs)
    const agreed = scenarios.length - disagreements.length
    console.log(`doctor scenarios: ${agreed}/${scenarios.length} agree with Chromium`)
    if (remeasured.length > 0) console.log(`  pages measured twice: ${remeasured.join(', ')}`)
    for (const d of disagreements) {
      console.log(
        `  DISAGREE ${d.id}: predicted ${JSON.stringify(d.predicted)}, ` +
          `Chromium ${JSON.stringify(d.observed)}`,
      )
    }
    assert.ok(scenarios.length >= 200, `only ${scenarios.length} scenarios`)
    assert.equal(disagreements.length, 0)
  })
})

/** A readable summary of a lab URL, for the disagreement list. */
function decodeSpec(url: string): string {
  const u = new URL(url)
  const r = u.searchParams.get('r')
  if (!r) return url
  const s = JSON.parse(Buffer.from(r, 'base64url').toString()) as ResourceSpec
  return (
    `${u.origin} ${s.kind}${s.status ? ` ${s.status}` : ''} ${JSON.stringify(s.headers ?? [])}` +
    (s.preflight ? ` preflight ${JSON.stringify(s.preflight)}` : '')
  )
}

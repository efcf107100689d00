/**
 * Checks on the viewer's own files: the document's isolation (top-level or inside its frame
 * chain), deep links, a deliberate 404, worker scripts and wasm named by the bundle, and header
 * names that look like CORS headers but are not.
 */
import {
  at,
  finding,
  predictSubresource,
  shown,
  topLevelIsolation,
  type Browser,
  type CoepValue,
  type Finding,
  type HeaderLines,
} from '../policy/rules/index.js'
import type { HttpClient, ProbeResult } from './http.js'

const KNOWN_CORS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
  'access-control-allow-private-network',
]

/** B01: `Access-Control-Allow_Credentials` and friends have no effect at all. */
export function misspelledHeaders(url: string, headers: HeaderLines): Finding[] {
  const out: Finding[] = []
  for (const name of Object.keys(headers)) {
    const normal = name.replace(/_/g, '-')
    const looksCors = /^access[-_]control[-_]/.test(name)
    const looksIsolation = /^cross[-_]origin[-_](opener|embedder|resource)[-_]policy/.test(name)
    if (!looksCors && !looksIsolation) continue
    if (KNOWN_CORS.includes(name) || (looksIsolation && !name.includes('_'))) continue
    out.push(
      finding('HEADER_NAME_MISSPELLED', {
        evidence: at(url, name, shown(headers, name)),
        message: `the browser ignores ${name}: it is not a header it knows`,
        fix: `spell it ${headerCase(normal)}`,
      }),
    )
  }
  const acao = shown(headers, 'Access-Control-Allow-Origin')
  const acac = shown(headers, 'Access-Control-Allow-Credentials')
  if (acao === '*' && acac === 'true') {
    out.push(
      finding('CORS_WILDCARD_WITH_CREDENTIALS', {
        severity: 'warning',
        evidence: at(url, 'Access-Control-Allow-Origin', acao),
        message: 'ACAO * with Allow-Credentials: true: credentialed requests are refused',
        fix: 'echo exact allowed origins (with Vary: Origin) when credentials are needed',
      }),
    )
  }
  return out
}

/** B05: SPA fallback routes must carry the same isolation headers as `/`. */
export async function checkDeepLinks(
  http: HttpClient,
  pageUrl: string,
  pageCoi: boolean,
  browser: Browser,
): Promise<{ findings: Finding[]; checked: string[] }> {
  if (!pageCoi) return { findings: [], checked: [] }
  const base = new URL('./', pageUrl)
  const links = ['viewer?StudyInstanceUIDs=1.2.3', 'tmtv?StudyInstanceUIDs=1.2.3'].map((p) =>
    new URL(p, base).toString(),
  )
  const findings: Finding[] = []
  const checked: string[] = []
  for (const link of links) {
    const probe = await http.probe(link, { maxBody: 512 })
    const html = /<html|<!doctype/i.test(probe.body)
    if (probe.status !== 200 || !html) continue
    checked.push(link)
    const result = topLevelIsolation({ url: probe.finalUrl, headers: probe.headers }, { browser })
    if (!result.coi) {
      const first = result.findings[0]
      findings.push(
        finding('DEEP_LINK_NOT_ISOLATED', {
          evidence: first?.evidence ?? at(link),
          message:
            `the deep link ${new URL(link).pathname} is not isolated (${first?.code}), ` +
            'although the start page is: modes opened by URL (TMTV, MPR) fail there',
          fix:
            'send COOP and COEP on every HTML response, including the SPA fallback ' +
            '(nginx: on the location that serves index.html for unknown paths)',
        }),
      )
    }
  }
  return { findings, checked }
}

/** B22: a deliberate 404 must keep the isolation headers a success has. */
export async function checkErrorPage(
  http: HttpClient,
  pageUrl: string,
  page: ProbeResult,
): Promise<{ findings: Finding[]; probe: ProbeResult }> {
  const url = new URL('isogate-doctor-missing-file.js', new URL('./', pageUrl)).toString()
  const probe = await http.probe(url)
  const findings: Finding[] = []
  if (probe.status >= 400) {
    for (const name of [
      'Cross-Origin-Embedder-Policy',
      'Cross-Origin-Opener-Policy',
      'Cross-Origin-Resource-Policy',
    ]) {
      if (shown(page.headers, name) !== null && shown(probe.headers, name) === null) {
        findings.push(
          finding('ERROR_PAGE_HEADERS_MISSING', {
            evidence: at(url, name, null),
            message: `the ${probe.status} page lacks ${name} that successful replies carry`,
            fix:
              'add the header on errors too (nginx: `add_header ... always`; Apache: ' +
              '`Header always set`)',
          }),
        )
      }
    }
  }
  return { findings, probe }
}

export interface AssetCheck {
  readonly url: string
  readonly status: number
  readonly kind: 'worker' | 'wasm' | 'script'
  readonly loads: boolean
}

/** B06, B23: workers need their own COEP; wasm needs application/wasm. */
export async function checkAssets(
  http: HttpClient,
  page: { url: string; secure: boolean; coep: CoepValue },
  workers: readonly string[],
  wasm: readonly string[],
  browser: Browser,
): Promise<{ findings: Finding[]; checked: AssetCheck[] }> {
  const findings: Finding[] = []
  const checked: AssetCheck[] = []
  const jobs = [
    ...workers.slice(0, 4).map((url) => ({ url, kind: 'worker' as const })),
    ...wasm.slice(0, 3).map((url) => ({ url, kind: 'wasm' as const })),
  ]
  const probes = await Promise.all(
    jobs.map(async (job) => ({ job, probe: await http.probe(job.url, { method: 'GET' }) })),
  )
  for (const { job, probe } of probes) {
    const result = predictSubresource(
      {
        page,
        kind: job.kind === 'worker' ? 'worker' : 'wasm-streaming',
        url: job.url,
        response: { url: probe.finalUrl, status: probe.status, headers: probe.headers },
        browser,
      },
      {},
    )
    checked.push({ url: job.url, status: probe.status, kind: job.kind, loads: result.loads })
    findings.push(...result.findings.filter((f) => f.code !== 'PREFLIGHT_REQUIRED'))
    if (probe.status >= 400) {
      findings.push(
        finding(job.kind === 'worker' ? 'WORKER_COEP_MISSING' : 'WASM_MIME_INVALID', {
          severity: 'warning',
          evidence: at(job.url, null, String(probe.status)),
          message: `the bundle names ${new URL(job.url).pathname} but it answers ${probe.status}`,
          fix: 'deploy every file of the build, at the public path the bundle expects',
        }),
      )
    }
  }
  return { findings, checked }
}

/** `cross-origin-opener-policy` → `Cross-Origin-Opener-Policy`. */
function headerCase(name: string): string {
  return name.replace(/(^|-)(\w)/g, (_, dash: string, c: string) => dash + c.toUpperCase())
}

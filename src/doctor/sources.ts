/**
 * Probing each DICOMweb source of the viewer's app-config.js as OHIF would: a QIDO query with
 * the viewer's Origin and `Accept: application/dicom+json`, the series metadata, one frame with
 * OHIF's multipart Accept (and the preflight its quotes trigger), `rendered` when configured,
 * and a missing study, to see whether errors keep their CORS headers.
 */
import { addressSpaceOf, hostOf, originOf, sameOrigin } from '../policy/site.js'
import {
  at,
  finding,
  networkChecks,
  predictCorsFetch,
  predictPreflight,
  predictSubresource,
  varyFinding,
  type CoepValue,
  type CorsRequest,
  type Finding,
} from '../policy/rules/index.js'
import { isIsogateError } from '../errors.js'
import type { ConfiguredSource } from './app-config.js'
import type { HttpClient, ProbeResult } from './http.js'

export const QUOTED_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
export const UNQUOTED_ACCEPT = 'multipart/related; type=application/octet-stream; transfer-syntax=*'

export interface SourceProbe {
  readonly kind: 'qido' | 'metadata' | 'frame' | 'preflight' | 'rendered' | 'error'
  readonly url: string
  readonly status: number | null
  readonly ok: boolean
}

export interface SourceReport {
  readonly name: string
  readonly qidoRoot: string
  readonly wadoRoot: string
  readonly crossOrigin: boolean
  readonly reachable: boolean
  readonly probes: SourceProbe[]
  readonly findings: Finding[]
}

export interface PageFacts {
  readonly url: string
  readonly secure: boolean
  readonly coep: CoepValue
}

const PROBE_ORIGIN = 'https://isogate-doctor.invalid'

/** The Accept OHIF's dicomweb-client sends for frames with this configuration. */
export function frameAccept(configuration: Record<string, unknown>): string {
  const configured = configuration.acceptHeader
  if (Array.isArray(configured) && typeof configured[0] === 'string') return configured[0]
  return configuration.omitQuotationForMultipartRequest === true ? UNQUOTED_ACCEPT : QUOTED_ACCEPT
}

function resolveRoot(root: string | undefined, pageUrl: string): string | null {
  if (!root) return null
  try {
    return new URL(root, pageUrl).toString().replace(/\/+$/, '')
  } catch {
    return null
  }
}

/** B13: roots a browser elsewhere cannot reach (docker names, another machine's loopback). */
function hostFindings(root: string, pageUrl: string): Finding[] {
  const host = hostOf(root)
  const pageSpace = addressSpaceOf(pageUrl)
  const single = !host.includes('.') && !host.includes(':') && host !== 'localhost'
  const loopback = addressSpaceOf(root) === 'loopback' && pageSpace !== 'loopback'
  if (!single && !loopback) return []
  return [
    finding('SOURCE_HOST_INTERNAL', {
      evidence: at(root),
      message: single
        ? `${host} is a name only a server (or a docker network) resolves; ` +
          "the user's browser cannot"
        : `${host} is the loopback of whoever opens the viewer, not of this server`,
      fix: 'publish DICOMweb under the viewer origin (isogate proxy, or a /dicom-web location)',
    }),
  ]
}

/** Probes one source. Never throws for an unreachable source; that is a finding. */
export async function probeSource(
  http: HttpClient,
  page: PageFacts,
  source: ConfiguredSource,
): Promise<SourceReport> {
  const qido = resolveRoot(source.qidoRoot, page.url)
  const wado = resolveRoot(source.wadoRoot ?? source.qidoRoot, page.url)
  const probes: SourceProbe[] = []
  const findings: Finding[] = []
  const report = (reachable: boolean): SourceReport => ({
    name: source.sourceName,
    qidoRoot: qido ?? String(source.qidoRoot),
    wadoRoot: wado ?? String(source.wadoRoot),
    crossOrigin: qido ? !sameOrigin(qido, page.url) : false,
    reachable,
    probes,
    findings,
  })
  if (!qido || !wado) {
    findings.push(
      finding('SOURCE_UNREACHABLE', {
        evidence: at(page.url, 'qidoRoot', String(source.qidoRoot)),
        message: `source ${source.sourceName} has no usable qidoRoot/wadoRoot`,
        fix: 'set qidoRoot and wadoRoot to the DICOMweb root (relative to the viewer, or absolute)',
      }),
    )
    return report(false)
  }
  const internal = hostFindings(qido, page.url)
  findings.push(...internal)
  // A docker-network name or someone else's loopback: the browser cannot reach it, and
  // probing it from here would ask this machine's resolver about a name that means nothing.
  if (internal.length > 0) return report(false)
  const network = networkChecks({ pageUrl: page.url, pageSecure: page.secure, url: qido })
  findings.push(...network)
  if (network.some((f) => f.code === 'MIXED_CONTENT')) return report(false)

  const origin = originOf(page.url)
  const cross = !sameOrigin(qido, page.url)
  const withOrigin = (headers: Record<string, string>) => (cross ? { origin, ...headers } : headers)

  // QIDO, as OHIF's study list asks it (includefield joined by an encoded comma, user case M01).
  const qidoUrl = `${qido}/studies?limit=3&includefield=00081030%2C00080060`
  const qidoReq: CorsRequest = {
    url: qidoUrl,
    method: 'GET',
    headers: [['Accept', 'application/dicom+json']],
  }
  const qidoProbe = await safeProbe(http, qidoUrl, {
    headers: withOrigin({ accept: 'application/dicom+json' }),
    maxBody: 1 << 20,
  })
  if (!qidoProbe) {
    findings.push(unreachable(source, qidoUrl, 'does not answer'))
    probes.push({ kind: 'qido', url: qidoUrl, status: null, ok: false })
    return report(false)
  }
  const qidoVerdict = predictCorsFetch(page.url, page.secure, qidoReq, {
    response: asResponse(qidoProbe),
    hops: [qidoUrl, ...qidoProbe.redirects.map((r) => r.location)],
  })
  findings.push(...qidoVerdict.findings)
  const qidoOk = qidoVerdict.ok && qidoProbe.status < 400
  probes.push({ kind: 'qido', url: qidoUrl, status: qidoProbe.status, ok: qidoOk })
  if (qidoVerdict.ok && qidoProbe.status >= 400) {
    findings.push(unreachable(source, qidoUrl, `answers ${qidoProbe.status}`))
  }
  if (cross && qidoVerdict.ok) findings.push(...(await reflection(http, qidoUrl, qidoProbe)))
  const studies = parseJsonArray(qidoProbe.body)
  findings.push(...qidoContent(qidoUrl, studies))

  await missingStudy(http, page, wado, cross, withOrigin, probes, findings)
  if (!qidoOk) return report(false)

  const frameOk = await probeFrame(
    http,
    page,
    source,
    qido,
    wado,
    studies,
    cross,
    withOrigin,
    probes,
    findings,
  )
  return report(qidoOk && frameOk)
}

function unreachable(source: ConfiguredSource, url: string, what: string): Finding {
  return finding('SOURCE_UNREACHABLE', {
    evidence: at(url),
    message: `source ${source.sourceName} ${what} to a plain QIDO query`,
    fix: 'check qidoRoot, and that the DICOMweb server runs and is reachable from browsers',
  })
}

async function safeProbe(
  http: HttpClient,
  url: string,
  options: Parameters<HttpClient['probe']>[1],
): Promise<ProbeResult | null> {
  try {
    return await http.probe(url, options)
  } catch (error) {
    if (isIsogateError(error)) return null
    throw error
  }
}

function asResponse(probe: ProbeResult) {
  return { url: probe.finalUrl, status: probe.status, headers: probe.headers }
}

function parseJsonArray(body: string): Array<Record<string, { vr?: string; Value?: unknown[] }>> {
  try {
    const parsed: unknown = JSON.parse(body)
    return Array.isArray(parsed) ? (parsed as Array<Record<string, { Value?: unknown[] }>>) : []
  } catch {
    return []
  }
}

/** M01 and M02: what OHIF's study list needs from QIDO. */
function qidoContent(
  url: string,
  studies: ReadonlyArray<Record<string, { vr?: string; Value?: unknown[] }>>,
): Finding[] {
  const out: Finding[] = []
  if (studies.length > 0 && studies.every((s) => !('00081030' in s))) {
    out.push(
      finding('QIDO_INCLUDEFIELD_IGNORED', {
        evidence: at(url, 'includefield', '00081030%2C00080060'),
        message:
          'QIDO ignored includefield=00081030%2C00080060 (one comma-joined value), so ' +
          'OHIF shows every study as "No Description"',
        fix: 'put Isogate in front (proxy mode splits includefield), or upgrade the server',
      }),
    )
  }
  const empty = studies.find((s) => s['00080061'] && !Array.isArray(s['00080061'].Value))
  if (empty) {
    out.push(
      finding('QIDO_EMPTY_VALUE', {
        evidence: at(url, 'ModalitiesInStudy (00080061)', JSON.stringify(empty['00080061'])),
        message:
          'a study has ModalitiesInStudy without a Value; OHIF 3.13 replaces the whole ' +
          'study list with a "Data Source Connection Error"',
        fix: 'proxy the source through Isogate (it repairs the attribute), or fix the data',
      }),
    )
  }
  return out
}

/** R-CORS-12: does ACAO follow the Origin? Then Vary: Origin must be there. */
async function reflection(http: HttpClient, url: string, first: ProbeResult): Promise<Finding[]> {
  const second = await safeProbe(http, url, {
    headers: { origin: PROBE_ORIGIN, accept: 'application/dicom+json' },
  })
  if (!second) return []
  const reflected = second.headers['access-control-allow-origin']?.[0] === PROBE_ORIGIN
  const out: Finding[] = []
  const vary = varyFinding(asResponse(first), reflected)
  if (vary) out.push(vary)
  return out
}

/** B22: a 404 for a study that does not exist must still carry ACAO. */
async function missingStudy(
  http: HttpClient,
  page: PageFacts,
  wado: string,
  cross: boolean,
  withOrigin: (h: Record<string, string>) => Record<string, string>,
  probes: SourceProbe[],
  findings: Finding[],
): Promise<void> {
  const url = `${wado}/studies/2.25.404404404404404404/metadata`
  const probe = await safeProbe(http, url, {
    headers: withOrigin({ accept: 'application/dicom+json' }),
  })
  if (!probe) return
  probes.push({ kind: 'error', url, status: probe.status, ok: probe.status >= 400 })
  if (!cross || probe.status < 400) return
  const verdict = predictCorsFetch(
    page.url,
    page.secure,
    { url, method: 'GET', headers: [['Accept', 'application/dicom+json']] },
    { response: asResponse(probe) },
  )
  const missing = verdict.findings.find((f) => f.code === 'CORS_ACAO_MISSING_ON_ERROR')
  if (missing) findings.push({ ...missing, severity: 'warning' })
}

function firstValue(
  obj: Record<string, { Value?: unknown[] }> | undefined,
  tag: string,
): string | undefined {
  const value = obj?.[tag]?.Value?.[0]
  return typeof value === 'string' ? value : undefined
}

/** B15/B20: absolute URLs in metadata must stay under the wadoRoot the viewer uses. */
function foreignUrls(wado: string, url: string, body: string): Finding[] {
  const urls = [
    ...body.matchAll(/"(?:BulkDataURI|00081190)"\s*:\s*(?:\{[^}]*"Value"\s*:\s*\[\s*)?"([^"]+)"/g),
  ]
    .map((m) => m[1] ?? '')
    .filter((u) => /^https?:\/\//i.test(u))
  const prefix = new URL(wado)
  const foreign = urls.find((u) => {
    const target = new URL(u)
    return target.origin !== prefix.origin || !target.pathname.startsWith(prefix.pathname)
  })
  if (!foreign) return []
  return [
    finding('BULKDATA_URI_FOREIGN', {
      evidence: at(url, 'BulkDataURI', foreign),
      message:
        `metadata points at ${foreign}, outside the wadoRoot ${wado}: the browser ` +
        "requests the server's internal address (or a wrong prefix) and fails",
      fix:
        'have the proxy pass X-Forwarded-Host/-Proto (Orthanc 1.14+) or set the public root, ' +
        'or use Isogate proxy mode, which rewrites these URLs',
    }),
  ]
}

async function probeFrame(
  http: HttpClient,
  page: PageFacts,
  source: ConfiguredSource,
  qido: string,
  wado: string,
  studies: ReadonlyArray<Record<string, { Value?: unknown[] }>>,
  cross: boolean,
  withOrigin: (h: Record<string, string>) => Record<string, string>,
  probes: SourceProbe[],
  findings: Finding[],
): Promise<boolean> {
  const study = firstValue(studies[0], '0020000D')
  if (!study) return true
  const seriesProbe = await safeProbe(http, `${qido}/studies/${study}/series`, {
    headers: withOrigin({ accept: 'application/dicom+json' }),
    maxBody: 1 << 20,
  })
  const series = firstValue(parseJsonArray(seriesProbe?.body ?? '')[0], '0020000E')
  if (!series) return true
  const metaUrl = `${wado}/studies/${study}/series/${series}/metadata`
  const meta = await safeProbe(http, metaUrl, {
    headers: withOrigin({ accept: 'application/dicom+json' }),
    maxBody: 4 << 20,
  })
  probes.push({
    kind: 'metadata',
    url: metaUrl,
    status: meta?.status ?? null,
    ok: (meta?.status ?? 500) < 400,
  })
  if (!meta) return false
  findings.push(...foreignUrls(wado, metaUrl, meta.body))
  const instance = firstValue(parseJsonArray(meta.body)[0], '00080018')
  if (!instance) return true

  const accept = frameAccept(source.configuration)
  const frameUrl = `${wado}/studies/${study}/series/${series}/instances/${instance}/frames/1`
  const request: CorsRequest = { url: frameUrl, method: 'GET', headers: [['Accept', accept]] }
  const prediction = predictPreflight(request)
  let preflight: ProbeResult | null = null
  if (cross && prediction.needed) {
    preflight = await safeProbe(http, frameUrl, {
      method: 'OPTIONS',
      follow: false,
      headers: {
        origin: originOf(page.url),
        'access-control-request-method': 'GET',
        'access-control-request-headers': prediction.unsafeHeaders.join(','),
      },
    })
    probes.push({
      kind: 'preflight',
      url: frameUrl,
      status: preflight?.status ?? null,
      ok: (preflight?.status ?? 500) < 300,
    })
  }
  const frame = await safeProbe(http, frameUrl, { headers: withOrigin({ accept }) })
  if (!frame) {
    probes.push({ kind: 'frame', url: frameUrl, status: null, ok: false })
    return false
  }
  const verdict = predictCorsFetch(page.url, page.secure, request, {
    response: asResponse(frame),
    ...(preflight ? { preflight: asResponse(preflight) } : {}),
  })
  findings.push(...verdict.findings)
  const ok = verdict.ok && frame.status < 400
  probes.push({ kind: 'frame', url: frameUrl, status: frame.status, ok })

  const rendering = [source.configuration.imageRendering, source.configuration.thumbnailRendering]
  if (rendering.includes('rendered') || rendering.includes('thumbnail')) {
    const path = rendering.includes('rendered') ? 'rendered' : 'thumbnail'
    const url = `${wado}/studies/${study}/series/${series}/instances/${instance}/${path}`
    const kind = source.configuration.thumbnailRequestStrategy === 'fetch' ? 'fetch' : 'img'
    const rendered = await safeProbe(http, url, {
      headers: kind === 'fetch' ? withOrigin({ accept: 'image/jpeg' }) : { accept: 'image/*' },
    })
    if (rendered) {
      const result = predictSubresource({
        page,
        kind,
        url,
        response: asResponse(rendered),
        requestHeaders: kind === 'fetch' ? [['Accept', 'image/jpeg']] : [],
      })
      findings.push(...result.findings.filter((f) => f.code !== 'PREFLIGHT_REQUIRED'))
      probes.push({ kind: 'rendered', url, status: rendered.status, ok: result.loads })
    }
  }
  return ok
}

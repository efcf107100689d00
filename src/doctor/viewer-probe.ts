/**
 * Probing the viewer build itself: its app bundle (workers, wasm, and the OHIF version from
 * whichever lazy chunk holds the About dialog) and its app-config.js, read as data.
 */
import { at, finding, type Finding } from '../policy/rules/index.js'
import { CODE, dicomwebSources, readAppConfig } from './app-config.js'
import type { HttpClient } from './http.js'
import { findVersion, readBundle, type ViewerBuild } from './viewer.js'

export interface ViewerFacts {
  readonly version: string | null
  readonly bundleUrl: string | null
  readonly workers: string[]
  readonly wasm: string[]
}

/** Reads the app bundle and, when it lacks the version, the lazy chunks that may hold it. */
export async function readViewer(
  http: HttpClient,
  url: string,
  build: ViewerBuild,
  scanChunks: boolean,
): Promise<ViewerFacts> {
  if (!build.appBundleUrl) return { version: null, bundleUrl: null, workers: [], wasm: [] }
  const bundle = await http.probe(build.appBundleUrl, { maxBody: 64 << 20 })
  const facts = readBundle(bundle.body)
  const base = new URL(facts.publicPath ?? '/', url)
  const workers = facts.workers.map((w) => new URL(w, base).toString())
  const wasm = facts.wasm
    .filter((w) => /^[0-9a-f]{16}\.wasm$/.test(w))
    .map((w) => new URL(w, base).toString())
  let version = facts.version ?? null
  if (!version && scanChunks) {
    // The About dialog holding the version sits in a lazy chunk; look through them, 6 at once.
    const chunks = facts.chunks.map((c) => new URL(c, base).toString())
    for (let i = 0; i < chunks.length && !version; i += 6) {
      const texts = await Promise.all(
        chunks.slice(i, i + 6).map(async (c) => (await http.probe(c, { maxBody: 16 << 20 })).body),
      )
      version = texts.map(findVersion).find((v) => v !== undefined) ?? null
    }
  }
  return { version, bundleUrl: build.appBundleUrl, workers, wasm }
}

/** Reads app-config.js: its DICOMweb sources and its useSharedArrayBuffer setting. */
export async function readConfig(
  http: HttpClient,
  url: string,
  build: ViewerBuild,
): Promise<{
  url: string | null
  sources: ReturnType<typeof dicomwebSources>
  sab: { value: unknown; type: string } | null
  findings: Finding[]
}> {
  const configUrl =
    build.appConfigUrl ?? (build.ohif ? new URL('app-config.js', url).toString() : null)
  if (!configUrl) return { url: null, sources: [], sab: null, findings: [] }
  const probe = await http.probe(configUrl, { maxBody: 1 << 20 })
  const read =
    probe.status < 400
      ? readAppConfig(probe.body)
      : { config: null, problem: `answers ${probe.status}` }
  if (!read.config) {
    return {
      url: configUrl,
      sources: [],
      sab: null,
      findings: [
        finding('APP_CONFIG_UNREADABLE', {
          evidence: at(configUrl, null, String(probe.status)),
          message: `cannot read the data sources: ${read.problem}`,
          fix: 'serve app-config.js with a literal `window.config = {...}`',
        }),
      ],
    }
  }
  const findings: Finding[] = []
  let sab: { value: unknown; type: string } | null = null
  if ('useSharedArrayBuffer' in read.config) {
    const value = read.config.useSharedArrayBuffer
    sab = { value: value === CODE ? 'computed' : value, type: typeof value }
    findings.push(
      finding('SAB_CONFIG', {
        evidence: at(configUrl, 'useSharedArrayBuffer', JSON.stringify(value)),
        message:
          `useSharedArrayBuffer is ${JSON.stringify(value)} (${typeof value}); OHIF 3.7–3.8 ` +
          "honour only the strings 'AUTO' and 'FALSE', and 3.9+ ignore it",
        fix: 'make the page isolated rather than relying on the non-shared fallback',
      }),
    )
  }
  return { url: configUrl, sources: dicomwebSources(read.config), sab, findings }
}

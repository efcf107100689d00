/**
 * Generating the viewer's `app-config.js` from the config. The build's own file is kept as it
 * is (OHIF 3.13 ships a deliberately locked-down default: no URL-driven data sources, no
 * `?customization=` loading, no dynamic config) and a block appended after it overrides only
 * what Isogate decides: the router base, the data sources and, for old builds, SharedArrayBuffer
 * use. A user's own build keeps its extensions, modes, OIDC settings and hotkeys the same way.
 */
import type { Isolation } from '../policy/plan.js'
import { readsSharedArrayBufferFlag } from './locate.js'

/** One OHIF data source, as the viewer should see it. */
export interface ViewerDataSource {
  readonly name: string
  /** Root-absolute path on the viewer's origin (`/dicomweb/pacs`) or an absolute URL (direct). */
  readonly qidoRoot: string
  readonly wadoRoot: string
  /** The source's own OHIF options; they win over the defaults below. */
  readonly options: Readonly<Record<string, unknown>>
}

export interface AppConfigInput {
  /** Where the viewer is served, starting and ending with `/`. */
  readonly basePath: string
  readonly sources: readonly ViewerDataSource[]
  readonly defaultSource: string | undefined
  readonly isolation: Isolation
  /** The build's OHIF version when known; decides whether `useSharedArrayBuffer` is written. */
  readonly version: string | undefined
}

/**
 * DICOMweb options that suit a live DICOMweb server (Orthanc, dcm4chee, Isogate's own), rather
 * than OHIF's default, which is tuned for a static WADO bucket (`staticWado`). Sources override.
 */
export const DEFAULT_SOURCE_OPTIONS: Readonly<Record<string, unknown>> = {
  qidoSupportsIncludeField: false,
  imageRendering: 'wadors',
  thumbnailRendering: 'wadors',
  enableStudyLazyLoad: true,
  supportsFuzzyMatching: false,
  supportsWildcard: true,
  singlepart: 'bulkdata,video',
  omitQuotationForMultipartRequest: true,
  bulkDataURI: { enabled: true, relativeResolution: 'studies' },
}

const NAMESPACE = '@ohif/extension-default.dataSourcesModule.dicomweb'

/**
 * The `useSharedArrayBuffer` value for builds that read it (OHIF 3.7–3.8), or undefined for
 * builds that do not. It is a string because those builds compared against `'FALSE'` and
 * `'AUTO'`; a boolean `false` was not honoured before OHIF PR #3688 (user case B04). Isolated:
 * `'AUTO'` uses shared buffers exactly when the page really is isolated; otherwise `'FALSE'`,
 * so volumes fall back to non-shared buffers instead of failing on a missing SharedArrayBuffer.
 */
export function sharedArrayBufferSetting(
  isolation: Isolation,
  version: string | undefined,
): 'AUTO' | 'FALSE' | undefined {
  if (!readsSharedArrayBufferFlag(version)) return undefined
  return isolation === 'require-corp' || isolation === 'credentialless' ? 'AUTO' : 'FALSE'
}

/** The overrides as plain data (roots still relative); exported for tests and the status page. */
export function appConfigOverrides(input: AppConfigInput): Record<string, unknown> {
  const defaultName = input.defaultSource ?? input.sources[0]?.name
  const overrides: Record<string, unknown> = {
    routerBasename: input.basePath,
    showStudyList: true,
    dataSources: input.sources.map((source) => ({
      namespace: NAMESPACE,
      sourceName: source.name,
      configuration: {
        friendlyName: source.name,
        name: source.name,
        ...DEFAULT_SOURCE_OPTIONS,
        ...source.options,
        qidoRoot: source.qidoRoot,
        wadoRoot: source.wadoRoot,
        wadoUriRoot: (source.options.wadoUriRoot as string | undefined) ?? source.wadoRoot,
      },
    })),
  }
  if (defaultName !== undefined) overrides.defaultDataSourceName = defaultName
  const sab = sharedArrayBufferSetting(input.isolation, input.version)
  if (sab !== undefined) overrides.useSharedArrayBuffer = sab
  return overrides
}

/**
 * The served `app-config.js`: the build's file, then the override block. Roots become absolute
 * in the browser from `window.location.origin`, so the viewer calls the origin it was loaded
 * from (also behind a reverse proxy with another public name) and never an upstream's.
 */
export function renderAppConfig(original: string, input: AppConfigInput): string {
  const overrides = JSON.stringify(appConfigOverrides(input), null, 2)
  return `${original.trimEnd()}

// ---- Added by Isogate when serving; the file above is the viewer build's own. ----
;(function () {
  var origin = window.location.origin
  var overrides = ${overrides}
  overrides.dataSources.forEach(function (source) {
    var c = source.configuration
    ;['qidoRoot', 'wadoRoot', 'wadoUriRoot'].forEach(function (key) {
      if (typeof c[key] === 'string' && c[key].charAt(0) === '/') c[key] = origin + c[key]
    })
    // OHIF's default maps video bulk data to /rendered; a function cannot travel in JSON.
    if (c.bulkDataURI && c.bulkDataURI.transform === undefined) {
      c.bulkDataURI.transform = function (url) {
        return url.replace('/pixeldata.mp4', '/rendered')
      }
    }
  })
  var base = window.config
  if (typeof base === 'function') {
    window.config = function () {
      return Object.assign(base.apply(this, arguments), overrides)
    }
  } else {
    window.config = Object.assign(base || {}, overrides)
  }
})()
`
}

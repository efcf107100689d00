/**
 * Which response class a viewer path belongs to, as an ordered list of routes every renderer
 * spells in its own syntax (nginx locations, Apache `<If>` chains, Caddy matchers, ...). The
 * same split as viewer/classify.ts; a unit test checks the two agree on every file of the OHIF
 * build. Pure.
 */
import type { ResponseClass } from '../policy/plan.js'

/** OHIF 3.13's cornerstone worker bundles (see viewer/classify.ts). */
const WORKER_SUFFIX = '[^/]*\\.worker(?:\\.min)?\\.m?js'
const WORKER_BUNDLE = '(?:histogram-worker|compute|interpolation|polySeg)\\.bundle\\.[0-9a-f]+\\.js'

export type RouteMatch =
  | { readonly kind: 'exact'; readonly path: string }
  | { readonly kind: 'regex'; readonly pattern: string }
  | { readonly kind: 'prefix'; readonly path: string }

export interface ViewerRoute {
  readonly cls: ResponseClass
  readonly match: RouteMatch
  /** What the route covers, for the comment above it. */
  readonly label: string
  /** Missing files fall back to index.html (client-side routes); false means 404. */
  readonly spa: boolean
}

/** Escapes a literal path for a regex (base paths hold only [A-Za-z0-9._~-/]). */
export function escapeRegex(path: string): string {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The routes, first match wins. Everything with an extension is a file (a missing one is a
 * 404: HTML in place of a script fails far less clearly); everything else is a client route.
 */
export function viewerRoutes(basePath: string): ViewerRoute[] {
  const base = escapeRegex(basePath)
  return [
    {
      cls: 'app-config',
      match: { kind: 'exact', path: `${basePath}app-config.js` },
      label: 'the viewer config: changes without a new name',
      spa: false,
    },
    {
      cls: 'document',
      match: { kind: 'exact', path: `${basePath}index.html` },
      label: 'the viewer page (also what client-side routes fall back to)',
      spa: false,
    },
    {
      cls: 'document',
      match: { kind: 'regex', pattern: `^${base}.*\\.html$` },
      label: 'other pages (silent-refresh.html)',
      spa: false,
    },
    {
      cls: 'worker',
      match: {
        kind: 'regex',
        pattern: `^${base}(?:sw\\.js|(?:.*/)?(?:${WORKER_BUNDLE}|${WORKER_SUFFIX}))$`,
      },
      label: 'web worker scripts: they take COEP from their own response (B06)',
      spa: false,
    },
    {
      cls: 'wasm',
      match: { kind: 'regex', pattern: `^${base}.*\\.wasm$` },
      label: 'WebAssembly codecs: application/wasm or streaming compilation fails',
      spa: false,
    },
    {
      cls: 'script',
      match: { kind: 'regex', pattern: `^${base}.*\\.m?js$` },
      label: 'scripts and lazy chunks',
      spa: false,
    },
    {
      cls: 'static',
      match: { kind: 'regex', pattern: `^${base}.*\\.[A-Za-z0-9]+$` },
      label: 'other files: css, fonts, images, json',
      spa: false,
    },
    {
      cls: 'static',
      match: { kind: 'prefix', path: basePath },
      label: 'client-side routes (/viewer, /tmtv): index.html',
      spa: true,
    },
  ]
}

/** A route as one anchored regex (exact and prefix routes escaped). */
export function routeRegex(route: ViewerRoute): string {
  switch (route.match.kind) {
    case 'exact':
      return `^${escapeRegex(route.match.path)}$`
    case 'prefix':
      return `^${escapeRegex(route.match.path)}`
    case 'regex':
      return route.match.pattern
  }
}

/** Whether a route matches a path (for the format targets' tests and the doctor). */
export function routeMatches(route: ViewerRoute, path: string): boolean {
  return new RegExp(routeRegex(route)).test(path)
}

/**
 * DICOMweb replies rendered for display, below the mount: `…/rendered` at study, series,
 * instance or frame level (a PDF or image shown in an `<object>`) and `…/thumbnail`. The same
 * rule as the gateway's (dicomweb/proxy/target.ts `resourceKind`), so both give them the
 * `rendered` class.
 */
export const RENDERED_SUFFIX = '/(?:rendered|thumbnail)/?$'

/** The class of a path below a DICOMweb mount: `preflight`, `rendered` or `dicomweb`. */
export function dicomwebClassOf(path: string, method = 'GET'): ResponseClass {
  if (method === 'OPTIONS') return 'preflight'
  return new RegExp(RENDERED_SUFFIX).test(path) ? 'rendered' : 'dicomweb'
}

/** The class of a path under the base path: what the routes give it, document for fallbacks. */
export function classOfPath(basePath: string, path: string, exists = true): ResponseClass {
  const route = viewerRoutes(basePath).find((r) => routeMatches(r, path))
  if (!route) return 'error'
  if (route.spa && (!exists || path === basePath)) return 'document'
  return route.cls
}

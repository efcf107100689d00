/**
 * The header plan for hosts that choose headers by path only and ADD every matching rule
 * (Netlify, Cloudflare Pages, Vercel, Firebase, IIS): no first match, no status condition. The
 * plan is cut the other way round: one layer per header (name and value) with the set of
 * viewer classes that carry it, so two matching rules never set the same name and each class
 * gets its headers from the union. A layer is written as a regex over the path where the host
 * has one, or as `*` splat patterns; where a splat cannot say "exactly these classes", an
 * isolation or framing header is widened to every path (safe: extra COOP/COEP/CORP/CSP/XFO on
 * an asset does nothing), and any other header (Cache-Control) is narrowed to what it can say.
 * Pure.
 */
import { IsogateError } from '../errors.js'
import { headersFor, type ResponseClass } from '../policy/plan.js'
import { whyOf, type RecipeContext } from './model.js'
import { escapeRegex } from './paths.js'

/** The classes a static host serves: the viewer's (DICOMweb is not proxied by these). */
export const VIEWER_CLASSES: readonly ResponseClass[] = [
  'document',
  'script',
  'worker',
  'wasm',
  'static',
  'app-config',
]

/**
 * Headers that do harm nowhere they are not needed: widened to every path when a host can't
 * say where.
 */
const WIDENABLE = new Set([
  'cross-origin-opener-policy',
  'cross-origin-opener-policy-report-only',
  'cross-origin-embedder-policy',
  'cross-origin-embedder-policy-report-only',
  'cross-origin-resource-policy',
  'content-security-policy',
  'x-frame-options',
  'document-isolation-policy',
  'document-isolation-policy-report-only',
  'reporting-endpoints',
])

export function widenable(name: string): boolean {
  return WIDENABLE.has(name.toLowerCase())
}

export interface Layer {
  readonly name: string
  readonly value: string
  readonly why: string
  readonly classes: ReadonlySet<ResponseClass>
}

/** One layer per header name and value, from `headersFor(plan, class, 200)` of each class. */
export function headerLayers(ctx: RecipeContext): Layer[] {
  const layers: Array<Layer & { classes: Set<ResponseClass> }> = []
  for (const cls of VIEWER_CLASSES) {
    for (const [name, value] of headersFor(ctx.plan, cls, 200)) {
      let layer = layers.find((l) => l.name === name && l.value === value)
      if (!layer) {
        layer = { name, value, why: whyOf(name), classes: new Set() }
        layers.push(layer)
      }
      layer.classes.add(cls)
    }
  }
  return layers
}

/**
 * Paths without an extension (client-side routes, the base path itself): the complement of
 * the routes' "has an extension" rule `.*\.[A-Za-z0-9]+$`, without lookahead (Firebase's RE2
 * has none): the last alphanumeric run is not preceded by a dot, or the path ends in another
 * character.
 */
export const EXTENSIONLESS = '(?:.*[^.A-Za-z0-9])?[A-Za-z0-9]*|.*[^A-Za-z0-9]'

function fail(message: string): never {
  throw new IsogateError('ISOGATE_E_RECIPE_OPTION', message)
}

const has = (set: ReadonlySet<ResponseClass>, ...classes: ResponseClass[]) =>
  classes.every((c) => set.has(c))

/**
 * A layer's paths as one anchored regex over the whole path, without lookahead. Scripts,
 * workers and app-config share `.m?js` and go together (they carry the same isolation set).
 */
export function layerRegex(basePath: string, classes: ReadonlySet<ResponseClass>): string {
  const base = escapeRegex(basePath)
  if (VIEWER_CLASSES.every((c) => classes.has(c))) return `^${base}.*$`
  const parts: string[] = []
  if (classes.has('static')) fail('a header on static files only has no path regex')
  if (classes.has('document')) parts.push('.*\\.html', EXTENSIONLESS)
  if (classes.has('script') || classes.has('worker')) {
    if (!has(classes, 'script', 'worker', 'app-config')) fail('scripts split from app-config')
    parts.push('.*\\.m?js')
  } else if (classes.has('app-config')) parts.push('app-config\\.js')
  if (classes.has('wasm')) parts.push('.*\\.wasm')
  return `^${base}(?:${parts.join('|')})$`
}

/** Splat patterns for a layer: exact where a splat can say it, else widened or narrowed. */
export interface SplatLayer extends Layer {
  readonly patterns: string[]
  /** Widened to every path (an isolation or framing header on a document). */
  readonly widened: boolean
  /** Narrowed: client-side routes do not get it (a non-isolation header on documents). */
  readonly narrowed: boolean
}

export function splatLayers(ctx: RecipeContext): SplatLayer[] {
  const b = ctx.basePath
  return headerLayers(ctx).map((layer) => {
    const all = VIEWER_CLASSES.every((c) => layer.classes.has(c))
    const doc = layer.classes.has('document')
    if (all || (doc && widenable(layer.name))) {
      return { ...layer, patterns: [`${b}*`], widened: !all, narrowed: false }
    }
    const patterns: string[] = []
    if (doc) patterns.push(b, `${b}*.html`)
    if (layer.classes.has('script') || layer.classes.has('worker')) {
      if (!has(layer.classes, 'script', 'worker', 'app-config')) fail('scripts split from config')
      patterns.push(`${b}*.js`, `${b}*.mjs`)
    } else if (layer.classes.has('app-config')) patterns.push(`${b}app-config.js`)
    if (layer.classes.has('wasm')) patterns.push(`${b}*.wasm`)
    if (layer.classes.has('static')) fail('a header on static files only has no splat pattern')
    return { ...layer, patterns, widened: false, narrowed: doc }
  })
}

/** Refuses an upstream: these hosts cannot put headers on a proxied DICOMweb reply. */
export function refuseUpstream(ctx: RecipeContext, target: string, why: string): void {
  if (ctx.upstream) {
    fail(
      `${target} cannot front DICOMweb (${why}); leave out --upstream and serve the data ` +
        'source with `isogate front`, or the nginx/Caddy/Apache recipe, on its own origin',
    )
  }
}

/** What every path-only host cannot do, for the notes (each host adds its own). */
export function pathOnlyNotes(ctx: RecipeContext, widened: boolean): string[] {
  const notes = [
    "Headers are chosen by path only: a 404 or 5xx carries its path's headers, not the " +
      "plan's error set (no status condition on this host).",
    "Hashed viewer files keep the host's default caching (revalidate): a path pattern cannot " +
      'tell a content hash from another name.',
  ]
  if (widened) {
    notes.push(
      'Client-side routes have no extension, which a splat pattern cannot say: the isolation ' +
        'and framing headers go on every path (harmless on assets), and client routes keep ' +
        "the host's Cache-Control instead of no-store.",
    )
  }
  return notes
}

/**
 * What every recipe renderer reads: the user's intent (the same as `serve`), validated once, and
 * the header plan turned into per-class header rules. Renderers never hold a header table of
 * their own; they only spell these rules in their target's syntax. Pure.
 */
import { IsogateError } from '../errors.js'
import {
  CORS_ALLOWED_REQUEST_HEADERS,
  corsForPreflight,
  corsForResponse,
  normalizeOrigin,
  type CorsPolicy,
} from '../policy/cors.js'
import {
  headersFor,
  ISOLATION_MODES,
  planHeaders,
  type HeaderList,
  type HeaderPlan,
  type Isolation,
  type ResponseClass,
} from '../policy/plan.js'

/** The intent, in `serve`'s words. Every field is optional; defaults suit a single-host site. */
export interface RecipeOptions {
  /** Where the viewer build sits on the target machine. */
  readonly root?: string | undefined
  /** Path the viewer is served under, starting and ending with `/`. */
  readonly basePath?: string | undefined
  /** Upstream DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web */
  readonly upstream?: string | undefined
  /** `proxy`: under the viewer's origin, no CORS. `front`: CORS for `allowOrigins`. */
  readonly mode?: 'proxy' | 'front' | undefined
  /** Path of the DICOMweb mount on this server; defaults to the upstream's own path. */
  readonly mountPath?: string | undefined
  /** Origins that may call a fronted source (exact origins, or `*`). */
  readonly allowOrigins?: readonly string[] | undefined
  readonly isolation?: string | undefined
  /** Origins that may frame the viewer. */
  readonly embedOrigins?: readonly string[] | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
  readonly serverName?: string | undefined
  readonly port?: number | string | undefined
  readonly host?: string | undefined
  /** nginx/Apache: the folder holding the include files on the target machine. */
  readonly includeDir?: string | undefined
  /** nginx-balance: the Isogate gateways to spread requests over, as `host:port`. */
  readonly gateways?: readonly string[] | undefined
}

export interface RecipeFile {
  readonly path: string
  readonly content: string
}

export interface RecipeOutput {
  readonly target: string
  readonly files: RecipeFile[]
  readonly notes: string[]
}

/** One header of one class: its value on a success and on an error (undefined: not sent). */
export interface HeaderRule {
  readonly name: string
  /** A literal, or `ASSET_CACHE` where the value depends on whether the name is hashed. */
  readonly ok: string | typeof ASSET_CACHE | undefined
  readonly error: string | undefined
  /** Why the header is there, for the comment beside it. */
  readonly why: string
  /** The value echoes the request's Origin when it is in the allowlist (front mode). */
  readonly reflectsOrigin?: boolean
}

/** Placeholder for Cache-Control on viewer files: immutable when hashed, revalidated if not. */
export const ASSET_CACHE = Symbol('asset-cache')

/** The validated intent plus everything derived from it. */
export interface RecipeContext {
  readonly plan: HeaderPlan
  readonly root: string
  readonly basePath: string
  readonly upstream: URL | undefined
  readonly mode: 'proxy' | 'front'
  /** DICOMweb mount on this server, no trailing slash (e.g. `/dicom-web`). */
  readonly mountPath: string
  readonly cors: CorsPolicy | undefined
  readonly serverName: string
  readonly port: number
  readonly host: string
  readonly tls: { readonly cert: string; readonly key: string } | undefined
  /** The upstream root without a trailing slash: what upstream absolute URLs start with. */
  readonly upstreamRoot: string | undefined
  readonly includeDir: string
}

/** The name of a file whose name carries a content hash (webpack `[contenthash]`). */
export const HASHED_NAME = '[./][0-9a-f]{16,64}\\.[a-z0-9]+$'

const WHY: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'own browsing context group: half of cross-origin isolation',
  'cross-origin-embedder-policy':
    'every subresource must opt in; workers need it on their own script',
  'cross-origin-resource-policy': 'who may load this under their COEP (B06: workers, wasm)',
  'cross-origin-opener-policy-report-only': 'report what COOP would break, enforce nothing',
  'cross-origin-embedder-policy-report-only': 'report what COEP would block, enforce nothing',
  'document-isolation-policy': 'Chromium: isolate this document even when framed',
  'content-security-policy': 'who may frame the viewer (frame-ancestors)',
  'x-frame-options': 'framing rule for browsers without frame-ancestors',
  'reporting-endpoints': 'where violation reports go',
  'cache-control': 'hashed names never change; the rest must revalidate; errors not kept',
  'access-control-allow-origin': 'the listed origin may read DICOMweb replies (echoed)',
  'access-control-allow-methods': 'methods a preflight may ask for',
  'access-control-allow-headers': 'Accept with quotes, Authorization, Range are not safelisted',
  'access-control-max-age': 'browsers may reuse the preflight answer this long',
  'access-control-expose-headers': 'headers the viewer may read from replies',
  'access-control-allow-credentials': 'cookies or Authorization may be sent cross-origin',
  vary: 'the answer depends on Origin: caches must not mix origins',
}

/** Why a header is there, in a few words. */
export function whyOf(name: string): string {
  return WHY[name.toLowerCase()] ?? 'from the Isogate header plan'
}

function fail(message: string): never {
  throw new IsogateError('ISOGATE_E_RECIPE_OPTION', message)
}

function checkOrigin(value: string, flag: string, allowStar: boolean): string {
  if (allowStar && value === '*') return value
  const origin = normalizeOrigin(value)
  if (origin === null) {
    fail(`${flag} ${value} is not an origin such as https://viewer.example.org (no path)`)
  }
  return origin
}

/** Validates the intent and derives the plan; throws ISOGATE_E_RECIPE_OPTION naming the flag. */
export function contextOf(options: RecipeOptions): RecipeContext {
  const isolation = (options.isolation ?? 'require-corp') as Isolation
  if (!ISOLATION_MODES.includes(isolation)) {
    fail(`--isolation ${options.isolation} is not one of ${ISOLATION_MODES.join(', ')}`)
  }
  const basePath = options.basePath ?? '/'
  if (!/^\/(?:[A-Za-z0-9._~-]+\/)*$/.test(basePath)) {
    fail(`--base-path ${basePath} must start and end with / (e.g. /viewer/)`)
  }
  const mode = options.mode ?? 'proxy'
  if (mode !== 'proxy' && mode !== 'front') fail(`--mode ${String(mode)} is not proxy or front`)

  let upstream: URL | undefined
  if (options.upstream !== undefined) {
    try {
      upstream = new URL(options.upstream)
    } catch {
      fail(`--upstream ${options.upstream} is not a URL`)
    }
    if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
      fail(`--upstream ${options.upstream} must be http:// or https://`)
    }
    if (upstream.username || upstream.password || upstream.search || upstream.hash) {
      fail(`--upstream ${options.upstream} must carry no credentials, query or #fragment`)
    }
  }
  const upstreamRoot = upstream ? `${upstream.origin}${upstream.pathname}`.replace(/\/+$/, '') : ''

  const mountPath = (options.mountPath ?? (upstream ? upstream.pathname : '/dicom-web')).replace(
    /\/+$/,
    '',
  )
  if (!/^(?:\/[A-Za-z0-9._~-]+)+$/.test(mountPath)) {
    fail(`--mount-path ${mountPath || '/'} must be a path below / such as /dicom-web`)
  }

  const allowOrigins = (options.allowOrigins ?? []).map((o) =>
    checkOrigin(o, '--allow-origin', true),
  )
  if (mode === 'front' && allowOrigins.length === 0) {
    fail('--mode front needs at least one --allow-origin (the viewer origins that call it)')
  }
  if (mode === 'proxy' && allowOrigins.length > 0) {
    fail('--allow-origin applies to --mode front; a proxied source is same-origin')
  }
  const embedders = (options.embedOrigins ?? []).map((o) => checkOrigin(o, '--embed-origin', false))

  const port = options.port === undefined ? (options.cert ? 443 : 8080) : Number(options.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`--port ${String(options.port)} must be a whole number from 1 to 65535`)
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    fail('--cert and --key go together')
  }
  const host = options.host ?? '127.0.0.1'
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) fail(`--host ${host} is not an address or name`)
  const serverName = options.serverName ?? 'localhost'
  if (!/^[A-Za-z0-9.*_-]+$/.test(serverName)) fail(`--server-name ${serverName} is not a name`)
  const root = options.root ?? '/usr/share/ohif'
  if (/["'\s;{}$]/.test(root)) fail(`--root ${root} may not hold quotes, spaces, ; { } or $`)
  for (const path of [options.cert, options.key, options.includeDir]) {
    if (path !== undefined && /["'\s;{}$]/.test(path)) {
      fail(`path ${path} may not hold quotes, spaces, ; { } or $`)
    }
  }

  const plan = planHeaders({
    isolation,
    embedders,
    documentIsolationPolicy: false,
    dicomwebCrossOrigin: mode === 'front',
  })
  const cors: CorsPolicy | undefined =
    mode === 'front'
      ? { allowOrigins, credentials: false, writeMethods: [], maxAgeSeconds: 600 }
      : undefined

  return {
    plan,
    root: root.replace(/\/+$/, '') || '/',
    basePath,
    upstream,
    mode,
    mountPath,
    cors,
    serverName,
    port,
    host,
    tls: options.cert && options.key ? { cert: options.cert, key: options.key } : undefined,
    upstreamRoot: upstream ? upstreamRoot : undefined,
    includeDir: (options.includeDir ?? '/etc/nginx/isogate').replace(/\/+$/, ''),
  }
}

/** The headers of one reply: the plan's own rule, shared with the gateway. */
export function planFor(plan: HeaderPlan, cls: ResponseClass, status: number): HeaderList {
  return headersFor(plan, cls, status)
}

/** A sample allowed origin, used to ask the CORS policy which headers it answers with. */
function sampleOrigin(cors: CorsPolicy): string {
  return cors.allowOrigins.find((o) => o !== '*') ?? 'https://viewer.example'
}

/** The CORS headers of a class in front mode (ordinary replies or preflights). */
export function corsHeaders(ctx: RecipeContext, cls: ResponseClass): HeaderList {
  if (!ctx.cors || (cls !== 'dicomweb' && cls !== 'preflight' && cls !== 'rendered')) return []
  const origin = sampleOrigin(ctx.cors)
  const verdict =
    cls === 'preflight'
      ? corsForPreflight(ctx.cors, origin, 'GET', CORS_ALLOWED_REQUEST_HEADERS.join(','))
      : corsForResponse(ctx.cors, origin)
  return verdict.headers
}

/** True for a CORS value that echoes the sample origin and so must echo the request's. */
function reflects(ctx: RecipeContext, name: string, value: string): boolean {
  return (
    ctx.cors !== undefined &&
    name.toLowerCase() === 'access-control-allow-origin' &&
    value !== '*' &&
    value === sampleOrigin(ctx.cors)
  )
}

/**
 * Every header a class's replies carry, with the success and error values side by side, so a
 * renderer can write one line where they agree and a status condition where they differ.
 */
export function classRules(ctx: RecipeContext, cls: ResponseClass): HeaderRule[] {
  const ok = new Map<string, string | typeof ASSET_CACHE>()
  const err = new Map<string, string>()
  const names: string[] = []
  const note = (name: string) => {
    if (!names.some((n) => n.toLowerCase() === name.toLowerCase())) names.push(name)
  }
  for (const [name, value] of planFor(ctx.plan, cls, 200)) {
    note(name)
    ok.set(name, value)
  }
  for (const [name, value] of planFor(ctx.plan, cls, 404)) {
    note(name)
    err.set(name, value)
  }
  if (isAsset(cls) && !ok.has('Cache-Control')) {
    note('Cache-Control')
    ok.set('Cache-Control', ASSET_CACHE)
  }
  // CORS headers go on errors too (B22): a 404 without them reads as a CORS failure.
  for (const [name, value] of corsHeaders(ctx, cls)) {
    note(name)
    ok.set(name, value)
    err.set(name, value)
  }
  return names.map((name) => ({
    name,
    ok: ok.get(name),
    error: err.get(name),
    why: whyOf(name),
    reflectsOrigin: reflects(ctx, name, (ok.get(name) as string | undefined) ?? ''),
  }))
}

/** Viewer files whose caching depends on a content hash in the name. */
export function isAsset(cls: ResponseClass): boolean {
  return cls === 'script' || cls === 'worker' || cls === 'wasm' || cls === 'static'
}

/** The Cache-Control of a viewer asset, by whether its name is hashed. */
export function assetCache(plan: HeaderPlan, path: string): string {
  return new RegExp(HASHED_NAME).test(path) ? plan.hashedAssetCache : plan.assetCache
}

/** Resolves a rule to the value a reply with this status and path carries (for checks). */
export function ruleValue(
  plan: HeaderPlan,
  rule: HeaderRule,
  status: number,
  path: string,
): string | undefined {
  if (status >= 400) return rule.error
  return rule.ok === ASSET_CACHE ? assetCache(plan, path) : rule.ok
}

/** Every header name any class may carry, for stripping upstream copies. */
export function allRuleNames(ctx: RecipeContext): string[] {
  const names = new Set<string>()
  for (const cls of Object.keys(ctx.plan.classes) as ResponseClass[]) {
    for (const rule of classRules(ctx, cls)) names.add(rule.name)
  }
  return [...names]
}

/** The origin browsers use for this server, from its name, port and TLS. */
export function publicOrigin(ctx: RecipeContext): string {
  const scheme = ctx.tls ? 'https' : 'http'
  const defaultPort = ctx.tls ? 443 : 80
  return `${scheme}://${ctx.serverName}${ctx.port === defaultPort ? '' : `:${ctx.port}`}`
}

/** Planned header names an upstream might also send: removed from its replies first. */
export function upstreamCopies(ctx: RecipeContext): string[] {
  return allRuleNames(ctx).filter((n) => !['cache-control', 'vary'].includes(n.toLowerCase()))
}

/**
 * The Node side: one ESM middleware file (`isogate-headers.mjs`) that Vite, webpack-dev-server
 * and Express all mount first. It classifies a path with the same routes as every other
 * renderer, rewrites client-side routes to index.html, and sets the class's headers at
 * `writeHead` time by status, so it wins over whatever a framework set before (helmet's CORP,
 * Vite's `server.headers`, a static handler's Cache-Control, B19/B24). Pure: it only renders text.
 */
import { PLANNED_HEADER_NAMES, RESPONSE_CLASSES, type ResponseClass } from '../policy/plan.js'
import { ASSET_CACHE, classRules, HASHED_NAME, type RecipeContext } from './model.js'
import { RENDERED_SUFFIX, routeRegex, viewerRoutes } from './paths.js'

/** The viewer classes a Node dev server or Express serves (DICOMweb stays elsewhere). */
export const NODE_CLASSES: readonly ResponseClass[] = RESPONSE_CLASSES.filter(
  (c) => !['dicomweb', 'rendered', 'preflight'].includes(c),
)

const js = (value: string) => JSON.stringify(value)

/** The classes a rendered middleware knows: the viewer's, and DICOMweb's when it is proxied. */
function classesOf(ctx: RecipeContext): readonly ResponseClass[] {
  return ctx.upstream ? [...NODE_CLASSES, 'dicomweb', 'rendered', 'preflight'] : NODE_CLASSES
}

function headerList(ctx: RecipeContext, cls: ResponseClass, status: 'ok' | 'error'): string[] {
  const lines: string[] = []
  for (const rule of classRules(ctx, cls)) {
    const value = status === 'ok' ? rule.ok : rule.error
    if (value === undefined) continue
    const literal = rule.reflectsOrigin
      ? 'ORIGIN'
      : value === ASSET_CACHE
        ? 'ASSET_CACHE'
        : js(value)
    lines.push(`      // ${rule.why}`, `      [${js(rule.name)}, ${literal}],`)
  }
  return lines
}

/** The shared middleware module, `isogate-headers.mjs`. */
export function renderNodeMiddleware(ctx: RecipeContext, target: string): string {
  const classes = classesOf(ctx).flatMap((cls) => [
    `  ${js(cls)}: {`,
    '    ok: [',
    ...headerList(ctx, cls, 'ok'),
    '    ],',
    '    // 4xx/5xx: an error page may be shown as a document, so it keeps isolation.',
    '    error: [',
    ...headerList(ctx, cls, 'error'),
    '    ],',
    '  },',
  ])
  const routes = viewerRoutes(ctx.basePath).flatMap((route) => [
    `  // ${route.label}`,
    `  [new RegExp(${js(routeRegex(route))}), ${js(route.cls)}, ${route.spa}],`,
  ])
  // Every name the plan may ever set, not only this intent's: a framework's COOP must go even
  // when isolation is report-only or off.
  const planned = new Set<string>([...PLANNED_HEADER_NAMES, 'content-security-policy'])
  for (const cls of classesOf(ctx)) {
    for (const rule of classRules(ctx, cls)) planned.add(rule.name.toLowerCase())
  }
  return `// Rendered by \`isogate recipe ${target}\` from the Isogate header plan
// (isolation: ${ctx.plan.intent.isolation}). Mount it before any other middleware: it picks the
// headers of each reply by its path's class and its status, when the reply is written.
const BASE = ${js(ctx.basePath)}
// Names with a content hash never change: a year, immutable. Others must revalidate.
const HASHED = new RegExp(${js(HASHED_NAME)})
const ASSET_CACHE = Symbol('asset-cache')
const HASHED_CACHE = ${js(ctx.plan.hashedAssetCache)}
const PLAIN_CACHE = ${js(ctx.plan.assetCache)}
// DICOMweb proxied by the dev server under this mount (null: none): never the viewer's routes.
const MOUNT = ${ctx.upstream ? js(`${ctx.mountPath}/`) : 'null'}
// Rendered PDFs/images (an <object> under COEP) get a COEP of their own.
const RENDERED = new RegExp(${js(RENDERED_SUFFIX)})
// A reflected CORS origin: echoed only when listed (never blind reflection, never "null").
const ORIGIN = Symbol('origin')
const ALLOWED_ORIGINS = ${JSON.stringify(ctx.cors?.allowOrigins ?? [])}

/** Headers of each response class: on success, and on 4xx/5xx. */
export const CLASSES = {
${classes.join('\n')}
}

/** First match wins: [path pattern, class, client-side route (served index.html)]. */
export const ROUTES = [
${routes.join('\n')}
]

/** Every planned name: a framework's copy is removed when the class plans none. */
const PLANNED = ${JSON.stringify([...planned], null, 2)}

/** The class of a path, and whether it is a client-side route answered with index.html. */
export function classOf(path, method = 'GET') {
  if (MOUNT !== null && path.startsWith(MOUNT)) {
    if (method === 'OPTIONS') return { cls: 'preflight', spa: false }
    return { cls: RENDERED.test(path) ? 'rendered' : 'dicomweb', spa: false }
  }
  const route = ROUTES.find(([re]) => re.test(path))
  if (!route) return { cls: 'error', spa: false }
  return route[2] ? { cls: 'document', spa: true } : { cls: route[1], spa: false }
}

function apply(res, cls, status, path, origin) {
  const set = status >= 400 ? CLASSES[cls].error : CLASSES[cls].ok
  const names = new Set(set.map(([name]) => name.toLowerCase()))
  for (const name of PLANNED) if (!names.has(name)) res.removeHeader(name)
  for (const [name, value] of set) {
    const cache = HASHED.test(path) ? HASHED_CACHE : PLAIN_CACHE
    if (value === ORIGIN) {
      if (ALLOWED_ORIGINS.includes(origin)) res.setHeader(name, origin)
      else res.removeHeader(name)
    } else res.setHeader(name, value === ASSET_CACHE ? cache : value)
  }
}

/** Connect/Express middleware: (req, res, next). */
export function isogateHeaders(req, res, next) {
  let path
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
  } catch {
    path = '/'
  }
  const { cls, spa } = classOf(path, req.method)
  const origin = req.headers.origin
  // Client-side routes (/viewer, /tmtv) are the viewer page; missing files stay 404.
  if (spa) req.url = \`\${BASE}index.html\`
  const writeHead = res.writeHead
  res.writeHead = function (status, ...rest) {
    // Headers handed to writeHead would win over ours: fold them in first.
    const given = rest.find((a) => a !== null && typeof a === 'object')
    if (Array.isArray(given)) {
      for (let i = 0; i + 1 < given.length; i += 2) this.setHeader(given[i], given[i + 1])
    } else if (given) {
      for (const [name, value] of Object.entries(given)) this.setHeader(name, value)
    }
    apply(this, cls, status, path, origin)
    const reason = rest.find((a) => typeof a === 'string')
    if (reason === undefined) return writeHead.call(this, status)
    return writeHead.call(this, status, reason)
  }
  // Preflights to the DICOMweb mount are answered here; the upstream never sees them.
  if (cls === 'preflight') {
    res.statusCode = 204
    return res.end()
  }
  next()
}

/** The viewer page's success headers, for a server's own static header option. */
export const DOCUMENT_HEADERS = Object.fromEntries(
  CLASSES.document.ok.filter(([name]) => name.toLowerCase() !== 'cache-control'),
)
`
}

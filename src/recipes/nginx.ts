/**
 * nginx: a site file (maps + one `server { }` to include in `http { }`) and one include file of
 * headers per response class. Every location that sets headers includes its class's full set,
 * because a block inherits `add_header` only when it declares none itself (B23); every line has
 * `always`, so error replies keep them (B22, nginx >= 1.7.5). Pure.
 */
import type { ResponseClass } from '../policy/plan.js'
import {
  ASSET_CACHE,
  classRules,
  HASHED_NAME,
  type HeaderRule,
  type RecipeContext,
  type RecipeFile,
  type RecipeOutput,
  upstreamCopies,
} from './model.js'
import { escapeRegex, RENDERED_SUFFIX, viewerRoutes, type ViewerRoute } from './paths.js'

export interface NginxShape {
  /** Serve the viewer build from `root` (false: a data-source-only server). */
  readonly viewer: boolean
  /** Extra locations, already rendered, placed before the viewer's. */
  readonly extraLocations?: string[]
  readonly target: string
  /** Proxy the viewer from this container URL instead of serving files from `root`. */
  readonly container?: string
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** Collects the `map` blocks the header lines refer to, one per distinct value pair. */
class Maps {
  private readonly blocks = new Map<string, { name: string; body: string }>()

  variable(rule: HeaderRule): string {
    const ok = rule.ok === ASSET_CACHE ? '$isogate_asset_cache' : quote(rule.ok ?? '')
    const error = quote(rule.error ?? '')
    const key = `${rule.name}|${ok}|${error}`
    const existing = this.blocks.get(key)
    if (existing) return existing.name
    const slug = rule.name.toLowerCase().replace(/[^a-z0-9]+/g, '_')
    const count = [...this.blocks.values()].filter((b) => b.name.startsWith(`$isogate_${slug}_`))
    const name = `$isogate_${slug}_${count.length + 1}`
    const body =
      `# ${rule.name}: one value on success, the error set's on 4xx/5xx ("" sends none).\n` +
      `map $status ${name} {\n  "~^[45]" ${error};\n  default ${ok};\n}`
    this.blocks.set(key, { name, body })
    return name
  }

  render(): string {
    return [...this.blocks.values()].map((b) => b.body).join('\n\n')
  }
}

function headerLines(ctx: RecipeContext, cls: ResponseClass, maps: Maps): string {
  const lines = [`# Headers of "${cls}" replies, from the Isogate header plan. Included in every`]
  lines.push('# block that serves them: nginx drops inherited add_header in a block with its own.')
  for (const rule of classRules(ctx, cls)) {
    let value: string
    if (rule.reflectsOrigin) value = '$isogate_cors_origin'
    else if (rule.ok === rule.error && typeof rule.ok === 'string') value = quote(rule.ok)
    else value = maps.variable(rule)
    lines.push(`# ${rule.why}`)
    lines.push(`add_header ${rule.name} ${value} always;`)
  }
  return `${lines.join('\n')}\n`
}

function locationHead(route: ViewerRoute): string {
  switch (route.match.kind) {
    case 'exact':
      return `location = ${route.match.path}`
    case 'prefix':
      return `location ${route.match.path}`
    case 'regex':
      return `location ~ ${quote(route.match.pattern)}`
  }
}

function viewerLocations(ctx: RecipeContext, container: string | undefined): string[] {
  return viewerRoutes(ctx.basePath).map((route) => {
    const body = [`  # ${route.label}`, `  include ${ctx.includeDir}/${route.cls}.conf;`]
    if (route.cls === 'wasm') {
      body.push('  types { application/wasm wasm; }', '  default_type application/wasm;')
    }
    if (container) {
      body.push(
        `  proxy_pass ${container};`,
        ...upstreamCopies(ctx).map((n) => `  proxy_hide_header ${n};`),
      )
    } else {
      body.push(
        route.spa ? `  try_files $uri ${ctx.basePath}index.html;` : '  try_files $uri =404;',
      )
    }
    return `${locationHead(route)} {\n${body.join('\n')}\n}`
  })
}

function dicomwebLocation(ctx: RecipeContext): string {
  const upstream = ctx.upstream
  if (!upstream || !ctx.upstreamRoot) return ''
  const mount = ctx.mountPath
  const upstreamPath = upstream.pathname.replace(/\/+$/, '')
  const hide = upstreamCopies(ctx).map((n) => `  proxy_hide_header ${n};`)
  const lines = [
    `# DICOMweb from ${ctx.upstreamRoot}, ${
      ctx.mode === 'front'
        ? 'fronted with CORS for the listed origins'
        : "mounted on the viewer's own origin: no CORS, no preflight"
    }.`,
    `location ^~ ${mount}/ {`,
    `  include ${ctx.includeDir}/dicomweb.conf;`,
    '  # Preflights are answered here; the upstream never sees them (nor needs their auth).',
    '  if ($request_method = OPTIONS) {',
    `    include ${ctx.includeDir}/preflight.conf;`,
    '    return 204;',
    '  }',
    `  proxy_pass ${ctx.upstreamRoot}/;`,
    '  proxy_http_version 1.1;',
    '  proxy_set_header Connection "";',
    '  # The upstream keeps its own Host (virtual hosts); the public one goes in X-Forwarded-*',
    '  # (Orthanc >= 1.14 builds its URLs from them when both are present).',
    '  proxy_set_header Host $proxy_host;',
    '  proxy_set_header X-Forwarded-Host $http_host;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    `  proxy_set_header X-Forwarded-Prefix ${mount};`,
    '  # Planned headers come from this file only: an upstream copy would make two (R-SF-1).',
    ...hide,
    '  # Upstream absolute URLs (BulkDataURI, RetrieveURL) must not leak its own origin (B15):',
    '  # rewrite them in JSON bodies (uncompressed, so ask the upstream for identity).',
    '  proxy_set_header Accept-Encoding "";',
    '  sub_filter_types application/dicom+json application/json;',
    '  sub_filter_once off;',
    `  sub_filter ${quote(`${ctx.upstreamRoot}/`)} ${quote(`$scheme://$http_host${mount}/`)};`,
  ]
  if (upstreamPath !== mount) {
    lines.push(
      `  sub_filter ${quote(`$scheme://$http_host${upstreamPath}/`)} ${quote(
        `$scheme://$http_host${mount}/`,
      )};`,
    )
  }
  lines.push(
    `  proxy_redirect ${ctx.upstreamRoot}/ ${mount}/;`,
    '  # Frames stream through; buffering whole studies helps nobody.',
    '  proxy_buffering off;',
    '',
    ...renderedLocation(ctx, upstreamPath),
    '}',
  )
  return lines.join('\n')
}

/**
 * `…/rendered` and `…/thumbnail` inside the DICOMweb location: their own class (a PDF in an
 * `<object>` needs a COEP of its own), so their own add_header set. A regex location cannot
 * `proxy_pass` with a URI part, so the mount is mapped onto the upstream path by a rewrite and
 * the URI passed as it is; every proxy_set_header/proxy_hide_header is inherited from above.
 */
function renderedLocation(ctx: RecipeContext, upstreamPath: string): string[] {
  return [
    '  # Rendered PDFs/images (an <object> under COEP): CORP and a bare COEP of their own.',
    `  location ~ ${quote(RENDERED_SUFFIX)} {`,
    `    include ${ctx.includeDir}/rendered.conf;`,
    '    if ($request_method = OPTIONS) {',
    `      include ${ctx.includeDir}/preflight.conf;`,
    '      return 204;',
    '    }',
    `    rewrite ${quote(`^${escapeRegex(ctx.mountPath)}/(.*)$`)} ${upstreamPath}/$1 break;`,
    `    proxy_pass ${ctx.upstream!.origin};`,
    '  }',
  ]
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line ? `  ${line}` : line))
    .join('\n')
}

/** The site file and include files for a server shape. */
export function renderNginxShape(ctx: RecipeContext, shape: NginxShape): RecipeOutput {
  const maps = new Maps()
  const serveViewer = shape.viewer || shape.container !== undefined
  const classes: ResponseClass[] = serveViewer
    ? ['document', 'script', 'worker', 'wasm', 'static', 'app-config', 'error']
    : ['error']
  if (ctx.upstream) classes.push('dicomweb', 'rendered', 'preflight')
  const includes: RecipeFile[] = classes.map((cls) => ({
    path: `isogate/${cls}.conf`,
    content: headerLines(ctx, cls, maps),
  }))

  const head = [
    `# Rendered by \`isogate recipe ${shape.target}\` from the Isogate header plan`,
    `# (isolation: ${ctx.plan.intent.isolation}). Include in http { }, as a sites-enabled file`,
    `# is; the include files go to ${ctx.includeDir}/. Needs nginx >= 1.7.5 (\`always\`).`,
    '',
    '# Viewer files with a content hash in their name never change: cache them for a year.',
    `map $uri $isogate_asset_cache {\n  "~${HASHED_NAME}" ${quote(ctx.plan.hashedAssetCache)};`,
    `  default ${quote(ctx.plan.assetCache)};\n}`,
  ]
  const mapText = () => maps.render()
  const cors = ctx.cors
    ? [
        '# CORS: echo Origin only when it is listed (never blind reflection, never "null").',
        'map $http_origin $isogate_cors_origin {',
        '  default "";',
        ...ctx.cors.allowOrigins.map((o) =>
          o === '*' ? '  "~." "*";' : `  ${quote(o)} ${quote(o)};`,
        ),
        '}',
      ]
    : []

  const listen = ctx.tls
    ? [`listen ${ctx.host}:${ctx.port} ssl http2;`]
    : [`listen ${ctx.host}:${ctx.port};`]
  const server = [
    ...listen,
    `server_name ${ctx.serverName};`,
    ...(ctx.tls
      ? [
          '# Isolation needs a secure context: https, or loopback (B01).',
          `ssl_certificate ${ctx.tls.cert};`,
          `ssl_certificate_key ${ctx.tls.key};`,
          'ssl_protocols TLSv1.2 TLSv1.3;',
        ]
      : ['# Plain http is a secure context on loopback only; put TLS in front elsewhere (B01).']),
    `root ${ctx.root};`,
    'index index.html;',
    '# Requests that end before any location (malformed ones) still keep the error set.',
    `include ${ctx.includeDir}/error.conf;`,
    '',
    ...(shape.extraLocations ?? []).flatMap((l) => [l, '']),
    ...(ctx.upstream ? [dicomwebLocation(ctx), ''] : []),
    ...(serveViewer
      ? viewerLocations(ctx, shape.container).flatMap((l) => [l, ''])
      : ['location / {', `  include ${ctx.includeDir}/error.conf;`, '  return 404;', '}']),
  ]
  const site = [
    ...head,
    '',
    ...cors,
    ...(cors.length ? [''] : []),
    mapText(),
    '',
    'server {',
    indent(server.join('\n').trimEnd()),
    '}',
    '',
  ].join('\n')

  const notes = [
    `Copy isogate/*.conf to ${ctx.includeDir}/ and include isogate.conf in http { }.`,
    'Check with `nginx -t`; reload with `nginx -s reload`.',
  ]
  if (shape.viewer && ctx.upstream) {
    notes.push(
      `Point the viewer's data source at this origin: qidoRoot/wadoRoot ` +
        `"<origin>${ctx.mountPath}" in app-config.js.`,
    )
  }
  if (shape.viewer && ctx.basePath !== '/') {
    notes.push(
      "OHIF's npm build loads its files from /; serving it under a base path needs a build " +
        'with PUBLIC_URL set to that path.',
    )
  }
  return {
    target: shape.target,
    files: [{ path: 'isogate.conf', content: site }, ...includes],
    notes,
  }
}

/** `isogate recipe nginx`. */
export function renderNginx(ctx: RecipeContext): RecipeOutput {
  return renderNginxShape(ctx, { viewer: true, target: 'nginx' })
}

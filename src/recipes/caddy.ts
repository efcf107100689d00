/**
 * Caddy: one Caddyfile site block. Each response class is a named request matcher that is
 * disjoint from the others (so no reply gets two classes' headers); its success headers are set
 * before the handler writes. Errors get the error set in two places, because Caddy 2.6 has no
 * status condition on `header` (its `match` and `>` arrived later): Caddy's own errors (a missing
 * file, an unreachable upstream) in `handle_errors`, each class's handle ending in `respond` so
 * that only one runs; an upstream 4xx/5xx in `reverse_proxy`'s `handle_response`. The SPA
 * fallback is a rewrite; DICOMweb is `reverse_proxy`. Needs Caddy >= 2.5 (`copy_response`).
 * Pure.
 */
import type { ResponseClass } from '../policy/plan.js'
import {
  ASSET_CACHE,
  classRules,
  HASHED_NAME,
  upstreamCopies,
  type RecipeContext,
  type RecipeOutput,
} from './model.js'
import { escapeRegex, RENDERED_SUFFIX, viewerRoutes } from './paths.js'

/** Caddyfile quoting: only `"` is escaped; backslashes reach the regex engine unchanged. */
function quote(value: string): string {
  return `"${value.replace(/"/g, '\\"')}"`
}

function headerBlock(lines: string[], matcher = ''): string[] {
  return lines.length ? [`header ${matcher ? `${matcher} ` : ''}{`, ...lines, '}'] : []
}

/**
 * A class's success headers inside its `handle`, set at once (before the handler writes), and
 * the hashed/unhashed Cache-Control. Errors are handled apart (see the module comment).
 */
function headerBlocks(ctx: RecipeContext, cls: ResponseClass): string[] {
  const ok: string[] = []
  const hashed: string[] = []
  const plain: string[] = []
  for (const rule of classRules(ctx, cls)) {
    if (rule.reflectsOrigin) continue
    const comment = `\t# ${rule.why}`
    if (rule.ok === ASSET_CACHE) {
      hashed.push(comment, `\t${rule.name} ${quote(ctx.plan.hashedAssetCache)}`)
      plain.push(comment, `\t${rule.name} ${quote(ctx.plan.assetCache)}`)
    } else if (rule.ok !== undefined) {
      ok.push(comment, `\t${rule.name} ${quote(rule.ok)}`)
    }
  }
  return [...headerBlock(ok), ...headerBlock(hashed, '@hashed'), ...headerBlock(plain, '@unhashed')]
}

/** The error set of a class, replacing its success set: values, and removals ("-Name"). */
function errorBlock(ctx: RecipeContext, cls: ResponseClass): string[] {
  const lines = classRules(ctx, cls)
    .filter((rule) => !rule.reflectsOrigin)
    .map((rule) =>
      rule.error === undefined ? `\t-${rule.name}` : `\t${rule.name} ${quote(rule.error)}`,
    )
  return headerBlock(lines)
}

const ERROR_BODY = 'respond "{err.status_code} {err.status_text}"'

function indentBy(lines: string[], tabs: number): string[] {
  return lines.map((l) => `${'\t'.repeat(tabs)}${l}`)
}

/** `isogate recipe caddy`. */
export function renderCaddy(ctx: RecipeContext): RecipeOutput {
  const mount = ctx.mountPath
  const base = ctx.basePath
  const matchers: string[] = []
  const handles: string[] = []
  const errorHandles: string[] = []
  const corsLine = ctx.cors
    ? [
        '# the listed origin may read DICOMweb replies (echoed)',
        `header @cors_allowed Access-Control-Allow-Origin ${
          ctx.cors.allowOrigins.includes('*') ? '"*"' : '{http.request.header.Origin}'
        }`,
      ]
    : []

  // handle blocks inside a route are exclusive and tried in the order written: first match
  // wins, as with first-match locations, so each reply gets exactly one class's headers.
  const addClass = (
    name: string,
    cls: ResponseClass,
    criteria: string[],
    label: string,
    body: string[],
  ) => {
    matchers.push(`\t# ${label}`, `\t@${name} {`, ...criteria.map((c) => `\t\t${c}`), '\t}')
    const cors = cls === 'dicomweb' || cls === 'rendered' || cls === 'preflight' ? corsLine : []
    handles.push(
      `\t\thandle @${name} {`,
      ...indentBy([...headerBlocks(ctx, cls), ...cors, ...body], 3),
      '\t\t}',
    )
    // In a `route`, Caddy 2.6 runs every matching `handle`, not the first: each one ends in
    // `respond`, so the first match answers and a later, wider class cannot overwrite it.
    errorHandles.push(
      `\t\thandle @${name} {`,
      ...indentBy([...errorBlock(ctx, cls), ...cors, ERROR_BODY], 3),
      '\t\t}',
    )
  }

  if (ctx.upstream && ctx.upstreamRoot) {
    const upstreamPath = ctx.upstream.pathname.replace(/\/+$/, '')
    addClass(
      'preflight',
      'preflight',
      ['method OPTIONS', `path ${mount}/*`],
      'preflights: answered here, the upstream never sees them',
      ['respond 204'],
    )
    const proxy = (cls: ResponseClass) => [
      ...(upstreamPath !== mount ? [`uri replace ${mount}/ ${upstreamPath}/ 1`] : []),
      `reverse_proxy ${ctx.upstream!.origin} {`,
      '\t# The upstream builds its absolute URLs from the public host it is given (B15).',
      '\theader_up Host {hostport}',
      '\theader_up X-Forwarded-Host {hostport}',
      `\theader_up X-Forwarded-Prefix ${mount}`,
      '\t# Planned headers come from this file only: a copy would make two (R-SF-1).',
      ...upstreamCopies(ctx).map((n) => `\theader_down -${n}`),
      '\t# An upstream 4xx/5xx gets the error set (B22); the body and status pass through.',
      '\t@upstream_error status 4xx 5xx',
      '\thandle_response @upstream_error {',
      ...indentBy(errorBlock(ctx, cls), 2),
      '\t\t# handle_response copies no upstream header unless asked: all but planned ones,',
      '\t\t# and Content-Length, which copy_response writes itself (a copy would make two).',
      '\t\tcopy_response_headers {',
      '\t\t\texclude Content-Length',
      ...upstreamCopies(ctx).map((n) => `\t\t\texclude ${n}`),
      '\t\t}',
      '\t\tcopy_response',
      '\t}',
      '}',
    ]
    addClass(
      'rendered',
      'rendered',
      [`path_regexp ${quote(`^${escapeRegex(mount)}/.*${RENDERED_SUFFIX}`)}`],
      'rendered PDFs/images (an <object> under COEP): a bare COEP of their own',
      proxy('rendered'),
    )
    addClass('dicomweb', 'dicomweb', [`path ${mount}/*`], `DICOMweb from ${ctx.upstreamRoot}`, [
      ...proxy('dicomweb'),
    ])
  }
  viewerRoutes(base).forEach((route, i) => {
    const criterion =
      route.match.kind === 'exact'
        ? `path ${route.match.path}`
        : route.match.kind === 'prefix'
          ? `path ${route.match.path}*`
          : `path_regexp ${quote(route.match.pattern)}`
    addClass(`${route.cls.replace('-', '_')}_${i}`, route.cls, [criterion], route.label, [
      'file_server',
    ])
  })

  const cors = ctx.cors
    ? [
        '\t# CORS: echo Origin only when it is listed (never blind reflection, never "null").',
        '\t@cors_allowed {',
        ...(ctx.cors.allowOrigins.includes('*')
          ? []
          : [`\t\theader Origin ${ctx.cors.allowOrigins.join(' ')}`]),
        '\t}',
      ]
    : []

  const site = `${ctx.tls ? 'https' : 'http'}://${ctx.serverName}:${ctx.port}`
  const lines = [
    '# Rendered by `isogate recipe caddy` from the Isogate header plan',
    `# (isolation: ${ctx.plan.intent.isolation}). Needs Caddy >= 2.5 (copy_response).`,
    `${site} {`,
    `\tbind ${ctx.host}`,
    ...(ctx.tls ? [`\ttls ${ctx.tls.cert} ${ctx.tls.key}`] : []),
    `\troot * ${ctx.root}`,
    '',
    '\t# Client-side routes: no file there, no extension, not DICOMweb.',
    '\t@spa {',
    '\t\tnot file',
    `\t\tnot path ${ctx.upstream ? `${mount}/*` : '/.isogate-none'}`,
    `\t\tnot path_regexp ${quote(`^${escapeRegex(base)}.*\\.[A-Za-z0-9]+$`)}`,
    '\t}',
    `\t@hashed path_regexp ${quote(HASHED_NAME)}`,
    `\t@unhashed not path_regexp ${quote(HASHED_NAME)}`,
    ...matchers,
    ...cors,
    '',
    '\troute {',
    '\t\t# Client routes get index.html before a class is chosen; missing files stay 404.',
    `\t\trewrite @spa ${base}index.html`,
    ...handles,
    '\t}',
    '',
    '\t# Errors Caddy raises itself (a missing file) get the error set of their class.',
    '\thandle_errors {',
    '\t\troute {',
    ...indentBy(errorHandles, 1),
    `\t\t\t${ERROR_BODY}`,
    '\t\t}',
    '\t}',
    '}',
    '',
  ]
  return {
    target: 'caddy',
    files: [{ path: 'Caddyfile', content: lines.join('\n') }],
    notes: [
      'Check with `caddy validate --config Caddyfile`; run with `caddy run --config Caddyfile`.',
      ...(ctx.upstream
        ? [
            `Point the viewer's data source at "<origin>${mount}" in app-config.js.`,
            'Caddy has no body rewriting built in: the upstream must build its URLs from the ' +
              'forwarded host (Orthanc: mount DICOMweb at its own path; over https also ' +
              'X-Forwarded-Proto with Orthanc >= 1.14, or DicomWeb.Host/Ssl in orthanc.json).',
          ]
        : []),
    ],
  }
}

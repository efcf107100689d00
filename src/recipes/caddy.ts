/**
 * Caddy: one Caddyfile site block. Each response class is a named request matcher that is
 * disjoint from the others (so no reply gets two classes' headers); its headers are set on
 * success and replaced by the error set through a deferred `header` with `match status 4xx 5xx`
 * (Caddy >= 2.6). The SPA fallback is `try_files`; DICOMweb is `reverse_proxy`. Pure.
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
import { escapeRegex, viewerRoutes } from './paths.js'

/** Caddyfile quoting: only `"` is escaped; backslashes reach the regex engine unchanged. */
function quote(value: string): string {
  return `"${value.replace(/"/g, '\\"')}"`
}

function headerBlock(lines: string[], matcher = ''): string[] {
  return lines.length ? [`header ${matcher ? `${matcher} ` : ''}{`, ...lines, '}'] : []
}

/**
 * A class's headers inside its `handle`: success values set at once (before the handler
 * writes), hashed/unhashed Cache-Control, then the error set, deferred so that it replaces them
 * on a 4xx/5xx the handler writes (an upstream error).
 */
function headerBlocks(ctx: RecipeContext, cls: ResponseClass): string[] {
  const ok: string[] = []
  const hashed: string[] = []
  const plain: string[] = []
  const err: string[] = []
  for (const rule of classRules(ctx, cls)) {
    const comment = `\t# ${rule.why}`
    const okValue = rule.reflectsOrigin ? '{http.request.header.Origin}' : rule.ok
    if (okValue === ASSET_CACHE) {
      hashed.push(comment, `\t${rule.name} ${quote(ctx.plan.hashedAssetCache)}`)
      plain.push(comment, `\t${rule.name} ${quote(ctx.plan.assetCache)}`)
    } else if (okValue !== undefined && !rule.reflectsOrigin) {
      ok.push(comment, `\t${rule.name} ${quote(okValue)}`)
    }
    if (rule.reflectsOrigin) continue
    err.push(rule.error === undefined ? `\t-${rule.name}` : `\t>${rule.name} ${quote(rule.error)}`)
  }
  return [
    ...headerBlock(ok),
    ...headerBlock(hashed, '@hashed'),
    ...headerBlock(plain, '@unhashed'),
    ...headerBlock([...err, '\tdefer', '\tmatch status 4xx 5xx']),
  ]
}

/** The error set for errors Caddy raises itself (a missing file), inside handle_errors. */
function errorBlock(ctx: RecipeContext, cls: ResponseClass): string[] {
  const lines = classRules(ctx, cls)
    .filter((rule) => !rule.reflectsOrigin)
    .map((rule) =>
      rule.error === undefined ? `\t-${rule.name}` : `\t${rule.name} ${quote(rule.error)}`,
    )
  return headerBlock(lines)
}

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
    const cors = cls === 'dicomweb' || cls === 'preflight' ? corsLine : []
    handles.push(
      `\t\thandle @${name} {`,
      ...indentBy([...headerBlocks(ctx, cls), ...cors, ...body], 3),
      '\t\t}',
    )
    errorHandles.push(
      `\t\thandle @${name} {`,
      ...indentBy([...errorBlock(ctx, cls), ...cors], 3),
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
    addClass('dicomweb', 'dicomweb', [`path ${mount}/*`], `DICOMweb from ${ctx.upstreamRoot}`, [
      ...(upstreamPath !== mount ? [`uri replace ${mount}/ ${upstreamPath}/ 1`] : []),
      `reverse_proxy ${ctx.upstream.origin} {`,
      '\t# The upstream builds its absolute URLs from the public host it is given (B15).',
      '\theader_up Host {hostport}',
      '\theader_up X-Forwarded-Host {hostport}',
      `\theader_up X-Forwarded-Prefix ${mount}`,
      '\t# Planned headers come from this file only: a copy would make two (R-SF-1).',
      ...upstreamCopies(ctx).map((n) => `\theader_down -${n}`),
      '}',
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
    `# (isolation: ${ctx.plan.intent.isolation}). Needs Caddy >= 2.6 (header \`match\`).`,
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
    '\t\t\trespond "{err.status_code} {err.status_text}"',
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

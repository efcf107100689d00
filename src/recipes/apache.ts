/**
 * Apache httpd: one `<VirtualHost>` with an `<If>`/`<ElseIf>` chain that picks exactly one
 * response class per request, `Header always set` everywhere (error replies keep the headers,
 * B22) after `Header unset` (a proxied copy in the success table would make two), mod_proxy for
 * DICOMweb, mod_substitute for upstream absolute URLs, mod_rewrite for the SPA fallback and for
 * preflights answered without the upstream. Needs httpd >= 2.4.26 (`<ElseIf>`). Pure.
 */
import type { ResponseClass } from '../policy/plan.js'
import {
  ASSET_CACHE,
  classRules,
  HASHED_NAME,
  publicOrigin,
  type RecipeContext,
  type RecipeOutput,
} from './model.js'
import { escapeRegex, RENDERED_SUFFIX, viewerRoutes, type ViewerRoute } from './paths.js'

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

const OK = '%{REQUEST_STATUS} -lt 400'
const ERR = '%{REQUEST_STATUS} -ge 400'

function headerLines(ctx: RecipeContext, cls: ResponseClass, pad: string): string[] {
  const lines: string[] = []
  for (const rule of classRules(ctx, cls)) {
    lines.push(`${pad}# ${rule.why}`)
    lines.push(`${pad}Header unset ${rule.name}`)
    if (rule.reflectsOrigin) {
      lines.push(
        `${pad}Header always set ${rule.name} "%{ISOGATE_CORS_ORIGIN}e" env=ISOGATE_CORS_ORIGIN`,
      )
      continue
    }
    if (rule.ok === rule.error && typeof rule.ok === 'string') {
      lines.push(`${pad}Header always set ${rule.name} ${quote(rule.ok)}`)
      continue
    }
    if (rule.ok === ASSET_CACHE) {
      const hashed = `%{REQUEST_URI} =~ m#${HASHED_NAME}#`
      lines.push(
        `${pad}Header always set ${rule.name} ${quote(ctx.plan.hashedAssetCache)} ` +
          `${quote(`expr=${OK} && ${hashed}`)}`,
        `${pad}Header always set ${rule.name} ${quote(ctx.plan.assetCache)} ` +
          `${quote(`expr=${OK} && !(${hashed})`)}`,
      )
    } else if (rule.ok !== undefined) {
      lines.push(`${pad}Header always set ${rule.name} ${quote(rule.ok)} ${quote(`expr=${OK}`)}`)
    }
    if (rule.error !== undefined) {
      lines.push(
        `${pad}Header always set ${rule.name} ${quote(rule.error)} ${quote(`expr=${ERR}`)}`,
      )
    }
  }
  return lines
}

function condition(route: ViewerRoute): string {
  switch (route.match.kind) {
    case 'exact':
      return `%{REQUEST_URI} == '${route.match.path}'`
    case 'prefix':
      return `%{REQUEST_URI} =~ m#^${escapeRegex(route.match.path)}#`
    case 'regex':
      return `%{REQUEST_URI} =~ m#${route.match.pattern}#`
  }
}

/** `isogate recipe apache`. */
export function renderApache(ctx: RecipeContext): RecipeOutput {
  const mount = ctx.mountPath
  const branches: Array<{ cond: string; cls: ResponseClass; label: string }> = []
  if (ctx.upstream) {
    branches.push(
      {
        cond: `%{REQUEST_METHOD} == 'OPTIONS' && %{REQUEST_URI} =~ m#^${escapeRegex(mount)}/#`,
        cls: 'preflight',
        label: 'preflights, answered here without the upstream',
      },
      {
        cond: `%{REQUEST_URI} =~ m#^${escapeRegex(mount)}/.*${RENDERED_SUFFIX}#`,
        cls: 'rendered',
        label: 'rendered PDFs/images (an <object> under COEP): a bare COEP of their own',
      },
      {
        cond: `%{REQUEST_URI} =~ m#^${escapeRegex(mount)}/#`,
        cls: 'dicomweb',
        label: 'DICOMweb replies',
      },
    )
  }
  for (const route of viewerRoutes(ctx.basePath)) {
    // The SPA fallback is rewritten to index.html and picked up by its own branch.
    branches.push({ cond: condition(route), cls: route.cls, label: route.label })
  }

  const chain: string[] = []
  branches.forEach((branch, index) => {
    const head = index === 0 ? '<If' : '<ElseIf'
    const close = index === 0 ? '</If>' : '</ElseIf>'
    chain.push(`  # ${branch.label}`)
    chain.push(`  ${head} ${quote(branch.cond)}>`)
    chain.push(...headerLines(ctx, branch.cls, '    '))
    if (branch.cls === 'wasm') chain.push('    ForceType application/wasm')
    chain.push(`  ${close}`)
  })
  chain.push('  # Anything else (never reached by the viewer) keeps the error set.', '  <Else>')
  chain.push(...headerLines(ctx, 'error', '    '), '  </Else>')

  const proxy: string[] = []
  if (ctx.upstream && ctx.upstreamRoot) {
    const origins = ctx.cors?.allowOrigins.filter((o) => o !== '*') ?? []
    proxy.push(
      `  # DICOMweb from ${ctx.upstreamRoot} on this origin${ctx.cors ? ', with CORS' : ''}.`,
      '  RewriteEngine On',
      '  # Preflights are answered here; the upstream never sees them.',
      '  RewriteCond %{REQUEST_METHOD} =OPTIONS',
      `  RewriteRule ^${escapeRegex(mount)}/ - [R=204,L]`,
      `  ProxyPass ${mount}/ ${ctx.upstreamRoot}/`,
      `  ProxyPassReverse ${mount}/ ${ctx.upstreamRoot}/`,
      '  # The upstream keeps its own Host; the public one goes in X-Forwarded-* (mod_proxy).',
      '  ProxyPreserveHost Off',
      `  RequestHeader set X-Forwarded-Proto ${ctx.tls ? 'https' : 'http'}`,
      `  RequestHeader set X-Forwarded-Prefix ${mount}`,
      '  # Upstream absolute URLs (BulkDataURI, RetrieveURL) must not leak (B15).',
      `  <Location ${mount}/>`,
      '    RequestHeader unset Accept-Encoding',
      '    AddOutputFilterByType SUBSTITUTE application/dicom+json application/json',
      `    Substitute ${quote(`s|${ctx.upstreamRoot}/|${publicOrigin(ctx)}${mount}/|n`)}`,
      '  </Location>',
    )
    if (origins.length > 0) {
      proxy.push(
        '  # CORS: echo Origin only when it is listed (never blind reflection, never "null").',
        `  SetEnvIf Origin ${quote(`^(${origins.map(escapeRegex).join('|')})$`)} ` +
          'ISOGATE_CORS_ORIGIN=$1',
      )
    }
    proxy.push('')
  }

  const base = ctx.basePath
  const vhost = [
    `# Rendered by \`isogate recipe apache\` from the Isogate header plan`,
    `# (isolation: ${ctx.plan.intent.isolation}). Needs Apache httpd >= 2.4.26 and the modules`,
    '# headers, rewrite, mime, dir' +
      (ctx.upstream ? ', proxy, proxy_http, substitute, setenvif' : '') +
      (ctx.tls ? ', ssl' : '') +
      ' (a2enmod ...).',
    `<VirtualHost ${ctx.host}:${ctx.port}>`,
    `  ServerName ${ctx.serverName}`,
    `  DocumentRoot ${ctx.root}`,
    ...(ctx.tls
      ? [
          '  # Isolation needs a secure context: https, or loopback (B01).',
          '  SSLEngine on',
          `  SSLCertificateFile ${ctx.tls.cert}`,
          `  SSLCertificateKeyFile ${ctx.tls.key}`,
        ]
      : []),
    '',
    ...proxy,
    `  <Directory ${ctx.root}>`,
    '    Require all granted',
    '    Options FollowSymLinks',
    '    AllowOverride None',
    '    DirectoryIndex index.html',
    '    # Client-side routes (no extension, no file) get index.html; missing files stay 404.',
    '    RewriteEngine On',
    '    RewriteCond %{REQUEST_FILENAME} !-f',
    '    RewriteCond %{REQUEST_FILENAME} !-d',
    '    RewriteCond %{REQUEST_URI} !\\.[A-Za-z0-9]+$',
    `    RewriteRule ^ ${base}index.html [L]`,
    '  </Directory>',
    '',
    "  # Exactly one branch applies to a reply; each sets its class's full header set.",
    ...chain,
    '</VirtualHost>',
    '',
  ].join('\n')

  return {
    target: 'apache',
    files: [{ path: 'isogate-apache.conf', content: vhost }],
    notes: [
      'Put isogate-apache.conf in sites-available, a2ensite it, and check with `apachectl -t`.',
      ...(ctx.upstream
        ? [
            `Point the viewer's data source at "<origin>${mount}" in app-config.js.`,
            `Upstream URLs are rewritten to ${publicOrigin(ctx)}${mount}/: set --server-name and ` +
              '--port to the public name and port.',
          ]
        : []),
    ],
  }
}

/**
 * nginx as the load balancer in front of several Isogate gateways: an `upstream` block over
 * the gateways and one `server` that passes everything through. Each gateway already sends the
 * header plan and pools the DICOMweb upstreams itself, so nginx sets no header of the plan (one
 * mechanism only, B23); it only spreads connections and moves a request that found a gateway
 * gone to the next one. The gateways are stateless (docs/scale.md), so any of them may answer
 * any request. Pure.
 */
import { IsogateError } from '../../errors.js'
import type { RecipeContext, RecipeOptions, RecipeOutput } from '../model.js'
import { publicOrigin } from '../model.js'

export interface BalanceOptions extends RecipeOptions {
  /** The gateways as `host:port` (each runs `isogate serve`), e.g. `10.0.0.11:8080`. */
  readonly gateways?: readonly string[] | undefined
}

/** Used when no `gateways` are given: two gateways on this machine. */
export const DEFAULT_GATEWAYS = ['127.0.0.1:8081', '127.0.0.1:8082'] as const

const GATEWAY = /^(?:\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/

/** `isogate recipe nginx-balance`: one file to include in nginx's `http { }`. */
export function renderNginxBalance(ctx: RecipeContext, options: BalanceOptions): RecipeOutput {
  const gateways = options.gateways?.length ? [...options.gateways] : [...DEFAULT_GATEWAYS]
  for (const gateway of gateways) {
    if (!GATEWAY.test(gateway)) {
      throw new IsogateError(
        'ISOGATE_E_RECIPE_OPTION',
        `gateway "${gateway}" must be host:port, e.g. 10.0.0.11:8080`,
      )
    }
  }
  const origin = publicOrigin(ctx)
  const listen = ctx.tls ? `${ctx.host}:${ctx.port} ssl` : `${ctx.host}:${ctx.port}`
  const lines = [
    '# Rendered by `isogate recipe nginx-balance`: nginx spreading requests over Isogate',
    '# gateways. Include it in `http { }`. The gateways send every header of the plan',
    `# (isolation: ${ctx.plan.intent.isolation}); nothing here adds, hides or rewrites one.`,
    'upstream isogate_gateways {',
    '  # Each gateway pools the DICOMweb upstreams itself; they are interchangeable.',
    ...gateways.map((g) => `  server ${g} max_fails=1 fail_timeout=5s;`),
    '  # Idle connections to the gateways, reused across requests.',
    '  keepalive 32;',
    '}',
    '',
    'server {',
    `  listen ${listen};`,
    `  server_name ${ctx.serverName};`,
    ...(ctx.tls
      ? [
          '  # Isolation needs a secure context: https off loopback (B01).',
          `  ssl_certificate ${ctx.tls.cert};`,
          `  ssl_certificate_key ${ctx.tls.key};`,
        ]
      : []),
    '  # STOW bodies and bulk data stream through; nginx neither limits nor buffers them.',
    '  client_max_body_size 0;',
    '  proxy_request_buffering off;',
    '  proxy_buffering off;',
    '',
    '  # The status page answers loopback peers only, and refuses forwarded requests: it is',
    "  # read on a gateway's own machine. Violation reports and health probes pass.",
    ...['', 'status.json', 'status.schema.json'].map(
      (name) => `  location = ${ctx.basePath}__isogate/${name} { return 404; }`,
    ),
    '',
    '  location / {',
    '    proxy_pass http://isogate_gateways;',
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $http_host;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_set_header X-Forwarded-Host $http_host;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    # A gateway that is gone (refused, reset before a reply, no answer) hands the request',
    '    # to the next one. nginx never repeats a POST/PUT/DELETE (no non_idempotent) nor a',
    '    # reply that has started: those fail as they would with one gateway.',
    '    proxy_next_upstream error timeout;',
    '    proxy_next_upstream_tries 2;',
    '    proxy_connect_timeout 2s;',
    '    # Series retrieval from a cold PACS can be slow.',
    '    proxy_read_timeout 300s;',
    '  }',
    '}',
    '',
  ]
  return {
    target: 'nginx-balance',
    files: [{ path: 'isogate-balance.conf', content: lines.join('\n') }],
    notes: [
      `Start every gateway with --public-url ${origin}${ctx.basePath} so the URLs it writes ` +
        'into DICOMweb replies name this balancer, not the gateway.',
      'Give each gateway the same config and the same --source NAME=URL1,URL2 list; ' +
        'certificates and state directories may be shared read-only (docs/scale.md).',
      'Gateways off loopback need --tls (or this balancer terminating https and ' +
        '--public-url https://…): isolation needs a secure context.',
    ],
  }
}

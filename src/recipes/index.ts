/**
 * `isogate recipe`: the header plan written down for a server someone else runs. Each target is
 * a pure renderer over the same validated intent (`contextOf`), so what a recipe tells nginx to
 * send and what `serve` sends cannot drift apart. The doctor prints fixes through
 * `renderRecipe`.
 */
import { IsogateError } from '../errors.js'
import { renderApache } from './apache.js'
import { renderNginxBalance, type BalanceOptions } from './balance/nginx.js'
import { renderCaddy } from './caddy.js'
import { renderExpress, renderVite, renderWebpackDevServer } from './devservers.js'
import {
  renderCloudflarePages,
  renderFirebase,
  renderNetlify,
  renderNetlifyToml,
  renderVercel,
} from './hosts.js'
import { renderIis } from './iis.js'
import { renderK8sIngressNginx } from './k8s.js'
import { contextOf, type RecipeContext, type RecipeOptions, type RecipeOutput } from './model.js'
import { renderNginx } from './nginx.js'
import { renderServiceWorkerTarget } from './service-worker/index.js'
import {
  dcm4cheeOptions,
  dockerTlsOptions,
  orthancOptions,
  renderDcm4cheeRenderedCorp,
  renderOhifDockerTls,
  renderOrthancNginxCors,
} from './sources.js'

export type { RecipeOptions, RecipeOutput, RecipeFile } from './model.js'

export interface TargetInfo {
  readonly name: string
  readonly description: string
  /** `server`: started for real in the tests; `format`: parsed back and its rules applied. */
  readonly verifiedBy: 'server' | 'format'
}

interface Target extends TargetInfo {
  readonly render: (ctx: RecipeContext, options: RecipeOptions) => RecipeOutput
  /** The target's own defaults and fixed choices, applied before the intent is validated. */
  readonly options?: (options: RecipeOptions) => RecipeOptions
}

const TARGETS: readonly Target[] = [
  {
    name: 'nginx',
    description: 'nginx server block + header includes',
    verifiedBy: 'server',
    render: renderNginx,
  },
  {
    name: 'apache',
    description: 'Apache httpd VirtualHost (mod_headers, mod_proxy, mod_rewrite)',
    verifiedBy: 'server',
    render: renderApache,
  },
  { name: 'caddy', description: 'Caddyfile site block', verifiedBy: 'server', render: renderCaddy },
  {
    name: 'vite',
    description: 'Vite dev and preview: server/preview.headers + a pre middleware plugin',
    verifiedBy: 'server',
    render: renderVite,
  },
  {
    name: 'webpack-dev-server',
    description: 'webpack-dev-server devServer with a first middleware',
    verifiedBy: 'server',
    render: renderWebpackDevServer,
  },
  {
    name: 'express',
    description: 'Express server.mjs with the header middleware first',
    verifiedBy: 'server',
    render: (ctx) => renderExpress(ctx, false),
  },
  {
    name: 'express-helmet',
    description: 'Express with helmet, isolation headers set per class, not from helmet',
    verifiedBy: 'server',
    render: (ctx) => renderExpress(ctx, true),
  },
  {
    name: 'nginx-balance',
    description: 'nginx load balancer over several Isogate gateways (upstream block)',
    verifiedBy: 'server',
    render: (ctx, options) => renderNginxBalance(ctx, options as BalanceOptions),
  },
  {
    name: 'k8s-ingress-nginx',
    description: 'Isogate itself behind ingress-nginx: Deployment, Service, Ingress',
    verifiedBy: 'format',
    render: renderK8sIngressNginx,
  },
  {
    name: 'netlify',
    description: 'Netlify _headers + _redirects (path rules, added up)',
    verifiedBy: 'format',
    render: renderNetlify,
  },
  {
    name: 'netlify-toml',
    description: 'Netlify netlify.toml [[headers]] + [[redirects]]',
    verifiedBy: 'format',
    render: renderNetlifyToml,
  },
  {
    name: 'cloudflare-pages',
    description: 'Cloudflare Pages _headers (path rules, added up, `! Name` detach)',
    verifiedBy: 'format',
    render: renderCloudflarePages,
  },
  {
    name: 'vercel',
    description: 'Vercel vercel.json headers (path-to-regexp 6 sources) + client-route rewrite',
    verifiedBy: 'format',
    render: renderVercel,
  },
  {
    name: 'firebase',
    description: 'Firebase Hosting firebase.json headers (RE2 regex) + client-route rewrite',
    verifiedBy: 'format',
    render: renderFirebase,
    options: (options) => ({ root: 'dist', ...options }),
  },
  {
    name: 'iis',
    description: 'IIS web.config: customHeaders, <location>, URL Rewrite for client routes',
    verifiedBy: 'format',
    render: renderIis,
  },
  {
    name: 'ohif-docker-tls',
    description: 'nginx TLS reverse proxy in front of the OHIF Docker image',
    verifiedBy: 'format',
    render: renderOhifDockerTls,
    options: dockerTlsOptions,
  },
  {
    name: 'orthanc-nginx-cors',
    description: 'Orthanc behind nginx with CORS for a viewer elsewhere',
    verifiedBy: 'server',
    render: renderOrthancNginxCors,
    options: orthancOptions,
  },
  {
    name: 'dcm4chee-rendered-corp',
    description: 'nginx: CORP and a bare COEP on a dcm4chee /rendered PDF',
    verifiedBy: 'server',
    render: renderDcm4cheeRenderedCorp,
    options: dcm4cheeOptions,
  },
  {
    name: 'service-worker',
    description: 'static hosts without headers: a service worker + loader adding COOP/COEP',
    verifiedBy: 'server',
    render: renderServiceWorkerTarget,
  },
]

/** The known targets, in the order `--list` prints them. */
export function listTargets(): TargetInfo[] {
  return TARGETS.map(({ name, description, verifiedBy }) => ({ name, description, verifiedBy }))
}

/**
 * Renders one target. Throws ISOGATE_E_RECIPE_TARGET for an unknown target and
 * ISOGATE_E_RECIPE_OPTION for an option the target cannot use.
 */
export function renderRecipe(target: string, options: RecipeOptions): RecipeOutput {
  const found = TARGETS.find((t) => t.name === target)
  if (!found) {
    throw new IsogateError('ISOGATE_E_RECIPE_TARGET', `unknown recipe target "${target}"`, {
      details: { known: TARGETS.map((t) => t.name) },
    })
  }
  const prepared = found.options ? found.options(options) : options
  return found.render(contextOf(prepared), prepared)
}

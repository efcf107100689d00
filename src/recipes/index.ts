/**
 * `isogate recipe`: the header plan written down for a server someone else runs. Each target is
 * a pure renderer over the same validated intent (`contextOf`), so what a recipe tells nginx to
 * send and what `serve` sends cannot drift apart. The doctor prints fixes through
 * `renderRecipe`.
 */
import { IsogateError } from '../errors.js'
import { renderApache } from './apache.js'
import { renderCaddy } from './caddy.js'
import { contextOf, type RecipeContext, type RecipeOptions, type RecipeOutput } from './model.js'
import { renderNginx } from './nginx.js'
import {
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
    name: 'ohif-docker-tls',
    description: 'nginx TLS reverse proxy in front of the OHIF Docker image',
    verifiedBy: 'format',
    render: renderOhifDockerTls,
  },
  {
    name: 'orthanc-nginx-cors',
    description: 'Orthanc behind nginx with CORS for a viewer elsewhere',
    verifiedBy: 'format',
    render: renderOrthancNginxCors,
  },
  {
    name: 'dcm4chee-rendered-corp',
    description: 'nginx: CORP on a dcm4chee /rendered PDF',
    verifiedBy: 'format',
    render: renderDcm4cheeRenderedCorp,
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
  return found.render(contextOf(options), options)
}

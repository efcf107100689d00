/**
 * `isogate recipe service-worker`: for static hosts that cannot send headers at all, a service
 * worker and its loader that give the site's pages COOP and COEP after one reload. Pure: it
 * only renders text. docs/service-worker.md states what it cannot do.
 */
import { IsogateError } from '../../errors.js'
import type { RecipeContext, RecipeOptions, RecipeOutput } from '../model.js'
import { loaderScript, serviceWorkerScript, type ShimCoep } from './scripts.js'

export { LOADER_MARKER, SW_MARKER } from './scripts.js'

export interface ServiceWorkerOptions {
  /** COEP the worker adds: require-corp (default, works in every browser) or credentialless. */
  readonly isolation?: string | undefined
  /** Path the site is served under, starting and ending with `/` (for the script tag). */
  readonly basePath?: string | undefined
}

export interface ServiceWorkerRecipe {
  readonly files: { readonly path: string; readonly content: string }[]
  readonly notes: string[]
}

export const SW_FILE = 'isogate-sw.js'
export const LOADER_FILE = 'isogate-coi.js'

/**
 * Renders the two scripts and the notes on installing them. Throws ISOGATE_E_RECIPE_OPTION for
 * an isolation the shim cannot give (off, report-only).
 */
export function renderServiceWorker(options: ServiceWorkerOptions = {}): ServiceWorkerRecipe {
  const isolation = options.isolation ?? 'require-corp'
  if (isolation !== 'require-corp' && isolation !== 'credentialless') {
    throw new IsogateError(
      'ISOGATE_E_RECIPE_OPTION',
      `--isolation ${isolation}: the service worker gives isolation (require-corp or ` +
        'credentialless); it cannot report only or switch isolation off',
    )
  }
  const basePath = options.basePath ?? '/'
  if (!/^\/(?:[A-Za-z0-9._~-]+\/)*$/.test(basePath)) {
    throw new IsogateError(
      'ISOGATE_E_RECIPE_OPTION',
      `--base-path ${basePath} must start and end with / (e.g. /viewer/)`,
    )
  }
  const coep = isolation as ShimCoep
  return {
    files: [
      { path: SW_FILE, content: serviceWorkerScript(coep) },
      { path: LOADER_FILE, content: loaderScript(coep, SW_FILE) },
    ],
    notes: [
      `put ${SW_FILE} and ${LOADER_FILE} in the folder of index.html (served at ${basePath})`,
      'make this the first script in <head> of every page: ' +
        `<script src="${basePath}${LOADER_FILE}"></script>`,
      'the first visit is not isolated: the page reloads once, then it is (and stays so)',
      'a forced reload (Shift+Reload) bypasses the worker; the loader then reloads once more',
      'https (or localhost) only; no service workers in Firefox private windows before 138',
      coep === 'require-corp'
        ? 'cross-origin <img>/<script>/<video> without crossorigin still need ' +
          'Cross-Origin-Resource-Policy from their own server'
        : 'credentialless: cross-origin no-cors loads go without cookies; browsers without ' +
          'it (Safari) are stepped down to require-corp by the loader',
      'OHIF: its init-service-worker.js unregisters every service worker; empty that file ' +
        '(or drop its <script> tag) or the shim is removed on each visit',
      'DICOMweb on another origin still needs CORS there (Access-Control-Allow-Origin)',
    ],
  }
}

/** The `service-worker` target of `isogate recipe`, in the shape the target table takes. */
export function renderServiceWorkerTarget(
  ctx: RecipeContext,
  options: RecipeOptions,
): RecipeOutput {
  const recipe = renderServiceWorker({ isolation: options.isolation, basePath: ctx.basePath })
  const notes = [...recipe.notes]
  if (options.upstream !== undefined) {
    notes.push('--upstream is ignored: a static host cannot proxy; point the viewer at it')
  }
  return { target: 'service-worker', files: recipe.files, notes }
}

/**
 * Data-source side and container recipes, all nginx: Orthanc fronted with CORS for a viewer on
 * another origin, a TLS reverse proxy in front of the OHIF Docker image, and CORP on a
 * dcm4chee `/rendered` PDF shown in an `<object>` under COEP. Pure.
 */
import { IsogateError } from '../errors.js'
import { contextOf, type RecipeContext, type RecipeOptions, type RecipeOutput } from './model.js'
import { renderNginxShape } from './nginx.js'

/** The intent of orthanc-nginx-cors: a fronted Orthanc, on its default port unless told. */
export function orthancOptions(options: RecipeOptions): RecipeOptions {
  return { upstream: 'http://127.0.0.1:8042/dicom-web', ...options, mode: 'front' }
}

/** The intent of ohif-docker-tls: https on every interface unless told. */
export function dockerTlsOptions(options: RecipeOptions): RecipeOptions {
  return { port: 443, host: '0.0.0.0', ...options }
}

/** The intent of dcm4chee-rendered-corp: dcm4chee's default AE, fronted for any origin. */
export function dcm4cheeOptions(options: RecipeOptions): RecipeOptions {
  return {
    upstream: 'http://arc:8080/dcm4chee-arc/aets/DCM4CHEE/rs',
    ...options,
    mode: options.mode ?? 'front',
    allowOrigins: options.allowOrigins?.length ? options.allowOrigins : ['*'],
  }
}

/** `isogate recipe orthanc-nginx-cors`: DICOMweb only, CORS for the listed viewer origins. */
export function renderOrthancNginxCors(_ctx: RecipeContext, options: RecipeOptions): RecipeOutput {
  const ctx = contextOf(orthancOptions(options))
  const out = renderNginxShape(ctx, { viewer: false, target: 'orthanc-nginx-cors' })
  return {
    ...out,
    notes: [
      ...out.notes,
      'The viewer on the listed origin uses "<this origin>' +
        ctx.mountPath +
        '" as qidoRoot and ' +
        'wadoRoot; nothing else is served here.',
    ],
  }
}

/** `isogate recipe ohif-docker-tls`: https in front of the `ohif/app` container. */
export function renderOhifDockerTls(_ctx: RecipeContext, options: RecipeOptions): RecipeOutput {
  if (!options.cert || !options.key) {
    throw new IsogateError(
      'ISOGATE_E_RECIPE_OPTION',
      'ohif-docker-tls needs --cert and --key (isolation needs https off loopback, B01)',
    )
  }
  const ctx = contextOf(dockerTlsOptions(options))
  const out = renderNginxShape(ctx, {
    viewer: false,
    target: 'ohif-docker-tls',
    container: 'http://ohif:80',
  })
  return {
    ...out,
    notes: [
      ...out.notes,
      'The OHIF image (ohif/app) listens on port 80 as service "ohif"; its own nginx sends no ' +
        "COOP/COEP since 3.9, so this proxy sets every header and drops the container's copies.",
    ],
  }
}

/** `isogate recipe dcm4chee-rendered-corp`: CORP on `/rendered` for an `<object>` PDF. */
export function renderDcm4cheeRenderedCorp(
  _ctx: RecipeContext,
  options: RecipeOptions,
): RecipeOutput {
  const ctx = contextOf(dcm4cheeOptions(options))
  const out = renderNginxShape(ctx, { viewer: false, target: 'dcm4chee-rendered-corp' })
  return {
    ...out,
    notes: [
      ...out.notes,
      '`<object>` has no crossorigin attribute: under COEP require-corp a PDF from another ' +
        'origin loads only with Cross-Origin-Resource-Policy cross-origin (ohif-notes §d).',
    ],
  }
}

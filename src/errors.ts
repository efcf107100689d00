/**
 * Every error Isogate reports to a user: a stable code, a sentence saying what went wrong, and a
 * hint naming what to change. Codes are never reused once retired; docs/errors.md lists them.
 */

export interface ErrorSpec {
  /** HTTP status when the error answers a request; undefined for errors that never do. */
  readonly status?: number
  /** What to change, naming the flag or config key where there is one. */
  readonly hint: string
}

export const ERRORS = {
  // Config and command line
  ISOGATE_E_CONFIG_INVALID: { hint: "Fix the named field; the command's --help lists its flags." },
  ISOGATE_E_CONFIG_FILE: { hint: 'Check that --config names a readable JSON or YAML file.' },
  ISOGATE_E_CLI_USAGE: { hint: 'Run the command with --help for its flags and examples.' },
  ISOGATE_E_CLI_INIT_EXISTS: {
    hint: 'Pass --force to overwrite it, or --output to write another file.',
  },
  ISOGATE_E_CLI_STATUS_UNREACHABLE: {
    hint: 'Check the URL and that `isogate serve` runs there; for its own certificate pass --ca.',
  },
  ISOGATE_E_CLI_STATUS_REFUSED: {
    hint: 'Run `isogate status` on the gateway machine, or set status.allowRemote in its config.',
  },
  ISOGATE_E_INSECURE_LISTEN: {
    hint: 'Use --tls auto (or --cert/--key), or listen on 127.0.0.1/localhost and tunnel.',
  },
  ISOGATE_E_GATEWAY_LISTEN: { hint: 'Pick another --port, or --port 0 for a free one.' },
  ISOGATE_E_TLS_CERTIFICATE: {
    hint: 'Check --cert/--key, or use --tls auto for a generated certificate.',
  },

  // Viewer and static files
  ISOGATE_E_VIEWER_MISSING: {
    hint: 'Run `npm run prepare` to fetch the bundled OHIF, or pass --viewer DIR.',
  },
  ISOGATE_E_STATIC_NOT_FOUND: {
    status: 404,
    hint: 'Check the URL; the file is not in the viewer.',
  },
  ISOGATE_E_STATIC_FORBIDDEN_PATH: {
    status: 400,
    hint: 'Paths may not leave the served folders (no `..`, encoded slashes or NUL bytes).',
  },

  // Upstream proxy
  ISOGATE_E_PROXY_UNREACHABLE: {
    status: 502,
    hint: 'Check that the upstream named in --source is running and reachable from Isogate.',
  },
  ISOGATE_E_PROXY_TIMEOUT: {
    status: 504,
    hint: 'The upstream was too slow; check its load or raise the source timeout.',
  },
  ISOGATE_E_PROXY_BAD_RESPONSE: {
    status: 502,
    hint: 'The upstream answered something that is not HTTP or broke off mid-reply.',
  },
  ISOGATE_E_PROXY_FORBIDDEN_TARGET: {
    status: 400,
    hint: 'Only the configured upstream roots are reachable through a source.',
  },
  ISOGATE_E_PROXY_METHOD: {
    status: 405,
    hint: 'This source is read-only; enable writes on the source to allow this method.',
  },
  ISOGATE_E_PROXY_ORIGIN_REFUSED: {
    status: 403,
    hint: 'Add the viewer origin to the front source: --allow-origin ORIGIN (allowOrigins).',
  },

  // Embedded DICOM source
  ISOGATE_E_DICOM_NOT_FOUND: { status: 404, hint: 'No study, series or instance has that UID.' },
  ISOGATE_E_DICOM_GONE: {
    status: 410,
    hint: 'The file behind this instance changed or vanished; it is being re-indexed.',
  },
  ISOGATE_E_DICOM_NOT_ACCEPTABLE: {
    status: 406,
    hint: 'Ask for the stored transfer syntax or `transfer-syntax=*` (see README: DICOMweb).',
  },
  ISOGATE_E_DICOM_BAD_REQUEST: { status: 400, hint: 'Check the query parameters and UIDs.' },
  ISOGATE_E_DICOM_FOLDER: { hint: 'Pass a readable folder of DICOM files to `isogate serve`.' },

  // Gateway
  ISOGATE_E_GATEWAY_INTERNAL: {
    status: 500,
    hint: 'This is a bug in Isogate; run with --verbose and report the log line.',
  },
  ISOGATE_E_GATEWAY_FORBIDDEN: {
    status: 403,
    hint: 'This page is served to loopback clients only unless configured otherwise.',
  },
  ISOGATE_E_GATEWAY_METHOD: { status: 405, hint: 'Only GET and HEAD are served here.' },
  ISOGATE_E_GATEWAY_TOO_LARGE: { status: 413, hint: 'This endpoint takes no request body.' },
  ISOGATE_E_GATEWAY_BAD_REQUEST: {
    status: 400,
    hint: 'The request was not valid HTTP/1.1; check the client or the proxy in front.',
  },
  ISOGATE_E_GATEWAY_REQUEST_TIMEOUT: {
    status: 408,
    hint: 'The request headers or body arrived too slowly; check the network or the client.',
  },
  ISOGATE_E_GATEWAY_HEADERS_TOO_LARGE: {
    status: 431,
    hint: 'Request line and headers are limited to 16 KiB; drop large cookies or headers.',
  },
  ISOGATE_E_GATEWAY_RATE_LIMITED: {
    status: 429,
    hint: 'Too many violation reports from this client; the collector samples them, retry later.',
  },
  ISOGATE_E_GATEWAY_MEDIA_TYPE: {
    status: 415,
    hint: 'Send reports as application/reports+json (Reporting API) or application/csp-report.',
  },
  ISOGATE_E_GATEWAY_NOT_READY: {
    status: 503,
    hint: 'A data source is still starting; retry shortly or read /__isogate/status.json.',
  },

  // Doctor and recipes
  ISOGATE_E_DOCTOR_URL: { hint: 'Give a full http:// or https:// URL of the viewer.' },
  ISOGATE_E_DOCTOR_UNREACHABLE: { hint: 'Check that the URL answers from this machine.' },
  ISOGATE_E_DOCTOR_BROWSER: {
    hint: 'Install Debian chromium or set ISOGATE_CHROMIUM to a Chromium binary.',
  },
  ISOGATE_E_RECIPE_TARGET: { hint: 'Run `isogate recipe --list` for the known targets.' },
  ISOGATE_E_RECIPE_OPTION: { hint: 'Run `isogate recipe --help` for the options.' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

/** The one error class of Isogate. `code` is stable; `message` is for people. */
export class IsogateError extends Error {
  readonly code: ErrorCode
  readonly status: number | undefined
  readonly hint: string
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; hint?: string } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'IsogateError'
    this.code = code
    const spec: ErrorSpec = ERRORS[code]
    this.status = spec.status
    this.hint = options.hint ?? spec.hint
    this.details = options.details
  }

  /** The JSON body of an error reply: what a client or the viewer's console can show. */
  toJSON(): Record<string, unknown> {
    return {
      error: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.details ? { details: this.details } : {}),
    }
  }
}

export function isIsogateError(value: unknown): value is IsogateError {
  return value instanceof IsogateError
}

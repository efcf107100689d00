/**
 * The gateway: one fastify instance serving the viewer and its data sources, HTTP/1.1 on
 * loopback or HTTPS with HTTP/2 (ALPN, HTTP/1.1 still answered). It owns routing, the header
 * hook, and turning every failure into a JSON error reply that keeps the isolation headers.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'

import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify'
import { fastify, LogController } from 'fastify'

import { IsogateError, isIsogateError } from '../errors.js'
import { setResponseClass } from '../http/response-class.js'
import type { Logger } from '../log.js'
import { headersFor, type HeaderPlan } from '../policy/plan.js'
import { applyPlan, registerPlanHook } from './headers.js'

export interface TlsMaterial {
  readonly cert: string | Buffer
  readonly key: string | Buffer
}

/** A part of the site, registered under a path prefix (a data source, the viewer, status). */
export interface Mount {
  readonly prefix: string
  readonly plugin: FastifyPluginAsync
}

export interface GatewayOptions {
  readonly plan: HeaderPlan
  readonly logger: Logger
  readonly tls?: TlsMaterial | undefined
  /** Mounted in order; the viewer (with its SPA fallback) should come last. */
  readonly mounts: readonly Mount[]
  /** Upper bound on request headers; DICOMweb GETs are small. */
  readonly maxHeaderBytes?: number
  /** Overrides of the connection timeouts (tests shorten them to seconds). */
  readonly timeouts?: Partial<GatewayTimeouts>
}

/**
 * How long a client may take. Each bounds what one slow or idle client can hold: a socket, a
 * parser and, for bodies, a buffer. Node checks the header and request deadlines every
 * `checkIntervalMs`, so a deadline is enforced up to that much late.
 */
export interface GatewayTimeouts {
  /** From connecting (or the end of the previous request) to the last request header. */
  readonly headersMs: number
  /** From connecting to the end of the request body. */
  readonly requestMs: number
  /** Idle keep-alive connections between requests. */
  readonly keepAliveMs: number
  /** Silence on a TLS connection (HTTP/2 sessions and the HTTP/1.1 fallback) before closing. */
  readonly idleMs: number
  readonly checkIntervalMs: number
}

export const DEFAULT_TIMEOUTS: GatewayTimeouts = {
  headersMs: 20_000,
  requestMs: 120_000,
  keepAliveMs: 65_000,
  idleMs: 120_000,
  checkIntervalMs: 5_000,
}

/** Node's default, stated: request line plus headers, 16 KiB. */
const MAX_HEADER_BYTES = 16 * 1024

export async function createGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
  const maxHeaderSize = options.maxHeaderBytes ?? MAX_HEADER_BYTES
  const common = {
    loggerInstance: options.logger,
    // Request lines are ours (one at debug, below); fastify's own would double them.
    logController: new LogController({ disableRequestLogging: true }),
    // Nothing the gateway serves takes a large body; proxies with writes stream theirs.
    bodyLimit: 1024 * 1024,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: 0,
    keepAliveTimeout: timeouts.keepAliveMs,
    http2SessionTimeout: timeouts.idleMs,
    // Refusals written by the HTTP parser (bad request line, headers too large, too slow)
    // carry the error class's isolation headers like every other reply.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) =>
      answerClientError(options.plan, error, socket),
    // URLs the router cannot decode (`%c0%ae`, lone `%`) get the same JSON error and headers
    // as every other refusal, without echoing the URL.
    frameworkErrors: refuseUrl(options.plan) as never,
    return503OnClosing: true,
    forceCloseConnections: 'idle' as const,
    // Paths are compared after decoding by our own resolvers; keep fastify's defaults strict.
    routerOptions: {
      ignoreTrailingSlash: false,
      ignoreDuplicateSlashes: false,
      maxParamLength: 200,
    },
  }

  const app = (options.tls
    ? fastify({
        ...common,
        http2: true,
        https: {
          allowHTTP1: true,
          cert: options.tls.cert,
          key: options.tls.key,
          // Sane HTTP/2 stream limits: a browser opens at most a few hundred at once.
          settings: { maxConcurrentStreams: 256, maxHeaderListSize: maxHeaderSize },
          maxSessionMemory: 32,
        },
      })
    : fastify({
        ...common,
        // Slowloris: a client dripping header bytes is cut off after headersMs, not kept forever.
        http: {
          headersTimeout: timeouts.headersMs,
          connectionsCheckingInterval: timeouts.checkIntervalMs,
          maxHeaderSize,
        },
      })) as unknown as FastifyInstance
  if (options.tls) limitTlsServer(app, timeouts)

  registerPlanHook(app, options.plan)

  // One line per request at debug; quiet otherwise (style.md: logs are quiet by default).
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    )
  })

  app.setErrorHandler((error: FastifyError | IsogateError, request, reply) => {
    const failure = toIsogateError(error)
    const status = failure.status ?? 500
    if (status >= 500) {
      request.log.error(
        { err: error, url: request.url.split('?')[0], code: failure.code },
        'failed',
      )
    }
    setResponseClass(reply, 'error')
    if (reply.sent || reply.raw.headersSent) return
    reply.code(status).type('application/json; charset=utf-8').send(failure.toJSON())
  })

  app.setNotFoundHandler((request, reply) => {
    setResponseClass(reply, 'error')
    const failure = new IsogateError(
      'ISOGATE_E_STATIC_NOT_FOUND',
      `nothing is served at ${request.url.split('?')[0]}`,
    )
    reply.code(404).type('application/json; charset=utf-8').send(failure.toJSON())
  })

  for (const mount of options.mounts) {
    await app.register(mount.plugin, { prefix: mount.prefix === '/' ? '' : mount.prefix })
  }

  return app
}

/** Answers what the router refuses (a URL that does not decode) like any other error. */
function refuseUrl(plan: HeaderPlan) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    setResponseClass(reply, 'error')
    const failure =
      error.code === 'FST_ERR_ASYNC_CONSTRAINT'
        ? new IsogateError('ISOGATE_E_GATEWAY_INTERNAL', 'internal error', { cause: error })
        : new IsogateError('ISOGATE_E_GATEWAY_BAD_REQUEST', 'the URL does not decode', {
            hint: 'Percent-encode the path as UTF-8; segments are limited in length.',
          })
    request.log.debug({ code: error.code }, 'refused by the router')
    // The router refuses before any hook is set up, so the plan is applied here.
    reply.code(failure.status ?? 400)
    applyPlan(plan, reply)
    void reply.type('application/json; charset=utf-8').send(failure.toJSON())
  }
}

/**
 * The HTTP/2 server's HTTP/1.1 fallback gets no header or request deadline from fastify, and
 * `connectionTimeout: 0` leaves its sockets without an idle timer: a client that opens a TLS
 * connection and sends nothing, or drips a header byte now and then, would hold it forever.
 * An idle timer on every TLS socket bounds that (HTTP/2 sessions have their own).
 */
function limitTlsServer(app: FastifyInstance, timeouts: GatewayTimeouts): void {
  const server = app.server as unknown as {
    headersTimeout?: number
    requestTimeout?: number
    connectionsCheckingInterval?: number
    on(event: 'secureConnection', listener: (socket: Socket) => void): void
  }
  server.headersTimeout = timeouts.headersMs
  server.requestTimeout = timeouts.requestMs
  // Read when the server starts listening (the deadlines above are checked on this interval).
  server.connectionsCheckingInterval = timeouts.checkIntervalMs
  server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol === 'h2') return
    socket.setTimeout(Math.min(timeouts.idleMs, timeouts.keepAliveMs), () => socket.destroy())
  })
}

/** What the HTTP parser refused, as a status and a stable code. */
function clientErrorOf(error: NodeJS.ErrnoException): [number, IsogateError] {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const failure = new IsogateError('ISOGATE_E_GATEWAY_HEADERS_TOO_LARGE', 'headers too large')
    return [431, failure]
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const failure = new IsogateError('ISOGATE_E_GATEWAY_REQUEST_TIMEOUT', 'request too slow')
    return [408, failure]
  }
  return [400, new IsogateError('ISOGATE_E_GATEWAY_BAD_REQUEST', 'malformed HTTP request')]
}

/** Answers a request the parser refused, with the error class's headers, then closes. */
function answerClientError(plan: HeaderPlan, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, failure] = clientErrorOf(error)
  if (socket.writable) {
    const body = JSON.stringify(failure.toJSON())
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      ...headersFor(plan, 'error', status).map(([name, value]) => `${name}: ${value}`),
    ]
    socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
  }
  // A client that never reads the answer must not keep the socket.
  setTimeout(() => socket.destroy(), 1_000).unref()
}

/** Maps whatever was thrown onto an IsogateError with a status and a stable code. */
export function toIsogateError(error: unknown): IsogateError {
  if (isIsogateError(error)) return error
  const fastifyError = error as Partial<FastifyError>
  const status = fastifyError.statusCode
  if (status === 413) {
    return new IsogateError('ISOGATE_E_GATEWAY_TOO_LARGE', 'request body too large', {
      cause: error,
    })
  }
  if (status === 415 || status === 400) {
    return new IsogateError('ISOGATE_E_DICOM_BAD_REQUEST', fastifyError.message ?? 'bad request', {
      cause: error,
    })
  }
  return new IsogateError('ISOGATE_E_GATEWAY_INTERNAL', 'internal error', { cause: error })
}

/**
 * The routes of a proxied or fronted source: every path under the mount, forwarded to the
 * upstream root. Replies go out through `reply.send(stream)`, so the gateway's one header hook
 * applies the plan to them like to any other reply; bodies stream both ways.
 */
import { PassThrough, pipeline, type Readable, type Transform } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'

import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { IsogateError, isIsogateError } from '../../errors.js'
import { setResponseClass } from '../../http/response-class.js'
import type { Logger } from '../../log.js'
import type { CorsPolicy } from '../../policy/cors.js'
import { answerPreflight, checkOrigin, registerCors } from './front.js'
import { filterResponseHeaders, forwardRequestHeaders, weakenEtag } from './headers.js'
import { boundaryOf, MultipartRewriter } from './multipart.js'
import { repairStudyList } from './qido-repair.js'
import { seriesModalities, splitIncludefield, type RepairName } from './repairs.js'
import { isRewritable, mappingsFor, rewriteValue, UrlRewriter, type UrlMapping } from './rewrite.js'
import { resolveTarget, resourceKind, rootPath, upstreamUrl } from './target.js'
import type { Upstream, UpstreamResponse } from './upstream.js'
import { upstreamFailure } from './upstream.js'

export interface ProxyPluginOptions {
  readonly name: string
  readonly upstream: Upstream
  readonly mountPath: string
  readonly publicOrigin: () => string
  readonly repairs: Readonly<Record<RepairName, boolean>>
  readonly writeMethods: readonly string[]
  /** Present in front mode: CORS for these origins, preflights answered here. */
  readonly cors: CorsPolicy | undefined
  readonly logger: Logger
  /** Called with each upstream outcome, for the source's status. */
  readonly report: (error: IsogateError | undefined) => void
}

/** Methods routed to the source; others get fastify's 404 like any unknown route. */
const ROUTED = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const

/** Bodies of series lookups for the modalities repair are tiny; anything bigger is ignored. */
const LOOKUP_BODY_LIMIT = 1024 * 1024

export function proxyPlugin(options: ProxyPluginOptions): FastifyPluginAsync {
  const { upstream, mountPath, logger } = options
  const allowed = new Set(['GET', 'HEAD', ...options.writeMethods])
  if (options.cors) allowed.add('OPTIONS')
  const logged = new Set<RepairName>()
  const noteRepair = (repair: RepairName, detail: Record<string, unknown>) => {
    if (logged.has(repair)) return
    logged.add(repair)
    logger.info({ repair, ...detail }, `repair ${repair} applied (logged once per source)`)
  }

  const mappings = (response: UpstreamResponse): UrlMapping[] =>
    mappingsFor(
      response.root.origin,
      rootPath(response.root),
      `${options.publicOrigin()}${mountPath}`,
    )

  /** The error a browser sees: names the source, never the upstream's internal address. */
  const publicFailure = (internal: IsogateError): IsogateError => {
    options.report(internal)
    logger.warn(
      {
        upstream: internal.details?.upstream,
        code: internal.code,
        reason: internal.details?.reason,
      },
      internal.message,
    )
    const what = {
      ISOGATE_E_PROXY_TIMEOUT: 'timed out',
      ISOGATE_E_PROXY_UNREACHABLE: 'is unreachable',
    } as Record<string, string>
    return new IsogateError(
      internal.code,
      `the upstream of source "${options.name}" ${what[internal.code] ?? 'sent a broken reply'}`,
      { details: { source: options.name, reason: internal.details?.reason } },
    )
  }

  const lookupModalities = (request: FastifyRequest, headers: Record<string, string>) => {
    return async (studyUid: string): Promise<readonly string[] | undefined> => {
      const signal = AbortSignal.timeout(10_000)
      const response = await upstream.request({
        method: 'GET',
        url: (root) =>
          upstreamUrl(root, {
            rest: `/studies/${studyUid}/series`,
            query: 'includefield=00080060',
          }),
        headers: { accept: 'application/dicom+json', ...pick(headers, 'authorization') },
        signal,
      })
      if (response.statusCode !== 200) {
        response.body.resume()
        return undefined
      }
      let size = 0
      const chunks: Buffer[] = []
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > LOOKUP_BODY_LIMIT) return undefined
        chunks.push(chunk)
      }
      request.log.debug({ studyUid }, 'series looked up for ModalitiesInStudy')
      return seriesModalities(JSON.parse(Buffer.concat(chunks).toString('utf8')))
    }
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    setResponseClass(reply, 'dicomweb')
    const target = resolveTarget(request.raw.url ?? '', mountPath)
    const kind = resourceKind(target.rest)
    if (kind === 'rendered') setResponseClass(reply, 'rendered')

    if (request.method === 'OPTIONS' && options.cors) {
      return answerPreflight(options.cors, request, reply)
    }
    if (!allowed.has(request.method)) {
      reply.header('Allow', [...allowed].join(', '))
      throw new IsogateError('ISOGATE_E_PROXY_METHOD', `${request.method} is not allowed here`)
    }
    if (options.cors) checkOrigin(options.cors, request)

    let query = target.query
    if (options.repairs.splitIncludefield) {
      const split = splitIncludefield(query)
      if (split.changed) noteRepair('splitIncludefield', { path: target.rest })
      query = split.query
    }

    const controller = new AbortController()
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort()
    })
    const withBody = request.method !== 'GET' && request.method !== 'HEAD'
    const headers = forwardRequestHeaders(request.headers, {
      publicOrigin: options.publicOrigin(),
      clientAddress: request.ip,
      withBody,
      dropRange: kind === 'qido' || kind === 'qido-studies' || kind === 'metadata',
    })

    // GET and HEAD over a pool: a reply whose upstream fails before its first byte reached the
    // client is asked of the next member once (nothing of it has been sent on yet).
    const retryable = !withBody && upstream.members.length > 1
    let forwarded = await forward(request, target.rest, query, kind, headers, controller)
    if (retryable && forwarded.stream && !(await firstOutput(forwarded.stream))) {
      if (controller.signal.aborted) return reply
      request.log.debug('upstream failed before the first byte; asking the next member')
      forwarded = await forward(request, target.rest, query, kind, headers, controller)
    }
    if (controller.signal.aborted && !forwarded.stream) return reply

    reply.code(forwarded.statusCode)
    for (const [name, value] of Object.entries(forwarded.headers)) reply.header(name, value)
    if (!forwarded.stream) return reply.send()
    return reply.send(forwarded.stream)
  }

  /** What one exchange with the upstream gives: status, headers, and the body to send. */
  interface Forwarded {
    readonly statusCode: number
    readonly headers: Record<string, string | string[]>
    /** Undefined when the reply has no body (HEAD, 204, 304). */
    readonly stream: Readable | undefined
  }

  async function forward(
    request: FastifyRequest,
    rest: string,
    query: string,
    kind: ReturnType<typeof resourceKind>,
    headers: Record<string, string>,
    controller: AbortController,
  ): Promise<Forwarded> {
    const withBody = request.method !== 'GET' && request.method !== 'HEAD'
    let response: UpstreamResponse
    try {
      response = await upstream.request({
        method: request.method,
        url: (root) => upstreamUrl(root, { rest, query }),
        headers,
        body: withBody ? (request.body as Readable | undefined) : undefined,
        signal: controller.signal,
      })
    } catch (error) {
      if (controller.signal.aborted) return { statusCode: 499, headers: {}, stream: undefined }
      throw publicFailure(upstreamFailure(error, upstream.roots[0] as URL))
    }
    options.report(undefined)

    const out = filterResponseHeaders(response.headers)
    const map = mappings(response)
    for (const name of ['location', 'content-location', 'link']) {
      const value = out[name]
      if (typeof value === 'string') out[name] = rewriteValue(value, map)
    }
    const contentType = typeof out['content-type'] === 'string' ? out['content-type'] : undefined
    const boundary = /^\s*multipart\//i.test(contentType ?? '')
      ? boundaryOf(contentType)
      : undefined
    const rewrite = isRewritable(contentType) || boundary !== undefined
    if (rewrite) {
      delete out['content-length']
      if (typeof out.etag === 'string') out.etag = weakenEtag(out.etag)
    }

    const noBody =
      request.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304
    let body: Readable = response.body
    if (rewrite && !noBody) {
      const encoding = String(out['content-encoding'] ?? 'identity').toLowerCase()
      const inflate = decoderFor(encoding)
      if (inflate) {
        delete out['content-encoding']
        body = pipeline(body, inflate, () => undefined)
      }
      if (
        kind === 'qido-studies' &&
        options.repairs.emptyModalities &&
        request.method === 'GET' &&
        response.statusCode === 200
      ) {
        const repaired = await repairStudyList(body, lookupModalities(request, headers)).catch(
          (error: unknown) => {
            throw publicFailure(upstreamFailure(error, response.root))
          },
        )
        if (repaired.changed > 0) noteRepair('emptyModalities', { studies: repaired.changed })
        body = repaired.body
      }
    }

    if (noBody) {
      response.body.resume()
      return { statusCode: response.statusCode, headers: out, stream: undefined }
    }
    const transform = boundary
      ? new MultipartRewriter(boundary, map)
      : rewrite
        ? new UrlRewriter(map)
        : new PassThrough()
    // An upstream failure mid-body ends the stream with the source's public error: a reply not
    // started yet becomes that JSON error (502/504, isolation headers); one under way is cut.
    const stream = relay(body, transform, controller.signal, (error) =>
      publicFailure(upstreamFailure(error, response.root)),
    )
    return { statusCode: response.statusCode, headers: out, stream }
  }

  return async (app) => {
    // Bodies (STOW) stream through untouched; nothing here parses them.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
    if (options.cors) registerCors(app, options.cors)

    app.setErrorHandler((error: FastifyError | IsogateError, request, reply) => {
      const failure = isIsogateError(error)
        ? error
        : new IsogateError('ISOGATE_E_GATEWAY_INTERNAL', 'internal error', { cause: error })
      if (!isIsogateError(error)) request.log.error({ err: error }, 'proxy route failed')
      if (reply.sent || reply.raw.headersSent) return
      reply
        .code(failure.status ?? 500)
        .type('application/json; charset=utf-8')
        .send(failure.toJSON())
    })

    const route = { method: [...ROUTED], exposeHeadRoute: false, handler: handle }
    app.route({ ...route, url: '/', config: { responseClass: 'dicomweb' } })
    app.route({ ...route, url: '/*', config: { responseClass: 'dicomweb' } })
  }
}

function pick(headers: Record<string, string>, name: string): Record<string, string> {
  return headers[name] === undefined ? {} : { [name]: headers[name] as string }
}

function decoderFor(encoding: string) {
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip()
  if (encoding === 'deflate') return createInflate()
  if (encoding === 'br') return createBrotliDecompress()
  return undefined
}

/**
 * Resolves true once `stream` has output to give (or has ended), false when it closes first
 * (its upstream failed before a byte came through). Reads nothing: the bytes stay buffered for
 * whoever pipes the stream next.
 */
function firstOutput(stream: Readable): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (ok: boolean) => {
      stream.off('readable', onReadable)
      stream.off('close', onClose)
      resolve(ok)
    }
    const onReadable = () => settle(true)
    const onClose = () => settle(false)
    stream.on('readable', onReadable)
    stream.on('close', onClose)
  })
}

/**
 * Pipes the upstream body through `out`. An upstream failure mid-body is reported once and
 * destroys `out` with the source's public error: a reply not started becomes that error, one
 * under way is cut short (the client sees a truncated body). A client that goes away stops the
 * upstream, and is no fault of it.
 */
function relay(
  body: Readable,
  out: Transform,
  clientGone: AbortSignal,
  onUpstreamError: (error: unknown) => Error,
): Readable {
  let failed = false
  body.on('error', (error) => {
    // A client that went away aborts the upstream body: that is no fault of the upstream.
    if (clientGone.aborted || out.destroyed) {
      failed = true
      out.destroy()
      return
    }
    if (failed) return
    failed = true
    out.destroy(onUpstreamError(error))
  })
  // Whoever sends `out` (fastify) hears of its error too; this keeps an error raised before
  // that from going unhandled.
  out.on('error', () => undefined)
  out.on('close', () => {
    if (!body.destroyed) body.destroy()
  })
  body.pipe(out)
  return out
}

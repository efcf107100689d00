/**
 * Serving a viewer build: each file with its response class (so the gateway's plan hook adds the
 * right headers), hashed names cached for a year, the rest revalidated, precompressed `.br`/`.gz`
 * siblings when the client takes them, the generated app-config.js, and index.html for the
 * viewer's client-side routes. A small streaming handler rather than @fastify/static: the class
 * and cache depend on each file, a base path swaps some files for rewritten copies from another
 * folder, and a miss must become either index.html or a JSON error, never a plain 404.
 */
import { createReadStream, type Stats } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { IsogateError } from '../errors.js'
import { setResponseClass } from '../http/response-class.js'
import type { HeaderPlan } from '../policy/plan.js'
import { classOfViewerFile, contentTypeOf, isHashedName, isNavigation } from './classify.js'
import { CODINGS, CompressedCopies, isCompressible, type Coding } from './compressed-copies.js'
import type { RewrittenCopies } from './rewritten-copies.js'
import { viewerPathOf } from './safe-path.js'

export interface ViewerPluginOptions {
  /** Absolute folder of the build. */
  readonly root: string
  /** Where the viewer is served, starting and ending with `/`. */
  readonly basePath: string
  /** The generated app-config.js, served instead of the build's own. */
  readonly appConfig: string
  readonly plan: HeaderPlan
  readonly copies: RewrittenCopies
  /**
   * Paths below the base path that belong to others (data sources, the status page): a miss
   * there is a 404, never the SPA fallback. Each ends with `/`.
   */
  readonly reserved: readonly string[]
  /**
   * Where compressed copies of text assets are made (compressed-copies.ts). When absent, they go
   * in the state folder that holds the base-path copies.
   */
  readonly compressed?: CompressedCopies
}

/** Large files are read in big pieces: fewer thread-pool round trips and socket writes. */
const LARGE_FILE = 1024 * 1024
const LARGE_READ = 512 * 1024

const ENCODINGS: ReadonlyArray<readonly [token: string, suffix: string]> = [
  ['br', '.br'],
  ['gzip', '.gz'],
]

/** The fastify plugin; register it without a prefix (its routes carry the base path). */
export function viewerPlugin(options: ViewerPluginOptions): FastifyPluginAsync {
  const { basePath } = options
  return async (app) => {
    const compressed =
      options.compressed ??
      // The copies' folder is <stateDir>/viewer-base-path/<key>: the only way the state folder
      // reaches this plugin from startGateway.
      new CompressedCopies(dirname(dirname(options.copies.dir)), (error, file) =>
        app.log.warn({ err: error, file }, 'compressed copy not made; the file is sent as is'),
      )
    if (!options.compressed) app.addHook('onClose', async () => await compressed.close())
    const serving = { ...options, compressed }
    app.route({
      method: ['GET', 'HEAD'],
      url: `${basePath}*`,
      handler: async (request, reply) => await serveViewerPath(serving, request, reply),
    })
    if (basePath !== '/') {
      // `/viewer` → `/viewer/`: relative URLs in the app only resolve below the slash.
      app.route({
        method: ['GET', 'HEAD'],
        url: basePath.slice(0, -1),
        handler: async (request, reply) => {
          setResponseClass(reply, 'document')
          const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : ''
          return reply.redirect(`${basePath}${query}`, 308)
        },
      })
    }
  }
}

type Serving = ViewerPluginOptions & { readonly compressed: CompressedCopies }

async function serveViewerPath(
  options: Serving,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const rawPath = request.url.split('?')[0] ?? ''
  const verdict = viewerPathOf(rawPath, options.basePath)
  if (verdict.kind === 'forbidden') {
    throw new IsogateError(
      'ISOGATE_E_STATIC_FORBIDDEN_PATH',
      `refused path ${JSON.stringify(rawPath)}: ${verdict.reason}`,
    )
  }
  if (verdict.kind === 'hidden') throw notFound(rawPath)

  const relPath = verdict.relPath === '' ? 'index.html' : verdict.relPath
  if (relPath === 'app-config.js') {
    setResponseClass(reply, 'app-config')
    return reply.type('text/javascript; charset=utf-8').send(options.appConfig)
  }

  const found = await regularFile(options.root, relPath)
  if (found) return await sendFile(options, request, reply, relPath, found)

  const reserved = options.reserved.some((prefix) => relPath.startsWith(prefix))
  if (!reserved && isNavigation(relPath, request.headers)) {
    const index = await regularFile(options.root, 'index.html')
    if (index) return await sendFile(options, request, reply, 'index.html', index)
  }
  throw notFound(rawPath)
}

function notFound(rawPath: string): IsogateError {
  return new IsogateError('ISOGATE_E_STATIC_NOT_FOUND', `no file at ${rawPath}`)
}

interface FoundFile {
  readonly path: string
  readonly stats: Stats
}

async function regularFile(root: string, relPath: string): Promise<FoundFile | undefined> {
  const path = join(root, relPath)
  // viewerPathOf already refused every way out; this guards against a mistake there.
  if (!path.startsWith(root + sep)) return undefined
  try {
    const stats = await stat(path)
    if (!stats.isFile()) return undefined
    return (await insideRealRoot(root, path)) ? { path, stats } : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether a path's real location is inside the root's: a symlink in the build (or a folder on
 * the way) must not lead out of it; a link to /etc/passwd or a sibling folder is not the viewer.
 */
async function insideRealRoot(root: string, path: string): Promise<boolean> {
  try {
    const [real, realRoot] = await Promise.all([realpath(path), realRootOf(root)])
    return real.startsWith(realRoot + sep)
  } catch {
    return false
  }
}

const realRoots = new Map<string, Promise<string>>()

/** The root's real path, resolved once per root. */
function realRootOf(root: string): Promise<string> {
  let real = realRoots.get(root)
  if (real === undefined) {
    real = realpath(root)
    realRoots.set(root, real)
  }
  return real
}

async function sendFile(
  options: Serving,
  request: FastifyRequest,
  reply: FastifyReply,
  relPath: string,
  file: FoundFile,
): Promise<FastifyReply> {
  const responseClass = classOfViewerFile(relPath)
  setResponseClass(reply, responseClass)

  let bodyPath = file.path
  let size = file.stats.size
  let mtimeMs = file.stats.mtimeMs
  let tag = `${file.stats.size.toString(36)}-${Math.trunc(file.stats.mtimeMs).toString(36)}`
  const accepted = acceptedEncodings(request.headers['accept-encoding'])

  const copy = options.copies.idle ? undefined : await options.copies.copyFor(relPath, file.stats)
  let encoded: Precompressed = { any: false, chosen: null }
  if (copy) {
    bodyPath = copy.path
    size = copy.size
    // A fresh rewrite has a new mtime; its compressed copies are keyed by it.
    mtimeMs = (await stat(copy.path)).mtimeMs
    tag += `-${options.basePath.length.toString(36)}${size.toString(36)}`
  } else {
    encoded = await precompressed(options.root, file.path, accepted)
  }
  if (encoded.any) {
    reply.header('Vary', 'Accept-Encoding')
    if (encoded.chosen) {
      bodyPath = encoded.chosen.path
      size = encoded.chosen.size
      tag += `-${encoded.chosen.token}`
      reply.header('Content-Encoding', encoded.chosen.token)
    }
  } else if (isCompressible(relPath, size)) {
    // The build ships no siblings: our own copy, once made (the raw file until then).
    reply.header('Vary', 'Accept-Encoding')
    const coding = preferredCoding(accepted)
    const made = coding
      ? await options.compressed.copyFor({ path: bodyPath, size, mtimeMs }, coding)
      : undefined
    if (made) {
      bodyPath = made.path
      size = made.size
      tag += `-${made.coding}`
      reply.header('Content-Encoding', made.coding)
    }
  }

  // document and app-config get no-store/no-cache from the plan itself.
  if (responseClass !== 'document' && responseClass !== 'app-config') {
    const { hashedAssetCache, assetCache } = options.plan
    reply.header('Cache-Control', isHashedName(relPath) ? hashedAssetCache : assetCache)
  }
  const etag = `W/"${tag}"`
  reply.header('ETag', etag)
  reply.header('Last-Modified', file.stats.mtime.toUTCString())
  reply.type(contentTypeOf(relPath))

  if (request.headers['if-none-match'] === etag) return reply.code(304).send()
  reply.header('Content-Length', String(size))
  if (request.method === 'HEAD') return reply.send()
  return reply.send(
    createReadStream(bodyPath, size >= LARGE_FILE ? { highWaterMark: LARGE_READ } : {}),
  )
}

/** The first of our codings the client takes (brotli before gzip), if any. */
function preferredCoding(accepted: ReadonlySet<string>): Coding | undefined {
  return CODINGS.find((coding) => accepted.has(coding))
}

interface Precompressed {
  /** True when any precompressed sibling exists: the reply then varies with Accept-Encoding. */
  readonly any: boolean
  readonly chosen: { readonly token: string; readonly path: string; readonly size: number } | null
}

async function precompressed(
  root: string,
  path: string,
  accepted: ReadonlySet<string>,
): Promise<Precompressed> {
  let any = false
  let chosen: Precompressed['chosen'] = null
  for (const [token, suffix] of ENCODINGS) {
    const sibling = await stat(path + suffix).catch(() => undefined)
    if (!sibling?.isFile()) continue
    // A sibling is sent in place of the file: it must not lead out of the build either.
    if (!(await insideRealRoot(root, path + suffix))) continue
    any = true
    if (!chosen && accepted.has(token)) chosen = { token, path: path + suffix, size: sibling.size }
  }
  return { any, chosen }
}

/** Codings the client accepts (q > 0); `*` is not expanded, browsers always list them. */
function acceptedEncodings(header: string | string[] | undefined): Set<string> {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '')
  const accepted = new Set<string>()
  for (const part of value.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (!name) continue
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    if (q !== undefined && Number(q.slice(2)) <= 0) continue
    accepted.add(name)
  }
  return accepted
}

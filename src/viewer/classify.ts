/**
 * What each file of a viewer build is, for the header plan: its response class, whether its
 * name carries a content hash (long immutable caching), and its media type. Pure.
 */
import type { ResponseClass } from '../policy/plan.js'

/**
 * Scripts started as dedicated workers. A worker takes its embedder policy from its own script
 * response (browser-rules R-SUB-6), so they are a class of their own. OHIF 3.13 names its
 * cornerstone workers `<name>.bundle.<hash>.js`; other builds and libraries use `*.worker.js`.
 */
const WORKER_BUNDLES = /^(?:histogram-worker|compute|interpolation|polySeg)\.bundle\.[0-9a-f]+\.js$/
const WORKER_SUFFIX = /\.worker(?:\.min)?\.m?js$/

/** webpack's `[contenthash]` names: `12.bundle.<hash>.js`, `<hash>.wasm`, `<hash>.woff2`. */
const HASHED = /(?:^|\.)[0-9a-f]{16,64}\.[a-z0-9]+$/

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  jsonc: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
  webmanifest: 'application/manifest+json; charset=utf-8',
  // Streaming compilation refuses any other type (browser-rules WASM_MIME_INVALID).
  wasm: 'application/wasm',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  ico: 'image/x-icon',
  webp: 'image/webp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  txt: 'text/plain; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  pdf: 'application/pdf',
}

function baseName(relPath: string): string {
  return relPath.slice(relPath.lastIndexOf('/') + 1)
}

/** The extension of the last path segment, lower-cased, or '' when it has none. */
export function extensionOf(relPath: string): string {
  const name = baseName(relPath)
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : ''
}

/** The response class of a viewer file, by its path relative to the build root. */
export function classOfViewerFile(relPath: string): ResponseClass {
  const name = baseName(relPath)
  if (relPath === 'app-config.js') return 'app-config'
  if (WORKER_BUNDLES.test(name) || WORKER_SUFFIX.test(name) || relPath === 'sw.js') return 'worker'
  switch (extensionOf(name)) {
    case 'html':
      return 'document'
    case 'js':
    case 'mjs':
      return 'script'
    case 'wasm':
      return 'wasm'
    default:
      return 'static'
  }
}

/** True when the file name carries a content hash, so its bytes never change under that name. */
export function isHashedName(relPath: string): boolean {
  return HASHED.test(baseName(relPath))
}

/** The Content-Type of a viewer file; unknown kinds are plain bytes. */
export function contentTypeOf(relPath: string): string {
  return TYPES[extensionOf(relPath)] ?? 'application/octet-stream'
}

/**
 * Whether a request that matched no file is a navigation, which gets index.html (SPA fallback):
 * OHIF's routes (`/viewer`, `/tmtv`, `/segmentation`) exist only in the client. Browsers say so
 * in Sec-Fetch-Dest; without it, a path without extension or an Accept naming text/html counts.
 * A missing script, worker or wasm must stay a 404: HTML in its place fails far less clearly.
 */
export function isNavigation(relPath: string, headers: Record<string, unknown>): boolean {
  const dest = headers['sec-fetch-dest']
  if (typeof dest === 'string' && dest !== '') {
    return dest === 'document' || dest === 'iframe' || dest === 'frame'
  }
  const accept = typeof headers.accept === 'string' ? headers.accept : ''
  return extensionOf(relPath) === '' || /(?:^|[\s,])text\/html(?:[\s;,]|$)/i.test(accept)
}

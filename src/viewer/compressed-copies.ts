/**
 * Compressed copies of the viewer's text assets, for builds that ship no `.br`/`.gz` siblings
 * (the bundled OHIF ships none). A copy is made once per file and coding, in the background, in
 * the state folder, and reused across runs: the largest OHIF bundle is 17 MB as sent and 2.9 MB
 * as brotli, which is what a browser on a real link waits for.
 *
 * Until a copy is ready the raw file is served, so no request ever waits for compression and a
 * copy that cannot be written (read-only or full state folder) costs nothing but the saving.
 * Copies are keyed by the file's absolute path, size and mtime (an updated build gets new ones)
 * and written under a temporary name, then renamed, so a reader never sees half a copy. Builds
 * run one at a time on zlib's asynchronous (thread pool) side: the event loop never compresses,
 * and at most one of libuv's threads is taken from the file reads that serve other requests.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { constants, createBrotliCompress, createGzip } from 'node:zlib'

/** The content codings a copy is made in, in the order a client's choice is tried. */
export const CODINGS = ['br', 'gzip'] as const
export type Coding = (typeof CODINGS)[number]

export interface CompressedCopy {
  readonly coding: Coding
  readonly path: string
  readonly size: number
}

export interface SourceFile {
  /** Absolute path of what would otherwise be sent (the build's file or its base-path copy). */
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

/** Extensions worth compressing: text, and wasm (about 3× smaller). Images and fonts are not. */
const COMPRESSIBLE = new Set(['js', 'mjs', 'css', 'json', 'map', 'html', 'svg', 'wasm'])

/** Below this the headers outweigh the saving. */
const MIN_BYTES = 1024

/**
 * Brotli quality 5: the 17 MB OHIF bundle in ~0.5 s of one core to 2.9 MB; quality 11 saves
 * another ~10 % for about 60× the time, which a first visitor's load would compete with on a
 * small machine. gzip at its default level, for clients without brotli.
 */
const BROTLI_QUALITY = 5

/** Read size for building copies: large reads mean fewer thread-pool round trips. */
const READ_CHUNK = 1024 * 1024

/** True when `relPath` (a path in the build) is of a kind that gets compressed copies. */
export function isCompressible(relPath: string, size: number): boolean {
  if (size < MIN_BYTES) return false
  const name = relPath.slice(relPath.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  return dot > 0 && COMPRESSIBLE.has(name.slice(dot + 1).toLowerCase())
}

/** What is known of one copy: ready, being made, or not worth having (or not writable). */
type Known = CompressedCopy | 'building' | 'none'

export class CompressedCopies {
  readonly dir: string
  readonly #known = new Map<string, Known>()
  readonly #probes = new Map<string, Promise<CompressedCopy | undefined>>()
  /** The tail of the build queue: builds run one after the other. */
  #queue: Promise<unknown> = Promise.resolve()
  /** Stops the build under way when the gateway closes, so nothing writes after that. */
  readonly #stop = new AbortController()

  constructor(
    stateDir: string,
    private readonly onError: (error: unknown, file: string) => void = () => undefined,
  ) {
    this.dir = join(stateDir, 'viewer-compressed')
  }

  /**
   * The ready copy of `file` in `coding`, or undefined: then the raw file is to be sent, and
   * the copy is being made (or is known not to be worth making). The first request after a
   * restart finds copies from earlier runs on disk; concurrent first requests share one look.
   */
  async copyFor(file: SourceFile, coding: Coding): Promise<CompressedCopy | undefined> {
    const key = this.#keyOf(file, coding)
    const known = this.#known.get(key)
    if (known !== undefined) return typeof known === 'string' ? undefined : known
    let probe = this.#probes.get(key)
    if (probe === undefined) {
      probe = this.#probe(key, file, coding).finally(() => this.#probes.delete(key))
      this.#probes.set(key, probe)
    }
    return await probe
  }

  /** Stops the build under way and drops those queued; resolves once nothing writes. */
  async close(): Promise<void> {
    this.#stop.abort()
    await this.idle()
  }

  /** Resolves when every build queued so far is done (for tests and the bench). */
  async idle(): Promise<void> {
    let tail
    do {
      tail = this.#queue
      await tail
    } while (tail !== this.#queue)
  }

  #keyOf(file: SourceFile, coding: Coding): string {
    const name = createHash('sha256').update(file.path).digest('hex').slice(0, 32)
    return join(this.dir, `${name}.${file.size}-${Math.trunc(file.mtimeMs)}.${coding}`)
  }

  async #probe(key: string, file: SourceFile, coding: Coding) {
    const [copy, same] = await Promise.all([statOrUndefined(key), statOrUndefined(`${key}.same`)])
    if (copy?.isFile()) {
      const found: CompressedCopy = { coding, path: key, size: copy.size }
      this.#known.set(key, found)
      return found
    }
    if (same) {
      this.#known.set(key, 'none')
      return undefined
    }
    this.#known.set(key, 'building')
    const build = this.#queue.then(() => this.#build(key, file, coding))
    this.#queue = build.then(
      (made) => this.#known.set(key, made ?? 'none'),
      (error: unknown) => {
        // Not retried until restart: a state folder that refused one copy will refuse more.
        this.#known.set(key, 'none')
        if (!this.#stop.signal.aborted) this.onError(error, file.path)
      },
    )
    return undefined
  }

  async #build(key: string, file: SourceFile, coding: Coding): Promise<CompressedCopy | undefined> {
    if (this.#stop.signal.aborted) return undefined
    await mkdir(this.dir, { recursive: true })
    const temp = `${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
    try {
      await pipeline(
        createReadStream(file.path, { highWaterMark: READ_CHUNK }),
        coding === 'br' ? brotli(file) : createGzip(),
        createWriteStream(temp),
        { signal: this.#stop.signal },
      )
      const [written, source] = await Promise.all([stat(temp), stat(file.path)])
      // Changed while being read: this copy would not match the key it is stored under.
      if (source.size !== file.size || Math.trunc(source.mtimeMs) !== Math.trunc(file.mtimeMs)) {
        await unlink(temp)
        return undefined
      }
      // Already compressed content: keep sending it as it is, and remember that.
      if (written.size >= file.size * 0.95) {
        await unlink(temp)
        await writeFile(`${key}.same`, '')
        return undefined
      }
      await rename(temp, key)
      return { coding, path: key, size: written.size }
    } catch (error) {
      await unlink(temp).catch(() => undefined)
      throw error
    }
  }
}

function brotli(file: SourceFile) {
  const text = !file.path.toLowerCase().endsWith('.wasm')
  return createBrotliCompress({
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: file.size,
      [constants.BROTLI_PARAM_MODE]: text
        ? constants.BROTLI_MODE_TEXT
        : constants.BROTLI_MODE_GENERIC,
    },
  })
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path)
  } catch {
    return undefined
  }
}

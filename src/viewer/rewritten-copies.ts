/**
 * Rewritten copies of the viewer files that a base path changes, kept in the state folder and
 * reused across runs. A copy is keyed by the build folder and base path (its directory) and by
 * the source file's size and mtime (its name), so an updated build is rewritten again, and the
 * build itself is never edited. Each file is examined once, on its first request.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'

import { RewriteStream, rewriteRulesFor } from './rewrite.js'

export interface SourceFileInfo {
  readonly size: number
  readonly mtimeMs: number
}

export interface RewrittenCopy {
  readonly path: string
  readonly size: number
}

export class RewrittenCopies {
  readonly dir: string
  readonly #pending = new Map<string, Promise<RewrittenCopy | undefined>>()

  constructor(
    private readonly root: string,
    private readonly basePath: string,
    stateDir: string,
  ) {
    const key = createHash('sha256').update(`${root}\0${basePath}`).digest('hex').slice(0, 16)
    this.dir = join(stateDir, 'viewer-base-path', key)
  }

  /** True when no file can need a copy (the viewer is served at `/`). */
  get idle(): boolean {
    return this.basePath === '/'
  }

  /**
   * The rewritten copy to serve instead of `relPath`, or undefined when the file needs no
   * change. Concurrent first requests for one file share a single rewrite.
   */
  async copyFor(relPath: string, source: SourceFileInfo): Promise<RewrittenCopy | undefined> {
    const rules = rewriteRulesFor(relPath, this.basePath)
    if (rules.length === 0) return undefined
    const stem = join(this.dir, `${relPath}.${source.size}-${Math.trunc(source.mtimeMs)}`)
    let pending = this.#pending.get(stem)
    if (!pending) {
      pending = this.#ensure(relPath, stem)
      this.#pending.set(stem, pending)
      // A failed rewrite is retried on the next request rather than remembered.
      pending.catch(() => this.#pending.delete(stem))
    }
    return await pending
  }

  async #ensure(relPath: string, stem: string): Promise<RewrittenCopy | undefined> {
    const copy = `${stem}.rw`
    const same = `${stem}.same`
    const existing = await statOrUndefined(copy)
    if (existing) return { path: copy, size: existing.size }
    if (await statOrUndefined(same)) return undefined

    await mkdir(dirname(stem), { recursive: true })
    const temp = `${stem}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
    const rewriter = new RewriteStream(rewriteRulesFor(relPath, this.basePath))
    try {
      await pipeline(createReadStream(join(this.root, relPath)), rewriter, createWriteStream(temp))
    } catch (error) {
      await unlink(temp).catch(() => undefined)
      throw error
    }
    if (rewriter.count === 0) {
      await unlink(temp)
      await writeFile(same, '')
      return undefined
    }
    await rename(temp, copy)
    const written = await stat(copy)
    return { path: copy, size: written.size }
  }
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path)
  } catch {
    return undefined
  }
}

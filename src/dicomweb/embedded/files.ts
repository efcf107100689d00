/**
 * Reading byte ranges of indexed files for replies: at most `maxOpen` reads run at once (others
 * wait their turn), each range is read in chunks, and a file that changed since it was indexed
 * is refused rather than served with wrong offsets.
 *
 * Handles stay open for a few seconds after a read: a viewer asks for the frames of one file
 * after another and often for the same file twice (thumbnail, then viewport), and an open and a
 * close are two of the thread pool's round trips per frame. A handle is kept for one indexed
 * version of a file (path, size, mtime) and checked against it when opened, so a file replaced
 * since is never read through a handle of the old one.
 */
import { open, stat, type FileHandle } from 'node:fs/promises'

import type { Range } from '../dicom/frames.js'

/** A 512×512×16-bit frame in one read; larger values are read in pieces of this size. */
const CHUNK = 512 * 1024

/** Handles kept open while unused, at most, and for how long. */
const KEPT_HANDLES = 32
const KEEP_MS = 5_000

/** A file changed or vanished after indexing. */
export class StaleFile extends Error {
  override readonly name = 'StaleFile'
}

/** An indexed file: where it is and what it was when indexed. */
export interface IndexedFile {
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

interface Kept {
  readonly handle: FileHandle
  users: number
  idleSince: number
}

export class FileReader {
  private open = 0
  private readonly waiting: Array<() => void> = []
  private readonly kept = new Map<string, Promise<Kept>>()
  private sweeper: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly maxOpen = 64) {}

  private async acquire(): Promise<void> {
    if (this.open < this.maxOpen) {
      this.open++
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  private release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.open--
  }

  /** Reads in progress right now (for the status page and the memory benchmark). */
  get openFiles(): number {
    return this.open
  }

  /** Throws StaleFile unless the file still has the indexed size and modification time. */
  async check(path: string, size: number, mtimeMs: number): Promise<void> {
    try {
      const now = await stat(path)
      if (now.size === size && now.mtimeMs === mtimeMs) return
    } catch {
      // Vanished: same answer as changed.
    }
    throw new StaleFile(`${path} changed since it was indexed`)
  }

  /**
   * Yields the bytes of `ranges` of `file` in order. `swap` reverses each value of that many
   * bytes (big-endian native pixel data sent as little endian).
   */
  async *read(file: IndexedFile, ranges: readonly Range[], swap = 0): AsyncGenerator<Buffer> {
    await this.acquire()
    let kept: Kept | undefined
    try {
      kept = await this.handleFor(file)
      for (const [offset, length] of ranges) {
        let done = 0
        while (done < length) {
          // Chunks stay a multiple of the swap unit so that no value straddles two chunks.
          const size = Math.min(CHUNK, length - done)
          const buffer = Buffer.allocUnsafe(size)
          const { bytesRead } = await kept.handle.read(buffer, 0, size, offset + done)
          if (bytesRead === 0) throw new StaleFile(`${file.path} is shorter than indexed`)
          const chunk = buffer.subarray(0, bytesRead)
          if (swap === 2 && bytesRead % 2 === 0) chunk.swap16()
          else if (swap === 4 && bytesRead % 4 === 0) chunk.swap32()
          else if (swap === 8 && bytesRead % 8 === 0) chunk.swap64()
          done += bytesRead
          yield chunk
        }
      }
    } finally {
      if (kept) this.putBack(kept)
      this.release()
    }
  }

  /** Closes the handles kept; reads still running close theirs when they end. */
  async close(): Promise<void> {
    this.closed = true
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = undefined
    await this.closeIdle(0, 0)
  }

  private async handleFor(file: IndexedFile): Promise<Kept> {
    const key = `${file.size}:${file.mtimeMs}:${file.path}`
    for (;;) {
      let pending = this.kept.get(key)
      if (pending === undefined) {
        const opening = openChecked(file)
        this.kept.set(key, opening)
        // A failed open is not kept: the next request tries again (or finds the file gone).
        opening.catch(() => this.kept.get(key) === opening && this.kept.delete(key))
        this.sweeper ??= setInterval(() => void this.closeIdle(KEEP_MS, 0), KEEP_MS).unref()
        pending = opening
      }
      const kept = await pending
      // Closed as idle while this request waited for it: open the file again.
      if (this.kept.get(key) !== pending) continue
      kept.users++
      return kept
    }
  }

  private putBack(kept: Kept): void {
    kept.users--
    kept.idleSince = Date.now()
    if (this.closed) void this.closeIdle(0, 0)
    else if (this.kept.size > KEPT_HANDLES) void this.closeIdle(0, KEPT_HANDLES)
  }

  /** Closes handles unused for `idleMs`, oldest first, until at most `keep` remain. */
  private async closeIdle(idleMs: number, keep: number): Promise<void> {
    const now = Date.now()
    const idle: Array<[string, Kept]> = []
    for (const [key, pending] of this.kept) {
      const kept = await pending.catch(() => undefined)
      if (kept && kept.users === 0 && now - kept.idleSince >= idleMs) idle.push([key, kept])
    }
    idle.sort((a, b) => a[1].idleSince - b[1].idleSince)
    let excess = this.kept.size - keep
    const closing: Array<Promise<void>> = []
    for (const [key, kept] of idle) {
      if (excess <= 0 && keep > 0) break
      // Taken again while we looked: it stays.
      if (kept.users > 0 || !this.kept.has(key)) continue
      this.kept.delete(key)
      excess--
      closing.push(kept.handle.close().catch(() => undefined))
    }
    await Promise.all(closing)
    if (this.kept.size === 0 && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }
}

/** Opens `file` and checks that it is still the indexed version. */
async function openChecked(file: IndexedFile): Promise<Kept> {
  const handle = await open(file.path, 'r')
  try {
    const now = await handle.stat()
    if (now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
      throw new StaleFile(`${file.path} changed since it was indexed`)
    }
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
  return { handle, users: 0, idleSince: Date.now() }
}

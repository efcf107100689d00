/**
 * Reading byte ranges of indexed files for replies: at most `maxOpen` files are open at once
 * (others wait their turn), each range is read in small chunks, and a file that changed since
 * it was indexed is refused rather than served with wrong offsets.
 */
import { open, stat, type FileHandle } from 'node:fs/promises'

import type { Range } from '../dicom/frames.js'

const CHUNK = 256 * 1024

/** A file changed or vanished after indexing. */
export class StaleFile extends Error {
  override readonly name = 'StaleFile'
}

export class FileReader {
  private open = 0
  private readonly waiting: Array<() => void> = []

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

  /** Files open right now (for the status page and the memory benchmark). */
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
   * Yields the bytes of `ranges` in order. `swap` reverses each value of that many bytes
   * (big-endian native pixel data sent as little endian).
   */
  async *read(path: string, ranges: readonly Range[], swap = 0): AsyncGenerator<Buffer> {
    await this.acquire()
    let handle: FileHandle | undefined
    try {
      handle = await open(path, 'r')
      for (const [offset, length] of ranges) {
        let done = 0
        while (done < length) {
          // Chunks stay a multiple of the swap unit so that no value straddles two chunks.
          const size = Math.min(CHUNK, length - done)
          const buffer = Buffer.allocUnsafe(size)
          const { bytesRead } = await handle.read(buffer, 0, size, offset + done)
          if (bytesRead === 0) throw new StaleFile(`${path} is shorter than indexed`)
          const chunk = buffer.subarray(0, bytesRead)
          if (swap === 2 && bytesRead % 2 === 0) chunk.swap16()
          else if (swap === 4 && bytesRead % 4 === 0) chunk.swap32()
          else if (swap === 8 && bytesRead % 8 === 0) chunk.swap64()
          done += bytesRead
          yield chunk
        }
      }
    } finally {
      await handle?.close()
      this.release()
    }
  }
}

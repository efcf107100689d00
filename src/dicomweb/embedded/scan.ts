/**
 * Walking a folder and indexing its files. Symlinks are followed only to places inside the
 * folder, each directory is visited once (so links that loop are harmless), only regular files
 * are opened (a FIFO or socket would block), and a file already in the on-disk index with the
 * same size and modification time is not read again.
 */
import { createHash } from 'node:crypto'
import { lstat, mkdir, open, opendir, realpath, rename, stat, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'

import { UnreadableDicom } from '../dicom/head.js'
import { indexFile, type InstanceRecord } from './record.js'

export interface SkippedFile {
  readonly path: string
  readonly reason: string
}

export interface ScanProgress {
  readonly files: number
  readonly totalFiles: number
  readonly bytes: number
  readonly totalBytes: number
}

export interface ScanResult {
  readonly records: InstanceRecord[]
  readonly skipped: SkippedFile[]
  /** Files read this time (the rest came from the on-disk index). */
  readonly read: number
  readonly changed: boolean
}

interface Candidate {
  readonly absolute: string
  readonly relative: string
  readonly size: number
  readonly mtimeMs: number
}

type CacheEntry =
  | { path: string; size: number; mtimeMs: number; record: InstanceRecord }
  | { path: string; size: number; mtimeMs: number; skip: string }

const INDEX_VERSION = 1

/** Where the on-disk index of `folder` lives under the state folder. */
export function indexPath(stateDir: string, folderRealPath: string): string {
  const key = createHash('sha256').update(folderRealPath).digest('hex').slice(0, 16)
  return join(stateDir, 'embedded-index', `${key}.v${INDEX_VERSION}.jsonl`)
}

function posix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/')
}

/** Lists the regular files under `root` (a real path), with skips for what cannot be read. */
export async function walk(root: string): Promise<{ files: Candidate[]; skipped: SkippedFile[] }> {
  const files: Candidate[] = []
  const skipped: SkippedFile[] = []
  const visited = new Set<string>([root])
  const seenFiles = new Set<string>()
  const inside = (real: string) => real === root || real.startsWith(root + sep)

  const visit = async (dirReal: string, dirShown: string): Promise<void> => {
    let dir
    try {
      dir = await opendir(dirReal)
    } catch (error) {
      skipped.push({ path: dirShown || '.', reason: `unreadable folder: ${code(error)}` })
      return
    }
    for await (const entry of dir) {
      // Hidden files (.DS_Store, the demo's marker, editors' swap files) are never DICOM data.
      if (entry.name.startsWith('.')) continue
      const shown = dirShown ? `${dirShown}/${entry.name}` : entry.name
      const path = join(dirReal, entry.name)
      let real = path
      let info
      try {
        info = await lstat(path)
        if (info.isSymbolicLink()) {
          real = await realpath(path)
          if (!inside(real)) {
            skipped.push({ path: shown, reason: 'symlink points outside the folder; not followed' })
            continue
          }
          info = await stat(real)
        }
      } catch (error) {
        const why = code(error)
        skipped.push({
          path: shown,
          reason: why === 'ELOOP' ? 'symlink loop' : `unreadable: ${why}`,
        })
        continue
      }
      if (info.isDirectory()) {
        if (visited.has(real)) continue
        visited.add(real)
        await visit(real, shown)
      } else if (info.isFile()) {
        // Keyed by the real path, so a file reached through two links is indexed once.
        const key = posix(relative(root, real))
        if (seenFiles.has(key)) continue
        seenFiles.add(key)
        files.push({ absolute: real, relative: key, size: info.size, mtimeMs: info.mtimeMs })
      } else {
        skipped.push({ path: shown, reason: 'not a regular file (FIFO, socket or device)' })
      }
    }
  }
  await visit(root, '')
  return { files, skipped }
}

function code(error: unknown): string {
  const e = error as NodeJS.ErrnoException
  return e.code ?? e.message ?? String(error)
}

/** Reads the on-disk index; a missing or damaged index is an empty one. */
export async function loadIndex(file: string): Promise<Map<string, CacheEntry>> {
  const entries = new Map<string, CacheEntry>()
  let handle
  try {
    handle = await open(file, 'r')
  } catch {
    return entries
  }
  try {
    // Line by line: the whole index as one string (and its split) would be the largest thing
    // in memory at a warm start (several MB per thousand files).
    for await (const line of handle.readLines({ encoding: 'utf8' })) {
      if (line === '') continue
      try {
        const entry = JSON.parse(line) as CacheEntry
        entries.set(entry.path, entry)
      } catch {
        // A line cut short by a crash: that file is simply read again.
      }
    }
  } catch {
    // Unreadable midway: what was read stands, the rest is read again from the files.
  } finally {
    await handle.close().catch(() => undefined)
  }
  return entries
}

async function saveIndex(file: string, entries: Iterable<CacheEntry>): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true })
  const temporary = `${file}.${process.pid}.tmp`
  // Written entry by entry rather than joined into one string first.
  await writeFile(
    temporary,
    (function* () {
      for (const entry of entries) yield JSON.stringify(entry) + '\n'
    })(),
  )
  await rename(temporary, file)
}

export interface ScanOptions {
  readonly root: string
  readonly indexFile: string
  readonly onProgress?: (progress: ScanProgress) => void
  /** Files indexed in parallel; small, as each holds a file head in memory. */
  readonly concurrency?: number
}

/** Walks, reuses unchanged entries, reads the rest, and saves the index when it changed. */
export async function scan(options: ScanOptions): Promise<ScanResult> {
  const root = await realpath(options.root)
  const { files, skipped } = await walk(root)
  const previous = await loadIndex(options.indexFile)
  const next: CacheEntry[] = []
  const totalBytes = files.reduce((n, f) => n + f.size, 0)
  let done = 0
  let bytes = 0
  let read = 0
  let changed = previous.size !== files.length

  const report = () =>
    options.onProgress?.({ files: done, totalFiles: files.length, bytes, totalBytes })

  let cursor = 0
  const worker = async () => {
    while (cursor < files.length) {
      const file = files[cursor++]!
      const known = previous.get(file.relative)
      let entry: CacheEntry
      if (known && known.size === file.size && known.mtimeMs === file.mtimeMs) {
        entry = known
      } else {
        changed = true
        read++
        entry = await indexOne(file)
      }
      next.push(entry)
      done++
      bytes += file.size
      report()
    }
  }
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker))

  if (changed) await saveIndex(options.indexFile, next)
  const records: InstanceRecord[] = []
  for (const entry of next) {
    if ('record' in entry) records.push(entry.record)
    else skipped.push({ path: entry.path, reason: entry.skip })
  }
  skipped.sort((a, b) => a.path.localeCompare(b.path))
  return { records, skipped, read, changed }
}

async function indexOne(file: Candidate): Promise<CacheEntry> {
  const base = { path: file.relative, size: file.size, mtimeMs: file.mtimeMs }
  try {
    const record = await indexFile(file.absolute, file.relative, file.size, file.mtimeMs)
    return { ...base, record }
  } catch (error) {
    if (error instanceof UnreadableDicom) return { ...base, skip: error.reason }
    const e = error as NodeJS.ErrnoException
    if (e.code) return { ...base, skip: `unreadable: ${e.code}` }
    // A parser failure we did not foresee: still a skip with its message, never a crash.
    return { ...base, skip: `unreadable: ${e.message ?? String(error)}` }
  }
}

/** The absolute path of an indexed file (records keep paths relative to the folder). */
export function absolutePath(root: string, record: { path: string }): string {
  return join(root, ...record.path.split('/'))
}

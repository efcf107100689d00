/**
 * Progress of a long index: a one-line bar on a terminal (files, bytes, rate, ETA), and
 * structured log lines every few seconds otherwise, so CI logs and journald stay readable.
 */
import type { Logger } from '../../log.js'
import type { ScanProgress } from './scan.js'

export interface ProgressSink {
  update(progress: ScanProgress): void
  finish(): void
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--'
  const s = Math.round(seconds)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** One line of the bar, without the carriage return. */
export function progressLine(p: ScanProgress, elapsedMs: number, width = 24): string {
  const share =
    p.totalBytes > 0 ? p.bytes / p.totalBytes : p.totalFiles > 0 ? p.files / p.totalFiles : 1
  const filled = Math.round(share * width)
  const rate = elapsedMs > 0 ? p.bytes / (elapsedMs / 1000) : 0
  const eta = rate > 0 ? (p.totalBytes - p.bytes) / rate : Infinity
  return (
    `indexing [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
    `${p.files}/${p.totalFiles} files  ${mb(p.bytes)}/${mb(p.totalBytes)}  ` +
    `${mb(rate)}/s  ETA ${clock(eta)}`
  )
}

/** A sink that draws on `stream` when it is a terminal, and logs at info otherwise. */
export function progressSink(
  logger: Logger,
  stream: NodeJS.WriteStream = process.stderr,
  intervalMs = stream.isTTY ? 100 : 5000,
): ProgressSink {
  const started = Date.now()
  let last = 0
  let drawn = false
  let latest: ScanProgress | undefined
  return {
    update(progress) {
      latest = progress
      const now = Date.now()
      if (now - last < intervalMs) return
      last = now
      if (stream.isTTY) {
        stream.write(`\r${progressLine(progress, now - started)}\x1b[K`)
        drawn = true
      } else {
        logger.info({ ...progress, elapsedMs: now - started }, 'indexing')
      }
    },
    finish() {
      if (drawn && latest) stream.write(`\r${progressLine(latest, Date.now() - started)}\x1b[K\n`)
    },
  }
}

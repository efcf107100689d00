/**
 * Shared pieces of the hardening tests: raw-socket exchanges that send bytes exactly as given
 * and time out, a canary TCP server that must never be reached, small viewer and DICOM folders,
 * and counting a process's open file descriptors. Everything listens on loopback only.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'

export interface RawReply {
  /** Everything the server wrote, latin1. */
  readonly text: string
  readonly status: number
  /** Header names lower-cased; repeated headers joined with `, `. */
  readonly headers: Record<string, string>
  readonly body: string
  /** Milliseconds until the server closed (or the timeout hit). */
  readonly ms: number
  /** True when the server closed the connection before `timeoutMs`. */
  readonly closedByServer: boolean
}

export interface RawOptions {
  readonly timeoutMs?: number
  /** Writes the parts one after the other with this pause between them. */
  readonly pauseMs?: number
  /** Resolve as soon as a complete response head has arrived (keep-alive probes). */
  readonly untilHead?: boolean
}

/** Parses a raw HTTP/1.1 reply (the first one in `text`). */
export function parseRaw(text: string): Pick<RawReply, 'status' | 'headers' | 'body'> {
  const end = text.indexOf('\r\n\r\n')
  const head = end < 0 ? text : text.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: end < 0 ? '' : text.slice(end + 4),
  }
}

/**
 * Opens a connection to 127.0.0.1:port, writes `parts` (with optional pauses), and collects
 * what comes back until the server closes or `timeoutMs` passes.
 */
export function raw(
  port: number,
  parts: string | Buffer | ReadonlyArray<string | Buffer>,
  options: RawOptions = {},
): Promise<RawReply> {
  const list = Array.isArray(parts) ? parts : [parts as string | Buffer]
  const timeoutMs = options.timeoutMs ?? 10_000
  const started = Date.now()
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let done = false
    const finish = (closedByServer: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      resolve({ text, ...parseRaw(text), ms: Date.now() - started, closedByServer })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (options.untilHead && Buffer.concat(chunks).includes('\r\n\r\n')) finish(false)
    })
    socket.on('error', () => finish(true))
    socket.on('close', () => finish(true))
    socket.once('connect', async () => {
      for (let i = 0; i < list.length && !done; i++) {
        if (i > 0 && options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs))
        if (!socket.destroyed) socket.write(list[i] as string | Buffer)
      }
    })
  })
}

/** A GET request line and headers, `Connection: close`, as raw text. */
export function get(target: string, headers: Record<string, string> = {}, method = 'GET'): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  if (!Object.keys(headers).some((n) => n.toLowerCase() === 'connection')) {
    lines.push('Connection: close')
  }
  return `${lines.join('\r\n')}\r\n\r\n`
}

export interface Canary {
  readonly port: number
  /** Connections accepted so far: must stay 0. */
  readonly hits: () => number
  close(): Promise<void>
}

/** A TCP server on a loopback port that only counts who connects to it. */
export async function startCanary(): Promise<Canary> {
  let hits = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    hits++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nCANARY-REACHED')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    hits: () => hits,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

/** A small viewer build: index.html, a hashed script, a stylesheet, a dot-file. */
export async function writeViewer(dir: string): Promise<void> {
  await mkdir(join(dir, 'assets'), { recursive: true })
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>viewer</title><p>VIEWER-INDEX')
  await writeFile(join(dir, 'app.3f9a2c1b.js'), 'console.log("app")\n'.repeat(200))
  await writeFile(join(dir, 'assets', 'style.css'), 'body { color: black }\n')
  await writeFile(join(dir, 'app-config.js'), 'window.config = {}\n')
  await writeFile(join(dir, '.env'), 'SECRET-DOTFILE\n')
}

/** Open file descriptors of a process, by kind (socket, file, pipe, other). */
export function fdCounts(pid: number | 'self' = 'self'): Record<string, number> {
  const dir = `/proc/${pid}/fd`
  const counts: Record<string, number> = { total: 0, socket: 0, file: 0, pipe: 0, other: 0 }
  for (const name of readdirSync(dir)) {
    let target: string
    try {
      target = readlinkSync(join(dir, name))
    } catch {
      continue
    }
    counts.total = (counts.total ?? 0) + 1
    const kind = target.startsWith('socket:')
      ? 'socket'
      : target.startsWith('pipe:')
        ? 'pipe'
        : target.startsWith('/')
          ? 'file'
          : 'other'
    counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

/** Resident set size of a process in bytes, from /proc. */
export function rssOf(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? 0)
  return kb * 1024
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

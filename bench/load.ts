/**
 * HTTP load from a maintained tool, bounded in time: wrk (Debian's package) when installed,
 * else autocannon (a devDependency) run as its own process. Either way the load generator is
 * not the process that serves, and every run ends after `seconds` (plus a kill deadline).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

export const WRK = '/usr/bin/wrk'

export interface LoadOptions {
  readonly connections: number
  readonly seconds: number
  readonly headers?: Record<string, string>
}

export interface LoadResult {
  readonly tool: 'wrk' | 'autocannon'
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly requests: number
  /** Socket errors, timeouts and non-2xx/3xx replies: a run with any is not a clean figure. */
  readonly errors: number
}

function run(command: string, args: string[], deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), deadlineMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${command} exited ${code}: ${err.slice(-800)}${out.slice(-800)}`))
    })
  })
}

/** A wrk duration or latency (`812.34us`, `12.5ms`, `1.02s`, `2m`) in milliseconds. */
export function wrkMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (!match) return Number.NaN
  const value = Number(match[1])
  return value * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm']
}

/** Reads wrk's `--latency` report. */
export function parseWrk(text: string): Omit<LoadResult, 'tool'> {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN)
  const percentile = (p: string) =>
    wrkMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text)?.[1] ?? '')
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0)
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const socketErrors = socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0
  return {
    rps,
    p50Ms: percentile('50'),
    p99Ms: percentile('99'),
    requests,
    errors: non2xx + socketErrors,
  }
}

/** Loads `url` for `seconds` with `connections` keep-alive connections. */
export async function load(url: string, options: LoadOptions): Promise<LoadResult> {
  const headers = Object.entries(options.headers ?? {})
  const deadline = (options.seconds + 30) * 1000
  if (existsSync(WRK)) {
    const args = [
      '-t2',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--latency',
      '--timeout',
      '10s',
      ...headers.flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      url,
    ]
    return { tool: 'wrk', ...parseWrk(await run(WRK, args, deadline)) }
  }
  const bin = join(process.cwd(), 'node_modules', '.bin', 'autocannon')
  const args = [
    '-c',
    String(options.connections),
    '-d',
    String(options.seconds),
    '-j',
    ...headers.flatMap(([k, v]) => ['-H', `${k}=${v}`]),
    url,
  ]
  const json = JSON.parse(await run(bin, args, deadline)) as {
    requests: { average: number; total: number }
    latency: { p50: number; p99: number }
    errors: number
    timeouts: number
    non2xx: number
  }
  return {
    tool: 'autocannon',
    rps: json.requests.average,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    requests: json.requests.total,
    errors: json.errors + json.timeouts + json.non2xx,
  }
}

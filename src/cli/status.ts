/**
 * `isogate status [URL]`: reads a running gateway's `__isogate/status.json` and prints it, as a
 * short summary or (`--json`) as received. Exit 0 when every source is up or unknown, 1 when
 * one is down or still starting, or when the gateway cannot be read.
 */
import { readFileSync } from 'node:fs'

import type { Command } from 'commander'
import { Agent, fetch } from 'undici'

import { IsogateError } from '../errors.js'
import { statusSchema, type IsogateStatus } from '../gateway/status/schema.js'
import { createLogger } from '../log.js'
import { paintFor, type Paint } from './colour.js'

export interface StatusFlags {
  json?: boolean
  ca?: string
  timeout?: string
  verbose?: boolean
}

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080/'

/** The status.json URL for a viewer URL, a status page URL, or a bare origin. */
export function statusJsonUrl(input: string): string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', `${input} is not a URL (http://host:port/)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', `${input} is not an http(s) URL`)
  }
  const at = url.pathname.indexOf('/__isogate/')
  const base = at >= 0 ? url.pathname.slice(0, at + 1) : url.pathname.replace(/[^/]*$/, '') || '/'
  return `${url.origin}${base}__isogate/status.json`
}

/** Fetches and checks a gateway's status document. */
export async function fetchStatus(
  url: string,
  options: { ca?: string | undefined; timeoutMs?: number } = {},
): Promise<{ status: IsogateStatus | undefined; raw: unknown; problems: string[] }> {
  const dispatcher = new Agent({
    connect: options.ca ? { ca: options.ca } : {},
    headersTimeout: options.timeoutMs ?? 10_000,
    bodyTimeout: options.timeoutMs ?? 10_000,
  })
  try {
    let response
    try {
      response = await fetch(url, {
        dispatcher,
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
    } catch (cause) {
      const reason = describe(cause)
      const tls = /CERT|SELF_SIGNED|certificate/i.test(reason)
      throw new IsogateError(
        'ISOGATE_E_CLI_STATUS_UNREACHABLE',
        `cannot read ${url}: ${reason}` +
          (tls ? ' (pass the gateway certificate with --ca FILE; the status page names it)' : ''),
        { cause },
      )
    }
    const text = await response.text()
    if (response.status === 403) {
      throw new IsogateError(
        'ISOGATE_E_CLI_STATUS_REFUSED',
        `${url} answers loopback clients only, and this is not one`,
      )
    }
    if (response.status !== 200) {
      throw new IsogateError(
        'ISOGATE_E_CLI_STATUS_UNREACHABLE',
        `${url} answered ${response.status}; is this an Isogate gateway?`,
      )
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (cause) {
      throw new IsogateError('ISOGATE_E_CLI_STATUS_UNREACHABLE', `${url} is not JSON`, { cause })
    }
    const parsed = statusSchema.safeParse(raw)
    const problems = parsed.success
      ? []
      : parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`)
    return { status: parsed.success ? parsed.data : undefined, raw, problems }
  } finally {
    await dispatcher.close()
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error)
}

/** True when the exit code should say something is wrong. */
export function unhealthy(status: IsogateStatus): boolean {
  return !status.ready || status.sources.some((s) => s.health === 'down')
}

/** The human summary of a status document. */
export function statusText(status: IsogateStatus, paint: Paint): string {
  const lines: string[] = []
  const where = status.viewer?.url ?? status.origin
  const up = duration(status.uptimeSeconds)
  lines.push(`isogate ${status.isogate.version} at ${paint.bold(where)}, up ${up}`)
  if (status.viewer) {
    const version = status.viewer.version ? `OHIF ${status.viewer.version}` : 'viewer'
    lines.push(`  viewer: ${version}${status.viewer.bundled ? ' (bundled)' : ''}`)
  }
  const iso = status.isolation
  const verdict = iso.isolated ? paint.ok('isolated') : paint.warn('not isolated')
  lines.push(`  isolation: ${verdict} (${iso.mode})`)
  for (const source of status.sources) {
    const health =
      source.health === 'up'
        ? paint.ok('up')
        : source.health === 'down'
          ? paint.bad('down')
          : source.health
    const facts = sourceFacts(source.details)
    const error = source.lastError ? ` — ${source.lastError}` : ''
    lines.push(`  source ${source.name}: ${source.mode}, ${health}${facts}${error}`)
  }
  if (status.tls) {
    const days = status.tls.daysLeft
    const left = days < 30 ? paint.bad(`${days} days left`) : `${days} days left`
    lines.push(`  tls: ${status.tls.certPath}, until ${status.tls.validTo.slice(0, 10)} (${left})`)
  }
  const reports = status.reports
  if (reports.items.length === 0) {
    lines.push(`  reports: none received`)
  } else {
    const received = reports.counters.received
    lines.push(`  reports: ${reports.items.length} distinct violations (${received} received)`)
    for (const item of reports.items.slice(0, 5)) {
      const mode = item.disposition === 'reporting' ? 'report-only' : 'enforced'
      lines.push(
        `    ${item.kind} ${item.detail} (${mode}, ×${item.count}): ${item.blockedUrl ?? ''}`,
      )
      lines.push(paint.dim(`      fix: ${item.fix}`))
    }
  }
  return `${lines.join('\n')}\n`
}

function plural(n: unknown, one: string, many = `${one}s`): string {
  if (n === undefined) return `? ${many}`
  return `${String(n)} ${n === 1 ? one : many}`
}

function sourceFacts(details: Record<string, unknown>): string {
  const count = (key: string) => (typeof details[key] === 'number' ? details[key] : undefined)
  if (count('studies') === undefined) return ''
  const skipped = count('skippedCount') ?? 0
  return (
    ` (${plural(count('studies'), 'study', 'studies')}, ` +
    `${plural(count('series'), 'series', 'series')}, ` +
    `${plural(count('instances'), 'file')}${skipped ? `, ${skipped} skipped` : ''})`
  )
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h`
  return `${Math.floor(seconds / 86_400)} days`
}

/** Runs `status`; returns the text to print and the exit code. */
export async function runStatus(
  target: string | undefined,
  flags: StatusFlags,
  paint: Paint,
): Promise<{ text: string; code: number }> {
  const logger = createLogger({ verbose: flags.verbose === true })
  const url = statusJsonUrl(target ?? DEFAULT_GATEWAY_URL)
  let ca: string | undefined
  if (flags.ca) {
    try {
      ca = readFileSync(flags.ca, 'utf8')
    } catch (cause) {
      throw new IsogateError('ISOGATE_E_CLI_USAGE', `cannot read --ca ${flags.ca}`, { cause })
    }
  }
  const timeoutMs = flags.timeout === undefined ? 10_000 : Number(flags.timeout)
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', `--timeout ${flags.timeout} is not a number`)
  }
  logger.debug({ url }, 'reading status')
  const { status, raw, problems } = await fetchStatus(url, { ca, timeoutMs })
  if (problems.length > 0) logger.warn({ problems }, 'status.json does not match this version')
  const code = status && !unhealthy(status) ? 0 : 1
  if (flags.json) return { text: `${JSON.stringify(raw, null, 2)}\n`, code }
  if (!status) {
    throw new IsogateError(
      'ISOGATE_E_CLI_STATUS_UNREACHABLE',
      `${url} is not a status document this version reads (${problems.slice(0, 3).join('; ')})`,
    )
  }
  return { text: statusText(status, paint), code }
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("print a running gateway's status: isolation, sources, certificate, reports")
    .argument('[url]', `the gateway (viewer URL or origin; default ${DEFAULT_GATEWAY_URL})`)
    .option('--json', 'print status.json as received (schema: __isogate/status.schema.json)')
    .option('--ca <file>', "trust this certificate (PEM), e.g. the gateway's generated one")
    .option('--timeout <ms>', 'give up after this long (default: 10000)')
    .option('-v, --verbose', 'log what is fetched to stderr')
    .addHelpText(
      'after',
      `
The status page answers clients on the gateway's own machine only (unless status.allowRemote),
so run this there. Exit code 0: every source up; 1: a source down or starting, or no answer.

Examples:
  isogate status                                  the gateway on http://127.0.0.1:8080/
  isogate status http://127.0.0.1:8080/viewer/    a gateway serving under /viewer/
  isogate status https://localhost:8443/ --ca ~/.local/state/isogate/tls/cert.pem
  isogate status --json | jq .reports.items`,
    )
    .action(async (target: string | undefined, flags: StatusFlags) => {
      const { text, code } = await runStatus(target, flags, paintFor(process.stdout))
      process.stdout.write(text)
      if (code !== 0) process.exitCode = code
    })
}

/**
 * `isogate serve [FOLDER]`: the viewer, cross-origin isolated, over a folder of DICOM files, an
 * upstream DICOMweb server, or the bundled demo study. Flags override the config file field by
 * field; the result is validated once, and an invalid field is one line and exit code 2.
 */
import { spawn } from 'node:child_process'
import { basename, resolve } from 'node:path'

import type { Command } from 'commander'

import { mergeConfig, readConfigFile, validateConfig } from '../config/load.js'
import type { IsogateConfig, IsogateConfigInput } from '../config/schema.js'
import { IsogateError } from '../errors.js'
import { createLogger } from '../log.js'
import { isolationSummary, type Isolation } from '../policy/plan.js'
import { startGateway, type RunningGateway } from '../gateway/start.js'
import { paintFor, type Paint } from './colour.js'

/** The flags as commander hands them over. */
export interface ServeFlags {
  port?: string
  host?: string
  config?: string
  viewer?: string
  basePath?: string
  source?: string[]
  sourceKind?: string[]
  isolation?: string
  tls?: string
  cert?: string
  key?: string
  publicUrl?: string
  embedOrigin?: string[]
  stateDir?: string
  verbose?: boolean
  open?: boolean
}

/** How long in-flight requests may take to finish after SIGTERM/SIGINT. */
const GRACE_MS = 10_000

const collect = (value: string, previous: string[] = []) => [...previous, value]

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the OHIF viewer cross-origin isolated, with its DICOMweb sources')
    .argument('[folder]', 'a folder of DICOM files to browse (default: the bundled demo study)')
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: 8080)')
    .option('--host <host>', 'address to listen on (default: 127.0.0.1)')
    .option('-c, --config <file>', 'config file (JSON or YAML); flags override it')
    .option('--viewer <dir>', 'serve this OHIF build instead of the bundled one')
    .option('--base-path <path>', 'serve the viewer under this path, e.g. /viewer/')
    .option(
      '--source <name=url>',
      'proxy an upstream DICOMweb root (repeatable; url1,url2)',
      collect,
    )
    .option('--source-kind <name=kind>', 'upstream kind for --source: orthanc, dcm4chee', collect)
    .option('--isolation <mode>', 'require-corp (default), credentialless, report-only, off')
    .option('--tls <mode>', 'off (default; loopback only) or auto (generated certificate)')
    .option('--cert <file>', 'TLS certificate (PEM), with --key')
    .option('--key <file>', 'TLS private key (PEM), with --cert')
    .option('--public-url <url>', 'the URL users open, when a proxy stands in front')
    .option(
      '--embed-origin <origin>',
      'an origin allowed to frame the viewer (repeatable)',
      collect,
    )
    .option('--state-dir <dir>', 'where certificates and indexes are kept')
    .option('-v, --verbose', 'log each request and more to stderr')
    .option('--open', 'open the viewer in the default browser once it listens')
    .addHelpText(
      'after',
      `
Examples:
  isogate serve                                   the bundled demo study, isolated, on :8080
  isogate serve ./scans --port 0                  your DICOM folder, on a free port
  isogate serve --source pacs=http://127.0.0.1:8042/dicom-web --source-kind pacs=orthanc
  isogate serve --host 0.0.0.0 --tls auto         reachable from other machines, over https
  isogate serve --base-path /viewer/              the viewer under /viewer/, no rebuild
  isogate serve --isolation off                   not isolated (see what is lost at start-up)`,
    )
    .action(async (folder: string | undefined, flags: ServeFlags) => {
      const config = serveConfig(folder, flags)
      await runServe(config, flags)
    })
}

/** Turns the command line into a validated config (throws ISOGATE_E_CONFIG_INVALID). */
export function serveConfig(folder: string | undefined, flags: ServeFlags): IsogateConfig {
  // `$schema` (written by `isogate init`) is for editors, not a setting.
  const { $schema: _schema, ...file } = flags.config ? readConfigFile(flags.config) : {}
  return validateConfig(mergeConfig(file, flagsToInput(folder, flags)))
}

/** The config fields the flags set; unset flags leave the file's values alone. */
export function flagsToInput(folder: string | undefined, flags: ServeFlags): IsogateConfigInput {
  const input: Record<string, unknown> = {}
  const listen: Record<string, unknown> = {}
  if (flags.port !== undefined)
    listen.port = /^-?\d+$/.test(flags.port) ? Number(flags.port) : flags.port
  if (flags.host !== undefined) listen.host = flags.host
  if (Object.keys(listen).length > 0) input.listen = listen

  const viewer: Record<string, unknown> = {}
  if (flags.viewer !== undefined) viewer.root = resolve(flags.viewer)
  if (flags.basePath !== undefined) viewer.basePath = flags.basePath
  if (Object.keys(viewer).length > 0) input.viewer = viewer

  if (flags.isolation !== undefined) input.isolation = flags.isolation
  if (flags.publicUrl !== undefined) input.publicUrl = flags.publicUrl
  if (flags.stateDir !== undefined) input.stateDir = resolve(flags.stateDir)
  if (flags.embedOrigin?.length) input.embedding = { origins: flags.embedOrigin }

  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', '--cert and --key go together; give both')
  }
  if (flags.cert !== undefined && flags.key !== undefined) {
    if (flags.tls !== undefined && flags.tls !== 'off') {
      throw new IsogateError('ISOGATE_E_CLI_USAGE', `--tls ${flags.tls} contradicts --cert/--key`)
    }
    input.tls = { cert: resolve(flags.cert), key: resolve(flags.key) }
  } else if (flags.tls !== undefined) {
    input.tls = flags.tls
  }

  const sources: Array<Record<string, unknown>> = []
  if (folder !== undefined) {
    sources.push({ name: folderSourceName(folder), mode: 'embedded', folder: resolve(folder) })
  }
  const kinds = new Map((flags.sourceKind ?? []).map((pair) => splitPair(pair, '--source-kind')))
  for (const pair of flags.source ?? []) {
    const [name, value] = splitPair(pair, '--source')
    const upstream = value
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '')
    sources.push({
      name,
      mode: 'proxy',
      upstream,
      ...(kinds.has(name) ? { kind: kinds.get(name) } : {}),
    })
    kinds.delete(name)
  }
  for (const name of kinds.keys()) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', `--source-kind ${name}=…: no --source ${name}`)
  }
  if (sources.length > 0) input.sources = sources
  return input as IsogateConfigInput
}

/** A source name from a folder name: `~/Scans/Knee MRI` → `knee-mri`. */
export function folderSourceName(folder: string): string {
  const slug = basename(resolve(folder))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '')
  return slug === '' ? 'local' : slug
}

function splitPair(pair: string, flag: string): [string, string] {
  const at = pair.indexOf('=')
  if (at <= 0 || at === pair.length - 1) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', `${flag} takes NAME=VALUE, got "${pair}"`)
  }
  return [pair.slice(0, at), pair.slice(at + 1)]
}

async function runServe(config: IsogateConfig, flags: ServeFlags): Promise<void> {
  const logger = createLogger({ verbose: flags.verbose === true })
  const gateway = await startGateway(config, { logger })
  // Listening for signals before saying so: a supervisor that stops us as soon as it reads the
  // start-up text (stdout to a pipe is written synchronously) must get a graceful stop.
  const signalled = waitForSignal()
  process.stdout.write(startupText(gateway, config, paintFor(process.stdout)))
  if (flags.open) openBrowser(gateway.url)
  await signalled
  process.stdout.write('isogate: stopping (finishing requests in flight)…\n')
  const timer = setTimeout(() => {
    process.stderr.write(`isogate: requests still open after ${GRACE_MS / 1000} s; exiting\n`)
    process.exit(0)
  }, GRACE_MS)
  timer.unref()
  await gateway.close()
  clearTimeout(timer)
}

/**
 * What `serve` prints on stdout once it listens: where the viewer is, what is isolated, which
 * sources are up, where the status page and reports are. Coloured only on a terminal.
 */
export function startupText(
  gateway: RunningGateway,
  config: IsogateConfig,
  paint: Paint = paintFor({}),
): string {
  const lines: string[] = []
  const viewer = gateway.viewer
  const what = viewer
    ? `OHIF ${viewer.version ?? '(version unknown)'}${viewer.bundled ? '' : ` from ${viewer.root}`}`
    : 'sources'
  lines.push(`isogate: serving ${what} at ${paint.bold(gateway.url)}`)
  const isolation = config.isolation as Isolation
  const isolated = isolation === 'require-corp' || isolation === 'credentialless'
  const summary = isolationSummary(isolation)
  lines.push(`  isolation: ${isolated ? paint.ok(summary) : paint.warn(summary)}`)
  for (const source of gateway.sources) {
    const status = source.status()
    const error = status.lastError ? ` (${status.lastError})` : ''
    const health =
      status.health === 'up'
        ? paint.ok('up')
        : status.health === 'down'
          ? paint.bad('down')
          : status.health
    // Files an embedded source skips (not DICOM, damaged, duplicates) are counted here; the
    // reasons are on the status page.
    const skipped = (status.details as { skippedCount?: number } | undefined)?.skippedCount ?? 0
    const note = skipped > 0 ? `, ${paint.warn(`${skipped} file(s) skipped`)} (see status)` : ''
    lines.push(`  source ${status.name}: ${status.mode}, ${health}${error}${note}`)
  }
  for (const source of config.sources) {
    if (source.mode === 'direct') lines.push(`  source ${source.name}: direct, ${source.url}`)
  }
  if (gateway.tls?.generated) {
    lines.push(
      `  tls: generated certificate ${gateway.tls.certPath}` +
        ' (the status page says how to trust it)',
    )
  }
  if (gateway.origin !== new URL(gateway.url).origin) lines.push(`  listening on ${gateway.origin}`)
  const local = config.status.allowRemote ? '' : ' (from this machine only)'
  lines.push(`  status: ${gateway.statusUrl}${local}`)
  if (!gateway.tls && !config.publicUrl?.startsWith('https:')) {
    // Verified in Chromium 156 (test/e2e/status-reports.test.ts): http pages, loopback
    // included, never upload Reporting API reports.
    const note =
      isolation === 'report-only'
        ? 'report-only over plain http: browsers see violations but do not send them; ' +
          'add --tls auto to collect them on the status page'
        : 'violation reports are collected over https only (--tls auto)'
    lines.push(`  reports: ${isolation === 'report-only' ? paint.warn(note) : paint.dim(note)}`)
  } else {
    const endpoint = gateway.plan.intent.reportingEndpoint ?? ''
    lines.push(`  reports: browsers send violations to ${endpoint}, shown on the status page`)
  }
  lines.push(paint.dim('  press Ctrl+C to stop'))
  return `${lines.join('\n')}\n`
}

async function waitForSignal(): Promise<void> {
  await new Promise<void>((resolveSignal) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolveSignal()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : 'xdg-open'
  const child = spawn(command, [url], { stdio: 'ignore', detached: true })
  child.on('error', () => process.stderr.write(`isogate: could not open a browser; visit ${url}\n`))
  child.unref()
}

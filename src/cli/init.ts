/**
 * `isogate init`: writes `isogate.config.json` for `isogate serve --config`. On a terminal it
 * asks a few questions (each answer defaults to its flag); otherwise the flags alone decide.
 * The result is validated with the same schema `serve` uses, carries a `$schema` pointing at
 * the package's JSON Schema for editors, and never replaces a file without `--force`.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'

import type { Command } from 'commander'

import { validateConfig } from '../config/load.js'
import { IsogateError } from '../errors.js'
import { assertSecureListen } from '../gateway/secure-listen.js'
import { createLogger } from '../log.js'
import { ISOLATION_MODES } from '../policy/plan.js'
import { paintFor } from './colour.js'

export interface InitFlags {
  viewer?: string
  folder?: string
  upstream?: string
  upstreamKind?: string
  isolation?: string
  tls?: string
  cert?: string
  key?: string
  embedOrigin?: string[]
  host?: string
  port?: string
  output?: string
  force?: boolean
  yes?: boolean
  json?: boolean
  verbose?: boolean
}

/** The answers that decide the config, whether asked or taken from flags. */
export interface InitAnswers {
  /** `bundled`, or a folder holding an OHIF build. */
  viewer: string
  /** `demo`, a folder of DICOM files, or an upstream DICOMweb URL. */
  data: string
  upstreamKind: string
  isolation: string
  /** `off`, `auto`, or `CERT,KEY`. */
  tls: string
  embedders: string[]
  host: string
  port: number
}

export const DEFAULT_OUTPUT = 'isogate.config.json'

/** The package's JSON Schema for the config (written by `npm run build`). */
export function packageSchemaPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema', SCHEMA_FILE)
}
const SCHEMA_FILE = 'isogate.config.schema.json'

/** Answers from flags alone, with the defaults `serve` has. */
export function answersFromFlags(flags: InitFlags): InitAnswers {
  if (flags.folder !== undefined && flags.upstream !== undefined) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', '--folder and --upstream exclude each other')
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', '--cert and --key go together; give both')
  }
  const tls = flags.cert !== undefined ? `${flags.cert},${flags.key}` : (flags.tls ?? 'off')
  const port = flags.port === undefined ? 8080 : Number(flags.port)
  return {
    viewer: flags.viewer ?? 'bundled',
    data: flags.upstream ?? flags.folder ?? 'demo',
    upstreamKind: flags.upstreamKind ?? 'generic',
    isolation: flags.isolation ?? 'require-corp',
    tls,
    embedders: flags.embedOrigin ?? [],
    // Other machines can only use the viewer over https, so TLS implies listening for them.
    host: flags.host ?? (tls === 'off' ? '127.0.0.1' : '0.0.0.0'),
    port,
  }
}

/** Asks each question on a terminal; an empty answer keeps the default shown in brackets. */
export async function askAnswers(
  defaults: InitAnswers,
  input: Readable,
  output: Writable,
): Promise<InitAnswers> {
  // Lines are read through the iterator, which buffers them: answers typed ahead (or piped)
  // are not lost between questions. End of input keeps the remaining defaults.
  const rl = createInterface({ input, terminal: false })
  const lines = rl[Symbol.asyncIterator]()
  const ask = async (question: string, fallback: string): Promise<string> => {
    output.write(`${question} [${fallback}]: `)
    const next = await lines.next()
    const answer = next.done ? '' : String(next.value).trim()
    return answer === '' ? fallback : answer
  }
  try {
    const viewer = await ask(
      'Viewer: "bundled" (OHIF 3.13.2) or the folder of an OHIF build',
      defaults.viewer,
    )
    const data = await ask(
      'DICOM data: "demo", a folder of DICOM files, or an upstream DICOMweb URL',
      defaults.data,
    )
    const upstreamKind = /^https?:\/\//.test(data)
      ? await ask('Upstream server kind: orthanc, dcm4chee or generic', defaults.upstreamKind)
      : defaults.upstreamKind
    const isolation = await ask(`Isolation: ${ISOLATION_MODES.join(', ')}`, defaults.isolation)
    const tls = await ask(
      'TLS: "off" (this machine only) or "auto" (https with a generated certificate)',
      defaults.tls,
    )
    const host = await ask(
      'Listen on (127.0.0.1: this machine; 0.0.0.0: every interface, needs TLS)',
      tls === 'off' ? defaults.host : defaults.host === '127.0.0.1' ? '0.0.0.0' : defaults.host,
    )
    const port = Number(await ask('Port', String(defaults.port)))
    const embedders = (
      await ask(
        'Origins that may frame the viewer, comma-separated ("none" for none)',
        defaults.embedders.join(',') || 'none',
      )
    )
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '' && o !== 'none')
    return { viewer, data, upstreamKind, isolation, tls, embedders, host, port }
  } finally {
    rl.close()
  }
}

/** A path as the config file should hold it: relative to the file's folder when inside it. */
function pathFor(configDir: string, path: string): string {
  const absolute = resolve(path)
  const rel = relative(configDir, absolute)
  if (rel === '') return '.'
  return rel.startsWith('..') || isAbsolute(rel) ? absolute : `./${rel}`
}

/**
 * Where editors find the schema: a relative path when the package sits below the config (a
 * local install), else a file URL (a global install).
 */
function schemaReference(configDir: string): string {
  const path = pathFor(configDir, packageSchemaPath())
  return path.startsWith('./') ? path : pathToFileURL(path).href
}

/**
 * The config document for the answers: `$schema` first, then only what the answers decide.
 * Paths are written relative to `configDir`, as `serve --config` reads them.
 */
export function configFor(answers: InitAnswers, configDir: string): Record<string, unknown> {
  const config: Record<string, unknown> = { $schema: schemaReference(configDir) }
  if (answers.viewer !== 'bundled') config.viewer = { root: pathFor(configDir, answers.viewer) }
  config.listen = { host: answers.host, port: answers.port }
  if (answers.tls === 'off' || answers.tls === 'auto') {
    config.tls = answers.tls
  } else {
    const [cert = '', key = ''] = answers.tls.split(',')
    config.tls = { cert: pathFor(configDir, cert), key: pathFor(configDir, key) }
  }
  config.isolation = answers.isolation
  if (answers.embedders.length > 0) config.embedding = { origins: answers.embedders }
  if (/^https?:\/\//.test(answers.data)) {
    config.sources = [
      { name: 'pacs', mode: 'proxy', upstream: [answers.data], kind: answers.upstreamKind },
    ]
  } else if (answers.data !== 'demo') {
    config.sources = [{ name: 'local', mode: 'embedded', folder: pathFor(configDir, answers.data) }]
  }
  return config
}

/** Validates a config document exactly as `serve --config` would read it. */
export function checkConfig(config: Record<string, unknown>, configDir: string): void {
  const { $schema: _schema, ...rest } = config
  const absolute = JSON.parse(JSON.stringify(rest), (key, value: unknown) =>
    (key === 'root' || key === 'folder' || key === 'cert' || key === 'key') &&
    typeof value === 'string'
      ? resolve(configDir, value)
      : value,
  ) as Record<string, unknown>
  const valid = validateConfig(absolute)
  assertSecureListen({
    host: valid.listen.host,
    tls: valid.tls !== 'off',
    publicUrl: valid.publicUrl,
  })
}

export interface InitIo {
  readonly stdin: Readable & { isTTY?: boolean }
  readonly stdout: Writable & { isTTY?: boolean }
}

/** Runs `init`: decides the answers, validates, writes; returns the text to print. */
export async function runInit(flags: InitFlags, io: InitIo): Promise<string> {
  const logger = createLogger({ verbose: flags.verbose === true })
  const output = resolve(flags.output ?? DEFAULT_OUTPUT)
  if (existsSync(output) && !flags.force) {
    throw new IsogateError('ISOGATE_E_CLI_INIT_EXISTS', `${output} exists; not replacing it`)
  }
  const defaults = answersFromFlags(flags)
  const interactive = !flags.yes && io.stdin.isTTY === true && io.stdout.isTTY === true
  const answers = interactive ? await askAnswers(defaults, io.stdin, io.stdout) : defaults
  logger.debug({ answers, interactive }, 'init answers')
  if (!Number.isInteger(answers.port) || answers.port < 0 || answers.port > 65535) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', `port ${answers.port} is not 0 to 65535`)
  }

  const configDir = dirname(output)
  const config = configFor(answers, configDir)
  checkConfig(config, configDir)
  try {
    writeFileSync(output, `${JSON.stringify(config, null, 2)}\n`, {
      flag: flags.force ? 'w' : 'wx',
    })
  } catch (cause) {
    if ((cause as { code?: string }).code === 'EEXIST') {
      throw new IsogateError('ISOGATE_E_CLI_INIT_EXISTS', `${output} exists; not replacing it`)
    }
    throw new IsogateError('ISOGATE_E_CONFIG_FILE', `cannot write ${output}`, { cause })
  }

  if (flags.json) return `${JSON.stringify({ path: output, config }, null, 2)}\n`
  const paint = paintFor(io.stdout)
  const lines = [`isogate: wrote ${paint.bold(output)}`]
  if (!existsSync(packageSchemaPath())) {
    lines.push(
      paint.warn(`  note: ${packageSchemaPath()} is missing; run \`npm run build\` for editors`),
    )
  }
  const flag = output === resolve(DEFAULT_OUTPUT) ? DEFAULT_OUTPUT : output
  lines.push(`  start it with: isogate serve --config ${flag}`)
  return `${lines.join('\n')}\n`
}

export function registerInit(program: Command): void {
  const collect = (value: string, previous: string[] = []) => [...previous, value]
  program
    .command('init')
    .description('write isogate.config.json: asks on a terminal, reads flags otherwise')
    .option('--viewer <dir>', 'an OHIF build folder instead of the bundled viewer')
    .option('--folder <dir>', 'serve this folder of DICOM files')
    .option('--upstream <url>', 'proxy this DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web')
    .option('--upstream-kind <kind>', 'orthanc, dcm4chee or generic (default)')
    .option('--isolation <mode>', 'require-corp (default), credentialless, report-only, off')
    .option('--tls <mode>', 'off (default; this machine only) or auto (generated certificate)')
    .option('--cert <file>', 'TLS certificate (PEM), with --key')
    .option('--key <file>', 'TLS private key (PEM), with --cert')
    .option(
      '--embed-origin <origin>',
      'an origin allowed to frame the viewer (repeatable)',
      collect,
    )
    .option('--host <host>', 'address to listen on (default: 127.0.0.1, or 0.0.0.0 with TLS)')
    .option('-p, --port <port>', 'port to listen on (default: 8080)')
    .option('-o, --output <file>', `file to write (default: ${DEFAULT_OUTPUT})`)
    .option('-f, --force', 'replace the file if it exists')
    .option('-y, --yes', 'ask nothing, even on a terminal: flags and defaults only')
    .option('--json', 'print the path and the config written, as JSON')
    .option('-v, --verbose', 'log the answers to stderr')
    .addHelpText(
      'after',
      `
Examples:
  isogate init                                     answer a few questions
  isogate init --yes --folder ./scans              no questions: a DICOM folder, loopback only
  isogate init --upstream http://127.0.0.1:8042/dicom-web --upstream-kind orthanc --tls auto
  isogate init --isolation report-only -o staging.json --force`,
    )
    .action(async (flags: InitFlags) => {
      process.stdout.write(await runInit(flags, { stdin: process.stdin, stdout: process.stdout }))
    })
}

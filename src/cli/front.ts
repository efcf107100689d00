/**
 * `isogate front --upstream URL --allow-origin ORIGIN...`: an upstream DICOMweb root served at
 * this server's root path (FRONT/studies is UPSTREAM/studies) for viewers on other origins, with
 * CORS for exactly the listed origins and CORP on every reply. No viewer is served.
 */
import { resolve } from 'node:path'

import type { Command } from 'commander'

import { validateConfig } from '../config/load.js'
import type { IsogateConfig, IsogateConfigInput } from '../config/schema.js'
import { IsogateError } from '../errors.js'
import { startGateway } from '../gateway/start.js'
import { createLogger } from '../log.js'

export interface FrontFlags {
  upstream?: string
  allowOrigin?: string[]
  port?: string
  host?: string
  tls?: string
  cert?: string
  key?: string
  credentials?: boolean
  kind?: string
  timeout?: string
  stateDir?: string
  verbose?: boolean
}

/** Name of the one source `front` serves; it shows in logs and the status page. */
export const FRONT_SOURCE = 'front'

export function registerFront(program: Command): void {
  program
    .command('front')
    .description('serve an upstream DICOMweb root to viewers on other origins, with CORS and CORP')
    .requiredOption('--upstream <url>', 'the upstream DICOMweb root (url1,url2 to fail over)')
    .option('--allow-origin <origin...>', 'origins whose viewers may read it (exact; or *)')
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: 8080)')
    .option('--host <host>', 'address to listen on (default: 127.0.0.1)')
    .option('--tls <mode>', 'off (default; loopback only) or auto (generated certificate)')
    .option('--cert <file>', 'TLS certificate (PEM), with --key')
    .option('--key <file>', 'TLS private key (PEM), with --cert')
    .option('--credentials', 'allow credentialed requests (cookies) from the listed origins')
    .option('--kind <kind>', 'upstream kind: orthanc, dcm4chee or generic (default)')
    .option('--timeout <ms>', 'upstream timeout in milliseconds (default: 30000)')
    .option('--state-dir <dir>', 'where a generated certificate is kept')
    .option('-v, --verbose', 'log each request and more to stderr')
    .addHelpText(
      'after',
      `
Examples:
  isogate front --upstream http://127.0.0.1:8042/dicom-web --kind orthanc \\
      --allow-origin https://viewer.example.org --port 8443 --host 0.0.0.0 --tls auto
  isogate front --upstream http://127.0.0.1:8042/dicom-web --allow-origin http://localhost:3000`,
    )
    .action(async (flags: FrontFlags) => {
      await runFront(frontConfig(flags), flags.verbose === true)
    })
}

/** Turns the command line into a validated config with one front source served at `/`. */
export function frontConfig(flags: FrontFlags): IsogateConfig {
  if (!flags.allowOrigin?.length) {
    throw new IsogateError(
      'ISOGATE_E_CLI_USAGE',
      '--allow-origin is required: name the origin(s) of the viewer(s) that may read this source',
    )
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new IsogateError('ISOGATE_E_CLI_USAGE', '--cert and --key go together; give both')
  }
  const input: Record<string, unknown> = {
    listen: {
      host: flags.host ?? '127.0.0.1',
      port:
        flags.port === undefined
          ? 8080
          : /^\d+$/.test(flags.port)
            ? Number(flags.port)
            : flags.port,
    },
    sources: [
      {
        name: FRONT_SOURCE,
        mode: 'front',
        upstream: (flags.upstream ?? '')
          .split(',')
          .map((url) => url.trim())
          .filter((url) => url !== ''),
        allowOrigins: flags.allowOrigin,
        credentials: flags.credentials === true,
        ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
        ...(flags.timeout !== undefined ? { timeoutMs: Number(flags.timeout) } : {}),
      },
    ],
  }
  if (flags.cert !== undefined && flags.key !== undefined) {
    input.tls = { cert: resolve(flags.cert), key: resolve(flags.key) }
  } else if (flags.tls !== undefined) {
    input.tls = flags.tls
  }
  if (flags.stateDir !== undefined) input.stateDir = resolve(flags.stateDir)
  return validateConfig(input as IsogateConfigInput)
}

async function runFront(config: IsogateConfig, verbose: boolean): Promise<void> {
  const logger = createLogger({ verbose })
  const gateway = await startGateway(config, {
    logger,
    viewer: false,
    rootSource: FRONT_SOURCE,
  })
  const source = gateway.sources[0]?.status()
  const front = config.sources[0]
  const lines: string[] = []
  if (front?.mode === 'front') {
    const credentials = front.credentials ? ' (with credentials)' : ''
    lines.push(`isogate: fronting ${front.upstream.join(', ')} at ${gateway.url}`)
    lines.push(`  CORS for: ${front.allowOrigins.join(', ')}${credentials}`)
  }
  const error = source?.lastError ? ` (${source.lastError})` : ''
  lines.push(`  upstream: ${source?.health ?? 'unknown'}${error}`, '  press Ctrl+C to stop')
  process.stdout.write(`${lines.join('\n')}\n`)
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      done()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  process.stdout.write('isogate: stopping\n')
  await gateway.close()
}

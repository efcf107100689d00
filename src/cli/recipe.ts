/**
 * `isogate recipe TARGET`: a server configuration rendered from the header plan, on stdout or
 * into files. Flags follow `serve` where they mean the same. Unknown targets and bad options
 * are usage errors (exit 2).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

import type { Command } from 'commander'

import { IsogateError } from '../errors.js'
import { listTargets, renderRecipe, type RecipeOutput } from '../recipes/index.js'

export interface RecipeFlags {
  list?: boolean
  output?: string
  root?: string
  basePath?: string
  port?: string
  host?: string
  serverName?: string
  upstream?: string
  mode?: string
  mountPath?: string
  isolation?: string
  allowOrigin?: string[]
  embedOrigin?: string[]
  cert?: string
  key?: string
  includeDir?: string
  gateway?: string[]
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

/** One text: a single file as it is, several files each under a `# ==> path` line. */
export function formatOutput(output: RecipeOutput): string {
  const notes = output.notes.map((n) => `# note: ${n}`).join('\n')
  if (output.files.length === 1)
    return `${output.files[0]!.content.trimEnd()}\n${notes ? `\n${notes}\n` : ''}`
  const parts = output.files.map((f) => `# ==> ${f.path} <==\n${f.content.trimEnd()}\n`)
  return `${parts.join('\n')}${notes ? `\n${notes}\n` : ''}`
}

export function runRecipe(target: string | undefined, flags: RecipeFlags): string {
  if (flags.list)
    return (
      listTargets()
        .map((t) => `${t.name}\t${t.verifiedBy}\t${t.description}`)
        .join('\n') + '\n'
    )
  if (!target) {
    throw new IsogateError('ISOGATE_E_RECIPE_TARGET', 'name a target, or run with --list')
  }
  if (flags.mode !== undefined && flags.mode !== 'proxy' && flags.mode !== 'front') {
    throw new IsogateError('ISOGATE_E_RECIPE_OPTION', `--mode ${flags.mode} is not proxy or front`)
  }
  const given = {
    root: flags.root,
    basePath: flags.basePath,
    port: flags.port,
    host: flags.host,
    serverName: flags.serverName,
    upstream: flags.upstream,
    mode: flags.mode as 'proxy' | 'front' | undefined,
    mountPath: flags.mountPath,
    isolation: flags.isolation,
    allowOrigins: flags.allowOrigin,
    embedOrigins: flags.embedOrigin,
    cert: flags.cert,
    key: flags.key,
    includeDir: flags.includeDir,
    gateways: flags.gateway,
  }
  // Flags not given are left out, so each target's own defaults stand (a key present with
  // `undefined` would override them when merged).
  const options = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined))
  const output = renderRecipe(target, options)
  if (!flags.output) return formatOutput(output)
  if (output.files.length === 1) {
    mkdirSync(dirname(flags.output), { recursive: true })
    writeFileSync(flags.output, output.files[0]!.content)
  } else {
    // Several files: -o names a folder.
    for (const file of output.files) {
      const path = join(flags.output, file.path)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, file.content)
    }
  }
  return output.notes.map((n) => `note: ${n}`).join('\n') + (output.notes.length ? '\n' : '')
}

export function registerRecipe(program: Command): void {
  program
    .command('recipe')
    .description('print a server configuration that sends the header plan (nginx, Caddy, ...)')
    .argument('[target]', 'the server or host to configure; --list shows them')
    .option('--list', 'list the targets, one a line')
    .option('-o, --output <path>', 'write to this file (a folder for multi-file targets)')
    .option('--root <dir>', 'where the viewer build is on the target machine')
    .option('--base-path <path>', 'serve the viewer under this path, e.g. /viewer/')
    .option('-p, --port <port>', 'port the server listens on')
    .option('--host <host>', 'address the server listens on')
    .option('--server-name <name>', 'the public host name')
    .option('--upstream <url>', 'upstream DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web')
    .option('--mode <mode>', 'proxy (same origin, default) or front (CORS for --allow-origin)')
    .option('--mount-path <path>', 'where DICOMweb appears on this server (default: its path)')
    .option('--isolation <mode>', 'require-corp (default), credentialless, report-only, off')
    .option(
      '--allow-origin <origin>',
      'an origin that may call a fronted source (repeatable)',
      collect,
    )
    .option('--embed-origin <origin>', 'an origin that may frame the viewer (repeatable)', collect)
    .option('--cert <file>', 'TLS certificate path on the target machine')
    .option('--key <file>', 'TLS key path on the target machine')
    .option('--include-dir <dir>', 'nginx: where the header include files go')
    .option(
      '--gateway <host:port>',
      'nginx-balance: a gateway to balance over (repeatable)',
      collect,
    )
    .addHelpText(
      'after',
      `
Examples:
  isogate recipe --list
  isogate recipe nginx --root /srv/ohif --upstream http://127.0.0.1:8042/dicom-web
  isogate recipe caddy --server-name viewer.example.org --port 443 --cert c.pem --key k.pem
  isogate recipe orthanc-nginx-cors --allow-origin https://viewer.example.org -o site/
  isogate recipe nginx-balance --gateway 10.0.0.11:8080 --gateway 10.0.0.12:8080`,
    )
    .action((target: string | undefined, flags: RecipeFlags) => {
      try {
        process.stdout.write(runRecipe(target, flags))
      } catch (error) {
        // A wrong target or option is a usage error: exit 2, as for serve's config errors.
        if (error instanceof IsogateError && error.code.startsWith('ISOGATE_E_RECIPE')) {
          process.stderr.write(`isogate: ${error.message}\n  ${error.code}: ${error.hint}\n`)
          process.exitCode = 2
          return
        }
        throw error
      }
    })
}

/**
 * The `isogate` command. Each subcommand lives in its own module and registers itself here;
 * exit codes: 0 success, 1 a finding or failure the command reports, 2 bad usage or config.
 */
import { readFileSync } from 'node:fs'

import { Command, CommanderError } from 'commander'

import { isIsogateError } from '../errors.js'
import { registerDoctor } from './doctor.js'
import { registerFront } from './front.js'
import { registerInit } from './init.js'
import { registerRecipe } from './recipe.js'
import { registerServe } from './serve.js'
import { registerStatus } from './status.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

export function buildProgram(): Command {
  const program = new Command('isogate')
    .description(
      'Serve web imaging viewers cross-origin isolated, and diagnose those that are not.',
    )
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage and examples)')
    .exitOverride()

  registerServe(program)
  registerFront(program)
  registerDoctor(program)
  registerRecipe(program)
  registerInit(program)
  registerStatus(program)

  program.addHelpText(
    'after',
    `
Examples:
  isogate serve                                  the bundled demo study in OHIF, isolated
  isogate serve ./scans                          your DICOM folder, browsed in OHIF
  isogate serve --source pacs=http://127.0.0.1:8042/dicom-web
  isogate doctor https://viewer.example.org/
  isogate recipe nginx --upstream http://127.0.0.1:8042/dicom-web
  isogate init                                   write isogate.config.json (asks on a terminal)
  isogate status                                 what a running gateway isolates, serves, reports`,
  )
  return program
}

/** Prints an error the way every command does: code, sentence, hint. */
export function reportError(error: unknown): number {
  if (isIsogateError(error)) {
    // Exit 2 means "the command could not do its job as asked": bad usage or config, a refused
    // insecure listen, a doctor that could not reach its target, an unknown recipe target.
    // A folder, viewer or certificate named in the config that is not there is a bad value too.
    const usage =
      error.code === 'ISOGATE_E_CLI_USAGE' ||
      error.code === 'ISOGATE_E_INSECURE_LISTEN' ||
      error.code === 'ISOGATE_E_DICOM_FOLDER' ||
      error.code === 'ISOGATE_E_VIEWER_MISSING' ||
      error.code === 'ISOGATE_E_TLS_CERTIFICATE' ||
      /^ISOGATE_E_(CONFIG|DOCTOR|RECIPE)_/.test(error.code)
    const lines = error.message.split('\n')
    for (const line of lines) process.stderr.write(`isogate: ${line}\n`)
    process.stderr.write(`  ${error.code}: ${error.hint}\n`)
    return usage ? 2 : 1
  }
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? 0 : 2
  }
  process.stderr.write(`isogate: unexpected error: ${String((error as Error)?.stack ?? error)}\n`)
  return 1
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (error) {
    return reportError(error)
  }
}

const code = await main(process.argv)
if (code !== 0) process.exitCode = code

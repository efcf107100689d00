/** The `isogate doctor` command (placeholder until its issue lands: it refuses to run). */
import type { Command } from 'commander'

import { IsogateError } from '../errors.js'

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('not available in this build yet')
    .allowUnknownOption()
    .action(() => {
      throw new IsogateError(
        'ISOGATE_E_CLI_USAGE',
        '`isogate doctor` is not available in this build',
      )
    })
}

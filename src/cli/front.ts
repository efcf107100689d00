/** The `isogate front` command (placeholder until its issue lands: it refuses to run). */
import type { Command } from 'commander'

import { IsogateError } from '../errors.js'

export function registerFront(program: Command): void {
  program
    .command('front')
    .description('not available in this build yet')
    .allowUnknownOption()
    .action(() => {
      throw new IsogateError(
        'ISOGATE_E_CLI_USAGE',
        '`isogate front` is not available in this build',
      )
    })
}

/** The `isogate recipe` command (placeholder until its issue lands: it refuses to run). */
import type { Command } from 'commander'

import { IsogateError } from '../errors.js'

export function registerRecipe(program: Command): void {
  program
    .command('recipe')
    .description('not available in this build yet')
    .allowUnknownOption()
    .action(() => {
      throw new IsogateError(
        'ISOGATE_E_CLI_USAGE',
        '`isogate recipe` is not available in this build',
      )
    })
}

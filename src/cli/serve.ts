/** The `isogate serve` command (placeholder: replaced by the serve implementation). */
import type { Command } from 'commander'

import { IsogateError } from '../errors.js'

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('not available in this build yet')
    .action(() => {
      throw new IsogateError('ISOGATE_E_CLI_USAGE', '`isogate serve` is not available yet')
    })
}

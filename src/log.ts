/**
 * The structured logger. Quiet by default (warnings and errors only); `--verbose` lowers the
 * level to debug, where each request gets one line. Core modules never log: they return results,
 * and the gateway and CLI decide what to say.
 */
import { pino, type Logger } from 'pino'

export type { Logger }

export interface LoggerOptions {
  verbose?: boolean
  level?: pino.LevelWithSilent
  /** Where lines go; defaults to stderr so that stdout stays for command output. */
  destination?: pino.DestinationStream
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (options.verbose ? 'debug' : 'warn')
  return pino(
    {
      level,
      base: { name: 'isogate' },
      // Query strings may carry patient names (QIDO); keep them out of routine request lines.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  )
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/**
 * Colour for human output, only where a person reads it: on a terminal, unless NO_COLOR is set
 * (https://no-color.org) or TERM is `dumb`. FORCE_COLOR=1 turns it on for pipes (CI logs that
 * render ANSI). Everything else, including `--json` output, stays plain.
 */

export interface Paint {
  readonly enabled: boolean
  ok(text: string): string
  bad(text: string): string
  warn(text: string): string
  bold(text: string): string
  dim(text: string): string
}

interface ColourStream {
  readonly isTTY?: boolean
}

/** Whether to colour text written to `stream`, by the rules above. */
export function colourWanted(stream: ColourStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true && env.TERM !== 'dumb'
}

/** Colour functions for a stream; they return the text unchanged when colour is off. */
export function paintFor(stream: ColourStream, env: NodeJS.ProcessEnv = process.env): Paint {
  const enabled = colourWanted(stream, env)
  const sgr = (open: number, close: number) => (text: string) =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text
  return {
    enabled,
    ok: sgr(32, 39),
    bad: sgr(31, 39),
    warn: sgr(33, 39),
    bold: sgr(1, 22),
    dim: sgr(2, 22),
  }
}

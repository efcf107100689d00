/**
 * Response headers as the rules see them: every field line kept, names lower-cased. Keeping the
 * lines apart matters because two identical lines of COEP break isolation (R-SF-1) while two of
 * X-Frame-Options collapse into one (R-FRAME-4).
 */

/** Field lines by lower-cased name, in the order received. */
export type HeaderLines = Readonly<Record<string, readonly string[]>>

/** Builds header lines from `[name, value]` pairs (any case); repeated names keep every line. */
export function headerLines(pairs: Iterable<readonly [string, string]>): HeaderLines {
  const out: Record<string, string[]> = {}
  for (const [name, value] of pairs) {
    const key = name.toLowerCase()
    ;(out[key] ??= []).push(value)
  }
  return out
}

/** The lines of one header, empty when absent. */
export function linesOf(headers: HeaderLines, name: string): readonly string[] {
  return headers[name.toLowerCase()] ?? []
}

/**
 * The Fetch "get" of a header: lines combined with `, `, or null when absent. Leading and
 * trailing HTTP whitespace (SP, HTAB) is stripped from each line first, as HTTP parsing does.
 */
export function combined(headers: HeaderLines, name: string): string | null {
  const lines = linesOf(headers, name)
  if (lines.length === 0) return null
  return lines.map(trimOws).join(', ')
}

/** Strips optional whitespace (SP and HTAB only) the way an HTTP parser does. */
export function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '')
}

/** Evidence value for a header: its lines joined by newlines, or null when absent. */
export function shown(headers: HeaderLines, name: string): string | null {
  const lines = linesOf(headers, name)
  return lines.length === 0 ? null : lines.join('\n')
}

/**
 * Rewriting a root-built viewer for a sub-path without rebuilding it. The npm build of OHIF
 * assumes `/`: index.html sets `window.PUBLIC_URL="/"` and links assets root-absolute, CSS
 * points at fonts under `/`, and webpack's runtime hard-codes `__webpack_require__.p = "/"`
 * (the app bundle and each worker bundle), from which every lazy chunk and wasm is loaded.
 * The rules below move those to the base path; nothing else in a file changes.
 */
import { Transform, type TransformCallback } from 'node:stream'

import { extensionOf } from './classify.js'

export interface RewriteRule {
  readonly pattern: RegExp
  readonly replacement: string
}

/** Longest text a rule can match, plus the one character of look-ahead some rules use. */
const MAX_MATCH = 96

/** The rules for one file of the build under `basePath`, or none when it needs no change. */
export function rewriteRulesFor(relPath: string, basePath: string): readonly RewriteRule[] {
  if (basePath === '/') return []
  const base = basePath
  switch (extensionOf(relPath)) {
    case 'html':
      return [
        {
          pattern: /window\.PUBLIC_URL\s*=\s*(["'])\/\1/g,
          replacement: `window.PUBLIC_URL=$1${base}$1`,
        },
        // Root-absolute links, but not protocol-relative ones (`//cdn…`).
        { pattern: /(\s(?:href|src|content)=)(["'])\/(?!\/)/g, replacement: `$1$2${base}` },
      ]
    case 'css':
      return [{ pattern: /url\((["']?)\/(?!\/)/g, replacement: `url($1${base}` }]
    case 'js':
    case 'mjs':
      return [
        {
          pattern: /__webpack_require__\.p\s*=\s*(["'])\/\1/g,
          replacement: `__webpack_require__.p = $1${base}$1`,
        },
      ]
    case 'json':
    case 'webmanifest':
      if (!/(?:^|\/)manifest\.json$|\.webmanifest$/.test(relPath)) return []
      return [
        {
          pattern: /("(?:src|start_url|scope)"\s*:\s*")\/(?!\/)/g,
          replacement: `$1${base}`,
        },
      ]
    default:
      return []
  }
}

/** Applies rules to a whole string; returns the text and how many replacements were made. */
export function rewriteText(
  text: string,
  rules: readonly RewriteRule[],
): { text: string; count: number } {
  let count = 0
  let out = text
  for (const rule of rules) {
    out = out.replace(rule.pattern, (...args: unknown[]) => {
      count++
      // Expand $1…$9 of the replacement from this match's groups.
      return rule.replacement.replace(/\$(\d)/g, (_, n: string) => String(args[Number(n)] ?? ''))
    })
  }
  return { text: out, count }
}

/**
 * A streaming rewriter. Bytes are handled as latin1 so that any encoding passes through
 * unchanged (the patterns are ASCII). The last MAX_MATCH characters of each chunk wait for the
 * next one, so a match split across chunks is still found; a 17 MB bundle never sits in memory.
 */
export class RewriteStream extends Transform {
  #carry = ''
  #count = 0

  constructor(private readonly rules: readonly RewriteRule[]) {
    super()
  }

  /** Replacements made so far (final once the stream has ended). */
  get count(): number {
    return this.#count
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const text = this.#carry + chunk.toString('latin1')
    const cut = this.#safeCut(text)
    this.#carry = text.slice(cut)
    this.#emit(text.slice(0, cut))
    done()
  }

  override _flush(done: TransformCallback): void {
    this.#emit(this.#carry)
    this.#carry = ''
    done()
  }

  /** Where to split: MAX_MATCH before the end, moved back to the start of any match across it. */
  #safeCut(text: string): number {
    let cut = Math.max(0, text.length - MAX_MATCH)
    // Moving the cut back for one rule may split another rule's match: repeat until stable.
    for (let moved = true; moved;) {
      moved = false
      for (const rule of this.rules) {
        const pattern = new RegExp(rule.pattern.source, 'g')
        pattern.lastIndex = Math.max(0, cut - MAX_MATCH)
        for (let m = pattern.exec(text); m !== null && m.index < cut; m = pattern.exec(text)) {
          if (m.index + m[0].length + 1 > cut) {
            cut = m.index
            moved = true
            break
          }
          if (m[0].length === 0) pattern.lastIndex++
        }
      }
    }
    return cut
  }

  #emit(text: string): void {
    if (text.length === 0) return
    const result = rewriteText(text, this.rules)
    this.#count += result.count
    this.push(Buffer.from(result.text, 'latin1'))
  }
}

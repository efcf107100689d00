/**
 * Which server answered, from its `Server` header, and the fix for it: the recipes module
 * renders the full configuration for the servers it knows (nginx, Apache, Caddy, Express), a
 * header snippet stands in if a recipe refuses, and an unknown server gets "cannot tell".
 */
import type { HeaderLines } from '../policy/rules/index.js'
import { combined } from '../policy/rules/index.js'
import { renderRecipe } from '../recipes/index.js'

export type ServerKind =
  | 'nginx'
  | 'apache'
  | 'caddy'
  | 'express'
  | 'iis'
  | 'orthanc'
  | 'isogate'
  | 'cloudflare'
  | 'node'
  | 'unknown'

export interface ServerGuess {
  readonly kind: ServerKind
  /** What gave it away (`Server: nginx/1.24.0`). */
  readonly evidence: string
}

/** Guesses the server from response headers. */
export function detectServer(headers: HeaderLines): ServerGuess {
  const server = combined(headers, 'Server') ?? ''
  const powered = combined(headers, 'X-Powered-By') ?? ''
  const rules: Array<[RegExp, string, ServerKind]> = [
    [/^nginx|openresty/i, server, 'nginx'],
    [/^apache/i, server, 'apache'],
    [/^caddy/i, server, 'caddy'],
    [/microsoft-iis/i, server, 'iis'],
    [/orthanc/i, server, 'orthanc'],
    [/isogate/i, server, 'isogate'],
    [/cloudflare/i, server, 'cloudflare'],
    [/express/i, powered, 'express'],
  ]
  for (const [pattern, value, kind] of rules) {
    if (pattern.test(value)) {
      const header = value === server ? 'Server' : 'X-Powered-By'
      return { kind, evidence: `${header}: ${value}` }
    }
  }
  if (combined(headers, 'Keep-Alive') !== null && server === '' && powered === '') {
    // Node's http module sends Keep-Alive and no Server header unless told otherwise.
    return { kind: 'node', evidence: 'no Server header, Keep-Alive: timeout=... (Node.js)' }
  }
  return { kind: 'unknown', evidence: server ? `Server: ${server}` : 'no Server header' }
}

/** Recipe targets for server kinds (names the recipes module uses). */
const RECIPE_TARGET: Partial<Record<ServerKind, string>> = {
  nginx: 'nginx',
  apache: 'apache',
  caddy: 'caddy',
  express: 'express',
}

export interface ServerFix {
  readonly target: string | null
  /** Files to drop in (from the recipes module), or a snippet of headers. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>
  readonly notes: readonly string[]
}

const SNIPPETS: Partial<Record<ServerKind, string>> = {
  nginx: [
    '# in every server/location block that has its own add_header (they do not inherit):',
    'add_header Cross-Origin-Opener-Policy same-origin always;',
    'add_header Cross-Origin-Embedder-Policy require-corp always;',
    'add_header Cross-Origin-Resource-Policy same-origin always;',
  ].join('\n'),
  apache: [
    'Header always set Cross-Origin-Opener-Policy "same-origin"',
    'Header always set Cross-Origin-Embedder-Policy "require-corp"',
    'Header always set Cross-Origin-Resource-Policy "same-origin"',
  ].join('\n'),
  caddy: [
    'header {',
    '  Cross-Origin-Opener-Policy same-origin',
    '  Cross-Origin-Embedder-Policy require-corp',
    '  Cross-Origin-Resource-Policy same-origin',
    '}',
  ].join('\n'),
  express: [
    'app.use((req, res, next) => {',
    "  res.set('Cross-Origin-Opener-Policy', 'same-origin')",
    "  res.set('Cross-Origin-Embedder-Policy', 'require-corp')",
    "  res.set('Cross-Origin-Resource-Policy', 'same-origin')",
    '  next()',
    '}) // before express.static, so every file and error page gets them',
  ].join('\n'),
}

/** The fix for a server: a rendered recipe where one exists, else a snippet, else "cannot tell". */
export function fixFor(guess: ServerGuess, upstream?: string): ServerFix {
  const target = RECIPE_TARGET[guess.kind]
  if (target) {
    try {
      const out = renderRecipe(target, upstream ? { upstream } : {})
      return { target, files: out.files, notes: out.notes }
    } catch {
      // A recipe that refuses these options falls back to the snippet below.
    }
  }
  const snippet = SNIPPETS[guess.kind]
  if (snippet) {
    return {
      target: guess.kind,
      files: [{ path: `${guess.kind} (snippet)`, content: snippet }],
      notes: [],
    }
  }
  if (guess.kind === 'isogate') {
    return {
      target: null,
      files: [],
      notes: ['served by Isogate: check `isolation` in its config'],
    }
  }
  return {
    target: null,
    files: [],
    notes: [
      `cannot tell which server this is (${guess.evidence}); send COOP same-origin, COEP ` +
        'require-corp and CORP same-origin on every response, errors included, or run ' +
        '`isogate recipe --list` for the servers Isogate can write a configuration for',
    ],
  }
}

/** Known ways each server loses headers, recognised from what the probes saw. */
export function serverQuirks(guess: ServerGuess, codes: ReadonlySet<string>): string[] {
  const notes: string[] = []
  const errorPages =
    codes.has('ERROR_PAGE_HEADERS_MISSING') || codes.has('CORS_ACAO_MISSING_ON_ERROR')
  const partial = codes.has('WORKER_COEP_MISSING') || codes.has('DEEP_LINK_NOT_ISOLATED')
  if (guess.kind === 'nginx' && errorPages) {
    notes.push(
      'nginx adds `add_header` lines to 2xx/3xx replies only, unless each ends in `always`',
    )
  }
  if (guess.kind === 'nginx' && partial) {
    notes.push(
      'an nginx block with any add_header of its own inherits none from the server block: ' +
        'repeat the isolation headers (or an include file) in every such location',
    )
  }
  if (guess.kind === 'apache' && errorPages) {
    notes.push('Apache `Header set` skips error replies; use `Header always set`')
  }
  return notes
}

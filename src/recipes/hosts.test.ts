/**
 * Path-rule hosts read back: each rendered file is parsed (JSON, smol-toml, fast-xml-parser)
 * and the host's documented rule semantics are applied to sample paths of every class: every
 * matching rule adds its headers (Netlify/Cloudflare `*` splats and `:placeholders`, Cloudflare
 * `! Name` detach; Vercel path-to-regexp 6 sources; Firebase RE2 regexes; IIS customHeaders +
 * `<location path>` after URL Rewrite). The union must be `headersFor(plan, class, 200)`, each
 * header exactly once; the only differences allowed are the ones the notes and docs admit.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { XMLParser } from 'fast-xml-parser'
import { parse as parseToml } from 'smol-toml'

import { headersFor, type ResponseClass } from '../policy/plan.js'
import { listTargets, renderRecipe, type RecipeOptions } from './index.js'
import { contextOf } from './model.js'
import { classOfPath } from './paths.js'

type Headers = Array<readonly [string, string]>

const OHIF = join(process.cwd(), 'vendor', 'ohif')

/** Sample paths of every class: the build's top-level files, client routes, missing files. */
function samples(base: string): string[] {
  const files = readdirSync(OHIF, { withFileTypes: true })
    .filter((e) => e.isFile() && /^[^_].*\.[a-z0-9]+$/i.test(e.name))
    .map((e) => `${base}${e.name}`)
  return [
    ...files,
    base,
    `${base}viewer`,
    `${base}tmtv/abc`,
    `${base}assets/android-chrome-144x144.png`,
    `${base}no-such-chunk.js`,
    `${base}assets/missing.png`,
  ]
}

/** Which departures from the plan a host admits (its notes say each one). */
interface Allowances {
  /** Document headers but Cache-Control also on other classes (widened, harmless). */
  readonly widened: boolean
  /** Client-side routes may keep the host's Cache-Control. */
  readonly clientRouteCache: boolean
  /** Pages other than index.html may keep the host's Cache-Control. */
  readonly otherPageCache: boolean
}

const EXACT: Allowances = { widened: false, clientRouteCache: false, otherPageCache: false }

function compare(options: RecipeOptions, path: string, got: Headers, allow: Allowances): string[] {
  const ctx = contextOf(options)
  const cls: ResponseClass = classOfPath(ctx.basePath, path, false)
  const want = headersFor(ctx.plan, cls, 200)
  const document = headersFor(ctx.plan, 'document', 200)
  const problems: string[] = []
  const lower = (n: string) => n.toLowerCase()
  const seen = new Map<string, string[]>()
  for (const [name, value] of got) seen.set(lower(name), [...(seen.get(lower(name)) ?? []), value])
  for (const [name, values] of seen) {
    if (values.length !== 1) problems.push(`${path}: ${name} ${values.length} times`)
  }
  const isClientRoute = cls === 'document' && !/\.[A-Za-z0-9]+$/.test(path)
  const isOtherPage = cls === 'document' && /\.html$/.test(path) && !path.endsWith('/index.html')
  for (const [name, value] of want) {
    const values = seen.get(lower(name))
    const mayMiss =
      lower(name) === 'cache-control' &&
      ((allow.clientRouteCache && isClientRoute) || (allow.otherPageCache && isOtherPage))
    if (values === undefined && mayMiss) continue
    if (values?.[0] !== value)
      problems.push(`${path} (${cls}): ${name} ${values?.[0]}, want ${value}`)
  }
  for (const [name, values] of seen) {
    if (want.some(([n]) => lower(n) === name)) continue
    const widened =
      allow.widened &&
      name !== 'cache-control' &&
      document.some(([n, v]) => lower(n) === name && v === values[0])
    if (!widened) problems.push(`${path} (${cls}): ${name}: ${values[0]} not planned`)
  }
  return problems
}

/** Netlify/Cloudflare path patterns: `*` any characters, `:name` one segment. */
function splatRegex(pattern: string): RegExp {
  const body = pattern
    .split(/(\*|:[A-Za-z]\w*)/)
    .map((part) =>
      part === '*'
        ? '.*'
        : part.startsWith(':')
          ? '[^/]+'
          : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('')
  return new RegExp(`^${body}$`)
}

/** A `_headers` file: blocks of a path line and indented `Name: value` / `! Name` lines. */
function parseHeadersFile(text: string) {
  const blocks: Array<{ pattern: string; set: Headers; detach: string[]; comments: number }> = []
  let comments = 0
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    if (line.trim().startsWith('#')) {
      comments++
      continue
    }
    if (!/^\s/.test(line)) {
      blocks.push({ pattern: line.trim(), set: [], detach: [], comments: 0 })
      continue
    }
    const block = blocks.at(-1)!
    const detach = /^\s+!\s*(\S+)$/.exec(line)
    const header = /^\s+([A-Za-z0-9-]+):\s*(.*)$/.exec(line)
    if (detach) block.detach.push(detach[1]!.toLowerCase())
    else if (header) block.set.push([header[1]!, header[2]!])
    else assert.fail(`not a _headers line: ${line}`)
    block.comments = comments
  }
  return blocks
}

function headersFileAt(text: string, path: string, detach: boolean): Headers {
  const matching = parseHeadersFile(text).filter((b) => splatRegex(b.pattern).test(path))
  const off = new Set(matching.flatMap((b) => b.detach))
  if (!detach) assert.equal(off.size, 0, 'this host has no `! Name` detach')
  return matching.flatMap((b) => b.set).filter(([n]) => !off.has(n.toLowerCase()))
}

/**
 * Vercel compiles `source` with path-to-regexp 6 (strict, case-sensitive). The recipe writes
 * one shape, `/(pattern)`, which 6 compiles to `^(?:\/(pattern))$`; its lexer refuses a group
 * that starts with `?` or holds a capturing group, checked here the same way.
 */
function vercelRegex(source: string): RegExp {
  const m = /^\/\((.*)\)$/s.exec(source)
  assert.ok(m, `unexpected source shape ${source}`)
  const pattern = m[1]!
  assert.notEqual(pattern[0], '?', 'path-to-regexp 6: pattern cannot start with "?"')
  let depth = 1
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++
    else if (pattern[i] === ')') assert.ok(--depth > 0, `group closes early in ${source}`)
    else if (pattern[i] === '(') {
      depth++
      assert.equal(pattern[i + 1], '?', `path-to-regexp 6: capturing group in ${source}`)
    }
  }
  return new RegExp(`^(?:\\/(${pattern}))$`)
}

/** RE2 (Firebase) has no lookaround and no backreferences. */
function re2(regex: string): RegExp {
  assert.doesNotMatch(regex, /\(\?[=!<]|\\[1-9]/, `not RE2: ${regex}`)
  return new RegExp(regex)
}

interface HostCase {
  readonly target: string
  readonly allow: Allowances
  readonly headersAt: (files: Map<string, string>, path: string) => Headers
}

const NETLIFY_ALLOW: Allowances = { widened: true, clientRouteCache: true, otherPageCache: false }

const HOSTS: readonly HostCase[] = [
  {
    target: 'netlify',
    allow: NETLIFY_ALLOW,
    headersAt: (files, path) => headersFileAt(files.get('_headers')!, path, false),
  },
  {
    target: 'netlify-toml',
    allow: NETLIFY_ALLOW,
    headersAt: (files, path) => {
      const toml = parseToml(files.get('netlify.toml')!) as {
        headers: Array<{ for: string; values: Record<string, string> }>
      }
      return toml.headers
        .filter((h) => splatRegex(h.for).test(path))
        .flatMap((h) => Object.entries(h.values))
    },
  },
  {
    // `! Name` takes widened headers off every listed extension: exact but for client routes.
    target: 'cloudflare-pages',
    allow: { widened: false, clientRouteCache: true, otherPageCache: false },
    headersAt: (files, path) => headersFileAt(files.get('_headers')!, path, true),
  },
  {
    target: 'vercel',
    allow: EXACT,
    headersAt: (files, path) => {
      const json = JSON.parse(files.get('vercel.json')!) as {
        headers: Array<{ source: string; headers: Array<{ key: string; value: string }> }>
      }
      return json.headers
        .filter((h) => vercelRegex(h.source).test(path))
        .flatMap((h) => h.headers.map((x) => [x.key, x.value] as const))
    },
  },
  {
    target: 'firebase',
    allow: EXACT,
    headersAt: (files, path) => {
      const json = JSON.parse(files.get('firebase.json')!) as {
        hosting: {
          headers: Array<{ regex: string; headers: Array<{ key: string; value: string }> }>
        }
      }
      return json.hosting.headers
        .filter((h) => re2(h.regex).test(path))
        .flatMap((h) => h.headers.map((x) => [x.key, x.value] as const))
    },
  },
  {
    target: 'iis',
    allow: { widened: true, clientRouteCache: false, otherPageCache: true },
    headersAt: (files, path) => iisHeadersAt(files.get('web.config')!, path),
  },
]

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  isArray: (name) => ['add', 'location', 'rule', 'remove', 'mimeMap'].includes(name),
})

type Adds = Array<{ name: string; value: string }>
type WebServer = {
  httpProtocol?: { customHeaders?: { add?: Adds } }
  rewrite?: { rules: { rule: Array<Record<string, never>> } }
}

/**
 * IIS: the folder's customHeaders, then the `<location path>` of the (rewritten) file adds
 * its own; the client-route rule rewrites a path that is no file to index.html. A name a
 * `<location>` adds again would be a duplicate collection entry (IIS answers 500).
 */
function iisHeadersAt(text: string, path: string): Headers {
  const config = xmlParser.parse(text) as {
    configuration: {
      'system.webServer': WebServer
      location?: Array<{ path: string; 'system.webServer': WebServer }>
    }
  }
  const root = config.configuration['system.webServer']
  const rel = path.slice(1)
  const rule = root.rewrite!.rules.rule[0] as unknown as {
    match: { url: string; ignoreCase: string }
    action: { type: string; url: string }
    conditions: { add: Array<{ matchType: string; negate: string }> }
  }
  assert.equal(rule.match.ignoreCase, 'false')
  assert.deepEqual(
    rule.conditions.add.map((c) => `${c.matchType}:${c.negate}`),
    ['IsFile:true'],
  )
  // Samples without an extension are no file (the folder itself is none either).
  const isFile = /\.[A-Za-z0-9]+$/.test(rel) && !rel.includes('missing') && !rel.includes('no-such')
  const file = new RegExp(rule.match.url).test(rel) && !isFile ? rule.action.url : rel
  const own = (root.httpProtocol?.customHeaders?.add ?? []).map((a) => [a.name, a.value] as const)
  const location = config.configuration.location?.find((l) => l.path === file)
  const added = location?.['system.webServer'].httpProtocol?.customHeaders?.add ?? []
  for (const a of added) {
    assert.ok(!own.some(([n]) => n === a.name), `duplicate collection entry ${a.name}`)
  }
  return [...own, ...added.map((a) => [a.name, a.value] as const)]
}

const INTENTS: ReadonlyArray<[string, RecipeOptions]> = [
  ['require-corp at /', {}],
  ['credentialless', { isolation: 'credentialless' }],
  ['report-only, framed by a portal', { isolation: 'report-only', embedOrigins: ['https://p.ex'] }],
  ['isolation off', { isolation: 'off' }],
]

describe('path-rule hosts: the union of matching rules is the plan, each header once', () => {
  for (const host of HOSTS) {
    for (const [label, options] of INTENTS) {
      it(`${host.target}, ${label}`, () => {
        const out = renderRecipe(host.target, options)
        const files = new Map(out.files.map((f) => [f.path, f.content]))
        const problems = samples('/').flatMap((path) =>
          compare(options, path, host.headersAt(files, path), host.allow),
        )
        assert.deepEqual(problems, [])
      })
    }
  }

  it('Vercel and Firebase rewrite client routes only: a missing chunk stays 404', () => {
    const vercel = JSON.parse(renderRecipe('vercel', {}).files[0]!.content) as {
      rewrites: Array<{ source: string; destination: string }>
    }
    const firebase = JSON.parse(renderRecipe('firebase', {}).files[0]!.content) as {
      hosting: { rewrites: Array<{ regex: string; destination: string }> }
    }
    const spa = [vercelRegex(vercel.rewrites[0]!.source), re2(firebase.hosting.rewrites[0]!.regex)]
    for (const re of spa) {
      for (const path of ['/', '/viewer', '/tmtv/abc', '/viewer/']) assert.match(path, re)
      for (const path of ['/no-such-chunk.js', '/x.wasm', '/index.html', '/a/b.png']) {
        assert.doesNotMatch(path, re)
      }
    }
    assert.equal(vercel.rewrites[0]!.destination, '/index.html')
  })

  it('every _headers and netlify.toml header line has a comment above it', () => {
    for (const [target, file] of [
      ['netlify', '_headers'],
      ['cloudflare-pages', '_headers'],
      ['netlify-toml', 'netlify.toml'],
      ['iis', 'web.config'],
    ] as const) {
      const lines = renderRecipe(target, {})
        .files.find((f) => f.path === file)!
        .content.split('\n')
      lines.forEach((line, i) => {
        if (/^\s+("?[A-Z][A-Za-z-]+"?\s*[:=]|<add name=)/.test(line)) {
          assert.match(lines[i - 1] ?? '', /^\s*(#|<!--)/, `${target}: ${line}`)
        }
      })
    }
  })

  it('a fronted or proxied upstream is refused: these hosts cannot set its headers', () => {
    for (const host of HOSTS) {
      assert.throws(
        () => renderRecipe(host.target, { upstream: 'http://127.0.0.1:8042/dicom-web' }),
        { code: 'ISOGATE_E_RECIPE_OPTION', message: /isogate front/ },
        host.target,
      )
    }
  })

  it('--list names them as verified by format', () => {
    const names = listTargets().map((t) => `${t.name}:${t.verifiedBy}`)
    for (const host of HOSTS) assert.ok(names.includes(`${host.target}:format`), host.target)
  })
})

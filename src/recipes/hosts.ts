/**
 * Static hosts that add headers by path (layers.ts): Netlify (`_headers` + `_redirects`, or
 * `netlify.toml`), Cloudflare Pages (`_headers`), Vercel (`vercel.json`) and Firebase Hosting
 * (`firebase.json`). None of them can put headers on a proxied reply or choose by status; the
 * notes say what each cannot do. JSON has no comments, so the reasons go in the notes. Pure.
 */
import type { RecipeContext, RecipeOutput } from './model.js'
import {
  EXTENSIONLESS,
  headerLayers,
  layerRegex,
  pathOnlyNotes,
  refuseUpstream,
  splatLayers,
  type SplatLayer,
} from './layers.js'
import { escapeRegex } from './paths.js'

const HEAD = (target: string, ctx: RecipeContext) =>
  `# Rendered by \`isogate recipe ${target}\` from the Isogate header plan ` +
  `(isolation: ${ctx.plan.intent.isolation}).`

/** Static file extensions a viewer build holds: Cloudflare detaches document-only headers. */
const STATIC_EXTENSIONS = [
  'css',
  'json',
  'svg',
  'png',
  'jpg',
  'jpeg',
  'gif',
  'webp',
  'ico',
  'woff',
  'woff2',
  'ttf',
  'otf',
  'eot',
  'map',
  'txt',
  'webmanifest',
]

/** Groups splat layers by pattern: one `_headers` block per pattern, its lines commented. */
function headersFile(target: string, ctx: RecipeContext, detach: boolean): string {
  const blocks = new Map<string, string[]>()
  const add = (pattern: string, lines: string[]) =>
    blocks.set(pattern, [...(blocks.get(pattern) ?? []), ...lines])
  const layers = splatLayers(ctx)
  for (const layer of layers) {
    for (const pattern of layer.patterns) {
      add(pattern, [`  # ${layer.why}`, `  ${layer.name}: ${layer.value}`])
    }
  }
  if (detach) {
    // Cloudflare's `! Name` takes a widened header off again where the files' class is known.
    const widened = layers.filter((l) => l.widened)
    const b = ctx.basePath
    const off = (classes: string[], patterns: string[]) => {
      const names = widened.filter((l) => !classes.some((c) => l.classes.has(c as never)))
      if (names.length === 0) return
      for (const pattern of patterns) {
        add(pattern, [
          '  # not a document: the page-only headers widened above come off',
          ...names.map((l) => `  ! ${l.name}`),
        ])
      }
    }
    off(['script'], [`${b}*.js`, `${b}*.mjs`])
    off(['wasm'], [`${b}*.wasm`])
    off(
      ['static'],
      STATIC_EXTENSIONS.map((e) => `${b}*.${e}`),
    )
  }
  const body = [...blocks].map(([pattern, lines]) => [pattern, ...lines].join('\n'))
  const head = `${HEAD(target, ctx)}\n# Every block whose path matches adds its headers.`
  return `${head}\n\n${body.join('\n\n')}\n`
}

function splatNotes(ctx: RecipeContext, layers: SplatLayer[]): string[] {
  return pathOnlyNotes(
    ctx,
    layers.some((l) => l.widened || l.narrowed),
  )
}

const PROXY_WHY = 'custom headers are not applied to proxied content'

/** `isogate recipe netlify`: `_headers` and `_redirects` in the publish folder. */
export function renderNetlify(ctx: RecipeContext): RecipeOutput {
  refuseUpstream(ctx, 'netlify', PROXY_WHY)
  const b = ctx.basePath
  const redirects = [
    HEAD('netlify', ctx),
    "# Client-side routes get the viewer page; a file that exists is served as it is. Netlify's",
    '# patterns cannot tell an extension, so a missing chunk also gets index.html (200).',
    `${b}*  ${b}index.html  200`,
    '',
  ].join('\n')
  return {
    target: 'netlify',
    files: [
      { path: '_headers', content: headersFile('netlify', ctx, false) },
      { path: '_redirects', content: redirects },
    ],
    notes: [
      "Put both files in the publish folder, replacing the OHIF build's own _headers and " +
        '_redirects; declare no [[headers]] in netlify.toml as well (Netlify applies both).',
      ...splatNotes(ctx, splatLayers(ctx)),
      'Netlify applies no custom header to proxied paths or functions: serve DICOMweb from ' +
        'its own origin (`isogate front`).',
    ],
  }
}

const tomlString = (value: string) => JSON.stringify(value)

/** `isogate recipe netlify-toml`: the same rules as `[[headers]]` and `[[redirects]]`. */
export function renderNetlifyToml(ctx: RecipeContext): RecipeOutput {
  refuseUpstream(ctx, 'netlify-toml', PROXY_WHY)
  const b = ctx.basePath
  const byPattern = new Map<string, string[]>()
  for (const layer of splatLayers(ctx)) {
    for (const pattern of layer.patterns) {
      byPattern.set(pattern, [
        ...(byPattern.get(pattern) ?? []),
        `  # ${layer.why}`,
        `  ${tomlString(layer.name)} = ${tomlString(layer.value)}`,
      ])
    }
  }
  const headers = [...byPattern].map(([pattern, lines]) =>
    [`[[headers]]`, `for = ${tomlString(pattern)}`, '[headers.values]', ...lines].join('\n'),
  )
  const text = [
    HEAD('netlify-toml', ctx),
    '# Every [[headers]] table whose path matches adds its values.',
    '',
    headers.join('\n\n'),
    '',
    '# Client-side routes get the viewer page; a file that exists is served as it is.',
    '[[redirects]]',
    `from = ${tomlString(`${b}*`)}`,
    `to = ${tomlString(`${b}index.html`)}`,
    'status = 200',
    '',
  ].join('\n')
  return {
    target: 'netlify-toml',
    files: [{ path: 'netlify.toml', content: text }],
    notes: [
      "Remove the OHIF build's own _headers/_redirects from the publish folder: Netlify " +
        'applies them too and every header would come twice.',
      ...splatNotes(ctx, splatLayers(ctx)),
      'A missing chunk gets index.html (200): redirect patterns cannot tell an extension.',
    ],
  }
}

/** `isogate recipe cloudflare-pages`: `_headers` in the output folder. */
export function renderCloudflarePages(ctx: RecipeContext): RecipeOutput {
  refuseUpstream(ctx, 'cloudflare-pages', 'Pages proxies only to its own paths')
  return {
    target: 'cloudflare-pages',
    files: [{ path: '_headers', content: headersFile('cloudflare-pages', ctx, true) }],
    notes: [
      "Put _headers in the output folder, replacing the OHIF build's own, and remove its " +
        '_redirects (Pages then serves index.html for client-side routes: no top-level ' +
        '404.html means a single-page app).',
      ...splatNotes(ctx, splatLayers(ctx)),
      'Files with an extension not listed (`! Name` blocks) keep the widened page headers.',
      'Pages applies _headers to static files only, not to Functions or a _worker.js.',
    ],
  }
}

/**
 * A Vercel `source` for a regex: path-to-regexp 6 (what Vercel uses) with one unnamed group
 * after the first `/`: `/(rest)` compiles to `^(?:\/(rest))$` (strict, case-sensitive).
 */
function vercelSource(regex: string): string {
  if (!regex.startsWith('^/') || !regex.endsWith('$')) throw new Error(`not anchored: ${regex}`)
  return `/(${regex.slice(2, -1)})`
}

/** `isogate recipe vercel`: `vercel.json` with `headers` and a client-route rewrite. */
export function renderVercel(ctx: RecipeContext): RecipeOutput {
  refuseUpstream(ctx, 'vercel', 'headers on external rewrites are not part of its contract')
  const layers = headerLayers(ctx)
  const sources = new Map<string, Array<{ key: string; value: string }>>()
  for (const layer of layers) {
    const source = vercelSource(layerRegex(ctx.basePath, layer.classes))
    sources.set(source, [...(sources.get(source) ?? []), { key: layer.name, value: layer.value }])
  }
  const base = escapeRegex(ctx.basePath)
  const config = {
    headers: [...sources].map(([source, headers]) => ({ source, headers })),
    // Files win over rewrites: only paths without an extension and without a file.
    rewrites: [
      {
        source: vercelSource(`^${base}(?:${EXTENSIONLESS})$`),
        destination: `${ctx.basePath}index.html`,
      },
    ],
  }
  return {
    target: 'vercel',
    files: [{ path: 'vercel.json', content: `${JSON.stringify(config, null, 2)}\n` }],
    notes: [
      'Every headers[] entry whose source matches adds its headers; the sources never set ' +
        'the same name twice. Why each header is there:',
      ...layers.map((l) => `${l.name}: ${l.value} — ${l.why}`),
      ...pathOnlyNotes(ctx, false),
      'Client-side routes (no extension, no file) are rewritten to index.html; missing ' +
        'chunks stay 404.',
    ],
  }
}

/** `isogate recipe firebase`: `firebase.json` hosting with RE2 `regex` header rules. */
export function renderFirebase(ctx: RecipeContext): RecipeOutput {
  refuseUpstream(ctx, 'firebase', 'Hosting rewrites only to Cloud Functions and Cloud Run')
  const layers = headerLayers(ctx)
  const rules = new Map<string, Array<{ key: string; value: string }>>()
  for (const layer of layers) {
    const regex = layerRegex(ctx.basePath, layer.classes)
    rules.set(regex, [...(rules.get(regex) ?? []), { key: layer.name, value: layer.value }])
  }
  const base = escapeRegex(ctx.basePath)
  const config = {
    hosting: {
      public: ctx.root,
      ignore: ['firebase.json', '**/.*'],
      headers: [...rules].map(([regex, headers]) => ({ regex, headers })),
      // Files win over rewrites: only paths without an extension and without a file.
      rewrites: [
        { regex: `^${base}(?:${EXTENSIONLESS})$`, destination: `${ctx.basePath}index.html` },
      ],
    },
  }
  return {
    target: 'firebase',
    files: [{ path: 'firebase.json', content: `${JSON.stringify(config, null, 2)}\n` }],
    notes: [
      `hosting.public is "${ctx.root}", relative to firebase.json: set --root to the built ` +
        'viewer folder (e.g. --root dist).',
      'Every headers[] rule whose regex (RE2) matches adds its headers; the rules never set ' +
        'the same name twice. Why each header is there:',
      ...layers.map((l) => `${l.name}: ${l.value} — ${l.why}`),
      ...pathOnlyNotes(ctx, false),
    ],
  }
}

/**
 * IIS: a `web.config` for the viewer's folder. `customHeaders` at the folder carry the headers
 * every path gets (the isolation and framing set widened to all, layers.ts); `<location>`
 * blocks add the rest for the few files a literal path can name (index.html, app-config.js);
 * URL Rewrite sends client-side routes (no extension, no file) to index.html, whose
 * `<location>` then applies. Custom headers go on IIS's error replies too. Pure.
 */
import type { RecipeContext, RecipeOutput } from './model.js'
import { EXTENSIONLESS, pathOnlyNotes, refuseUpstream, splatLayers } from './layers.js'

const xml = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

/** Types IIS does not serve by default (404.3 otherwise); wasm must be application/wasm. */
const MIME: ReadonlyArray<readonly [string, string]> = [
  ['.wasm', 'application/wasm'],
  ['.mjs', 'text/javascript'],
  ['.woff2', 'font/woff2'],
  ['.json', 'application/json'],
  ['.webmanifest', 'application/manifest+json'],
]

function headerLines(
  lines: ReadonlyArray<{ name: string; value: string; why: string }>,
  pad: string,
) {
  return lines.flatMap((l) => [
    `${pad}<!-- ${xml(l.why)} -->`,
    `${pad}<add name="${xml(l.name)}" value="${xml(l.value)}" />`,
  ])
}

/** `isogate recipe iis`: web.config (needs the URL Rewrite module). */
export function renderIis(ctx: RecipeContext): RecipeOutput {
  refuseUpstream(ctx, 'iis', 'this recipe serves the viewer only')
  const layers = splatLayers(ctx)
  const b = ctx.basePath
  const everywhere = layers.filter((l) => l.patterns.includes(`${b}*`))
  // Literal files only: a <location path> names one file, relative to this folder.
  const files = new Map<string, Array<{ name: string; value: string; why: string }>>()
  for (const layer of layers) {
    if (layer.patterns.includes(`${b}*`)) continue
    for (const pattern of layer.patterns) {
      const file =
        pattern === b || pattern === `${b}*.html` ? 'index.html' : pattern.slice(b.length)
      if (file.includes('*')) throw new Error(`iis: no <location> for ${pattern}`)
      files.set(file, [...(files.get(file) ?? []).filter((l) => l.name !== layer.name), layer])
    }
  }
  const locations = [...files].flatMap(([file, lines]) => [
    `  <location path="${xml(file)}">`,
    '    <system.webServer>',
    '      <httpProtocol>',
    '        <customHeaders>',
    ...headerLines(lines, '          '),
    '        </customHeaders>',
    '      </httpProtocol>',
    '    </system.webServer>',
    '  </location>',
  ])
  const text = [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<!-- Rendered by \`isogate recipe iis\` from the Isogate header plan (isolation: ${
      ctx.plan.intent.isolation
    }). -->`,
    '<!-- Put it in the viewer folder; needs the IIS URL Rewrite module. -->',
    '<configuration>',
    '  <system.webServer>',
    '    <staticContent>',
    ...MIME.flatMap(([ext, type]) => [
      `      <remove fileExtension="${ext}" />`,
      `      <mimeMap fileExtension="${ext}" mimeType="${type}" />`,
    ]),
    '    </staticContent>',
    '    <httpProtocol>',
    '      <customHeaders>',
    ...headerLines(everywhere, '        '),
    '      </customHeaders>',
    '    </httpProtocol>',
    '    <rewrite>',
    '      <rules>',
    '        <!-- Client-side routes (no extension, no file) get the viewer page. -->',
    '        <rule name="isogate-client-routes" stopProcessing="true">',
    `          <match url="^(?:${xml(EXTENSIONLESS)})$" ignoreCase="false" />`,
    '          <conditions>',
    '            <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />',
    '          </conditions>',
    '          <action type="Rewrite" url="index.html" />',
    '        </rule>',
    '      </rules>',
    '    </rewrite>',
    '  </system.webServer>',
    ...locations,
    '</configuration>',
    '',
  ].join('\n')
  return {
    target: 'iis',
    files: [{ path: 'web.config', content: text }],
    notes: [
      'Put web.config in the viewer folder (the site or application at ' +
        `${b}); install the URL Rewrite module.`,
      ...pathOnlyNotes(
        ctx,
        layers.some((l) => l.widened || l.narrowed),
      ),
      'Pages other than index.html (silent-refresh.html) keep the default Cache-Control: a ' +
        '<location> names one file.',
      'IIS applies a <location> by the rewritten URL, so client-side routes and the folder ' +
        'itself (rewritten to index.html) get its Cache-Control.',
    ],
  }
}

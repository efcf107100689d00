/**
 * Dev servers and Express, all mounting the shared `isogate-headers.mjs` (node.ts) first:
 * Vite (dev and preview, B24), webpack-dev-server (OHIF's own dev server), and Express with
 * and without helmet (B19). Pure: they only render text.
 */
import type { RecipeContext, RecipeOutput } from './model.js'
import { renderNodeMiddleware } from './node.js'

const js = (value: string) => JSON.stringify(value)

function middlewareFile(ctx: RecipeContext, target: string) {
  return { path: 'isogate-headers.mjs', content: renderNodeMiddleware(ctx, target) }
}

/** `isogate recipe vite`: vite.config.mjs + isogate-headers.mjs. */
export function renderVite(ctx: RecipeContext): RecipeOutput {
  const config = `// Rendered by \`isogate recipe vite\` from the Isogate header plan
// (isolation: ${ctx.plan.intent.isolation}). Dev serves public/, preview serves dist/.
import { defineConfig } from 'vite'

import { DOCUMENT_HEADERS, isogateHeaders } from './isogate-headers.mjs'

/** Mounted before Vite's own middlewares: picks each reply's headers by class and status. */
function isogate() {
  return {
    name: 'isogate-headers',
    // 'pre': runs before other plugins' middlewares, e.g. a framework's static handler (B24).
    enforce: 'pre',
    configureServer(server) {
      server.middlewares.use(isogateHeaders)
    },
    configurePreviewServer(server) {
      server.middlewares.use(isogateHeaders)
    },
  }
}

const LISTEN = { host: ${js(ctx.host)}, port: ${ctx.port}, strictPort: true }

export default defineConfig({
  // The page's isolation headers also as static options, for the dev server and for preview
  // (Vite >= 3.1.1 honours preview.headers, vite#9976); the plugin refines them per class.
  server: { ...LISTEN, headers: DOCUMENT_HEADERS },
  preview: { ...LISTEN, headers: DOCUMENT_HEADERS },
  base: ${js(ctx.basePath)},
  // Not 'spa': its fallback answers a missing chunk with index.html (200, as a script). The
  // middleware rewrites client-side routes (no extension) itself; missing files stay 404.
  appType: 'mpa',
  plugins: [isogate()],
})
`
  return {
    target: 'vite',
    files: [{ path: 'vite.config.mjs', content: config }, middlewareFile(ctx, 'vite')],
    notes: [
      'Put both files next to package.json; `vite` and `vite preview` read vite.config.mjs.',
      'preview.headers needs Vite >= 3.1.1 (vite#9976, Sept 2022); the plugin covers older ' +
        'Vite versions that have configurePreviewServer.',
      'Vite dev injects /@vite/client; its HMR socket is same-origin and unaffected by COEP.',
    ],
  }
}

/** `isogate recipe webpack-dev-server`: webpack.config.mjs + isogate-headers.mjs. */
export function renderWebpackDevServer(ctx: RecipeContext): RecipeOutput {
  const config = `// Rendered by \`isogate recipe webpack-dev-server\` from the Isogate header plan
// (isolation: ${ctx.plan.intent.isolation}). Merge devServer into your webpack config.
import { isogateHeaders } from './isogate-headers.mjs'

export default {
  mode: 'development',
  devServer: {
    host: ${js(ctx.host)},
    port: ${ctx.port},
    // The built viewer; your own bundles are served from memory under the same routes.
    static: { directory: ${js(ctx.root)}, publicPath: ${js(ctx.basePath)} },
    // Client-side routes are rewritten to index.html by the middleware, per class.
    historyApiFallback: false,
    setupMiddlewares(middlewares) {
      // First: its headers are chosen when each reply is written, whoever writes it.
      middlewares.unshift({ name: 'isogate-headers', middleware: isogateHeaders })
      return middlewares
    },
  },
}
`
  return {
    target: 'webpack-dev-server',
    files: [
      { path: 'webpack.config.mjs', content: config },
      middlewareFile(ctx, 'webpack-dev-server'),
    ],
    notes: [
      'Needs webpack-dev-server >= 4.7 (setupMiddlewares). The `headers` option is not used: ' +
        'it sets one set on every reply, and workers, scripts and pages need different ones.',
    ],
  }
}

/** `isogate recipe express` / `express-helmet`: server.mjs + isogate-headers.mjs. */
export function renderExpress(ctx: RecipeContext, helmet: boolean): RecipeOutput {
  const target = helmet ? 'express-helmet' : 'express'
  const helmetLines = helmet
    ? [
        '',
        '// helmet keeps its other protections; the isolation headers are set per class above,',
        "// never inherited from helmet's defaults: its CORP same-origin blocks cross-origin",
        '// consumers (B19), and helmet >= 7 sends no COEP at all.',
        'app.use(',
        '  helmet({',
        '    crossOriginOpenerPolicy: false,',
        '    crossOriginEmbedderPolicy: false,',
        '    crossOriginResourcePolicy: false,',
        '    // Its default CSP blocks the viewer; frame-ancestors comes from the plan.',
        '    contentSecurityPolicy: false,',
        '    xFrameOptions: false,',
        '  }),',
        ')',
      ]
    : []
  const server = [
    `// Rendered by \`isogate recipe ${target}\` from the Isogate header plan`,
    `// (isolation: ${ctx.plan.intent.isolation}). Run: node server.mjs`,
    "import express from 'express'",
    ...(helmet ? ["import helmet from 'helmet'"] : []),
    '',
    "import { isogateHeaders } from './isogate-headers.mjs'",
    '',
    `const ROOT = process.env.ISOGATE_ROOT ?? ${js(ctx.root)}`,
    `const PORT = Number(process.env.PORT ?? ${ctx.port})`,
    `const HOST = process.env.HOST ?? ${js(ctx.host)}`,
    '',
    'const app = express()',
    "app.disable('x-powered-by')",
    "// First: it picks each reply's headers by class and status when the reply is written.",
    'app.use(isogateHeaders)',
    ...helmetLines,
    `app.use(${js(ctx.basePath)}, express.static(ROOT, { index: 'index.html' }))`,
    '',
    'app.listen(PORT, HOST, () => console.log(`viewer on http://${HOST}:${PORT}`))',
    '',
  ].join('\n')
  return {
    target,
    files: [{ path: 'server.mjs', content: server }, middlewareFile(ctx, target)],
    notes: [
      `npm install express${helmet ? ' helmet' : ''}; then node server.mjs (ISOGATE_ROOT, ` +
        'PORT, HOST override the rendered values).',
    ],
  }
}

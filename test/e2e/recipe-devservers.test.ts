/**
 * The dev-server and Express recipes, started for real on loopback with the bundled OHIF build:
 * Vite dev and preview (B24), webpack-dev-server, Express with and without helmet (B19). Every
 * viewer response class, errors included, carries the plan's headers exactly once, and Chromium
 * is cross-origin isolated through Vite preview and Express.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'

import webpack from 'webpack'
import WebpackDevServer from 'webpack-dev-server'

import { renderRecipe } from '../../src/recipes/index.js'
import { contextOf, type RecipeContext } from '../../src/recipes/model.js'
import { launchChromium, newContext } from '../helpers/chromium.js'
import { freePort } from '../helpers/ports.js'
import {
  checkProbes,
  headerValues,
  rawRequest,
  viewerFolder,
  viewerProbes,
} from '../helpers/recipe-check.js'
import { startNodeRecipe, writeRecipe, type RunningServer } from '../helpers/recipe-servers.js'

const VITE = join(process.cwd(), 'node_modules', 'vite', 'bin', 'vite.js')

interface Project {
  readonly dir: string
  readonly port: number
  readonly ctx: RecipeContext
}

describe('dev-server and Express recipes, run for real with OHIF', () => {
  let dir: string
  let viewer: string
  const running: RunningServer[] = []
  let webpackServer: WebpackDevServer | undefined
  const bases = new Map<string, string>()
  const contexts = new Map<string, RecipeContext>()

  async function project(target: string, root: string, folder = target): Promise<Project> {
    const projectDir = join(dir, folder)
    mkdirSync(projectDir, { recursive: true })
    const port = await freePort()
    const options = { root, port, host: '127.0.0.1' }
    writeRecipe(projectDir, renderRecipe(target, options))
    return { dir: projectDir, port, ctx: contextOf(options) }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isogate-recipe-dev-'))
    // The rendered files import vite/express/helmet from their own folder, as in a project.
    symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'))
    viewer = viewerFolder(dir, '/dicom-web')

    // Dev serves public/ and the project's index.html; preview serves dist/.
    const vite = await project('vite', viewer)
    symlinkSync(viewer, join(vite.dir, 'public'))
    copyFileSync(join(viewer, 'index.html'), join(vite.dir, 'index.html'))
    running.push(await startNodeRecipe(vite.dir, [VITE, '--config', 'vite.config.mjs'], vite.port))
    bases.set('vite dev', `http://127.0.0.1:${vite.port}`)
    contexts.set('vite dev', vite.ctx)
    const preview = await project('vite', viewer, 'vite-preview')
    symlinkSync(viewer, join(preview.dir, 'dist'))
    const previewArgs = [VITE, 'preview', '--config', 'vite.config.mjs']
    running.push(await startNodeRecipe(preview.dir, previewArgs, preview.port))
    bases.set('vite preview', `http://127.0.0.1:${preview.port}`)
    contexts.set('vite preview', preview.ctx)

    for (const target of ['express', 'express-helmet']) {
      const p = await project(target, viewer)
      running.push(await startNodeRecipe(p.dir, ['server.mjs'], p.port))
      bases.set(target, `http://127.0.0.1:${p.port}`)
      contexts.set(target, p.ctx)
    }

    const wds = await project('webpack-dev-server', viewer)
    const entry = join(wds.dir, 'entry.js')
    writeFileSync(entry, 'export {}\n')
    const config = (await import(pathToFileURL(join(wds.dir, 'webpack.config.mjs')).href)) as {
      default: { devServer: WebpackDevServer.Configuration }
    }
    const compiler = webpack({
      mode: 'development',
      context: wds.dir,
      entry,
      output: { path: join(wds.dir, 'out'), filename: 'isogate-dev-entry.js' },
      infrastructureLogging: { level: 'error' },
    })
    webpackServer = new WebpackDevServer(config.default.devServer, compiler)
    await webpackServer.start()
    bases.set('webpack-dev-server', `http://127.0.0.1:${wds.port}`)
    contexts.set('webpack-dev-server', wds.ctx)
  })

  after(async () => {
    await webpackServer?.stop()
    for (const server of running) await server.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  for (const name of ['vite dev', 'vite preview', 'webpack-dev-server', 'express']) {
    it(`${name}: every viewer response class carries the plan headers exactly once`, async () => {
      const failures = await checkProbes(contexts.get(name)!, bases.get(name)!, viewerProbes())
      assert.deepEqual(failures, [])
    })
  }

  it('express-helmet: the plan per class, never helmet CORP/COEP defaults (B19)', async () => {
    const base = bases.get('express-helmet')!
    assert.deepEqual(await checkProbes(contexts.get('express-helmet')!, base, viewerProbes()), [])
    // helmet's other protections are still there: it is mounted, only told what not to set.
    const page = await rawRequest(`${base}/`)
    assert.deepEqual(headerValues(page, 'x-content-type-options'), ['nosniff'])
  })

  for (const name of ['vite preview', 'express']) {
    it(`Chromium: the viewer through ${name} is cross-origin isolated`, async () => {
      const browser = await launchChromium()
      try {
        const context = await newContext(browser)
        const page = await context.newPage()
        const blocked: string[] = []
        page.on('requestfailed', (r) => blocked.push(`${r.failure()?.errorText} ${r.url()}`))
        await page.goto(`${bases.get(name)!}/`, { waitUntil: 'load' })
        assert.equal(await page.evaluate(() => self.crossOriginIsolated), true)
        // OHIF has started: its React root has rendered something.
        await page.waitForFunction(
          () => (document.getElementById('root')?.children.length ?? 0) > 0,
        )
        assert.deepEqual(
          blocked.filter((b) => !b.includes('/dicom-web/')),
          [],
        )
        await context.close()
      } finally {
        await browser.close()
      }
    })
  }
})

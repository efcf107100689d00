import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'

import { isolationImpact, readBundle, readIndexHtml, versionAtLeast } from './viewer.js'
import { detectServer, fixFor } from './server.js'
import { headerLines } from '../policy/rules/index.js'

const OHIF = new URL('../../vendor/ohif/', import.meta.url)

describe('reading an OHIF build', () => {
  it('finds app-config, the app bundle, and iframes with their attributes', () => {
    const html = readFileSync(new URL('index.html', OHIF), 'utf8')
    const build = readIndexHtml(html, 'http://127.0.0.1:9/viewer')
    assert.equal(build.ohif, true)
    assert.equal(build.appConfigUrl, 'http://127.0.0.1:9/app-config.js')
    assert.match(build.appBundleUrl ?? '', /\/app\.bundle\.[0-9a-f]+\.js$/)
    const host = readIndexHtml(
      '<iframe src="https://v.example/" allow="cross-origin-isolated" credentialless></iframe>' +
        '<meta http-equiv="Content-Security-Policy" content="frame-ancestors \'none\'">',
      'https://h.example/',
    )
    assert.deepEqual(host.iframes, [
      {
        src: 'https://v.example/',
        allow: 'cross-origin-isolated',
        credentialless: true,
        sandbox: undefined,
      },
    ])
    assert.deepEqual(host.metaCsp, ["frame-ancestors 'none'"])
  })

  it('reads the webpack runtime: worker chunks, wasm, the version chunk among the first', () => {
    const html = readFileSync(new URL('index.html', OHIF), 'utf8')
    const bundleName = /app\.bundle\.[0-9a-f]+\.js/.exec(html)?.[0] ?? ''
    const facts = readBundle(readFileSync(new URL(bundleName, OHIF), 'utf8'))
    assert.equal(facts.publicPath, '/')
    assert.ok(facts.workers.some((w) => w.startsWith('histogram-worker.bundle.')))
    assert.ok(facts.wasm.some((w) => /^[0-9a-f]{16}\.wasm$/.test(w)))
    assert.ok(facts.chunks.slice(0, 6).some((c) => c.startsWith('89.bundle.')))
  })

  it('knows what a version loses without isolation', () => {
    assert.equal(isolationImpact('3.8.2').required, true)
    assert.equal(isolationImpact('3.9.0-beta.63').required, false)
    assert.equal(isolationImpact(undefined).required, true)
    assert.equal(versionAtLeast('3.13.2', '3.9.0'), true)
    assert.equal(versionAtLeast('3.10.0', '3.9.0'), true)
  })
})

describe('detectServer', () => {
  const cases: Array<[Array<[string, string]>, string]> = [
    [[['Server', 'nginx/1.24.0']], 'nginx'],
    [[['Server', 'Apache/2.4.57 (Debian)']], 'apache'],
    [[['Server', 'Caddy']], 'caddy'],
    [[['X-Powered-By', 'Express']], 'express'],
    [[['Server', 'ORTHANC']], 'orthanc'],
    [[['Server', 'Acme Web']], 'unknown'],
  ]
  for (const [headers, kind] of cases) {
    it(`${JSON.stringify(headers)} → ${kind}`, () => {
      assert.equal(detectServer(headerLines(headers)).kind, kind)
    })
  }
})

describe('fixFor', () => {
  it('renders the nginx recipe for nginx, and says "cannot tell" for an unknown server', () => {
    const nginx = fixFor({ kind: 'nginx', evidence: 'Server: nginx' })
    assert.equal(nginx.target, 'nginx')
    assert.ok(nginx.files.some((f) => /Cross-Origin-Embedder-Policy/.test(f.content)))
    const unknown = fixFor({ kind: 'unknown', evidence: 'Server: Acme' })
    assert.equal(unknown.target, null)
    assert.match(unknown.notes.join(' '), /cannot tell/)
  })
})

import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { describe, it } from 'node:test'

import { classOfViewerFile, contentTypeOf, isHashedName, isNavigation } from './classify.js'
import { bundledViewerRoot } from './locate.js'

describe('classOfViewerFile', () => {
  const cases: Array<[string, string]> = [
    ['index.html', 'document'],
    ['silent-refresh.html', 'document'],
    ['app-config.js', 'app-config'],
    ['app.bundle.0f6159c501addfe9.js', 'script'],
    ['89.bundle.b327bf3664812958.js', 'script'],
    ['histogram-worker.bundle.ec5f0cf05ce3909c.js', 'worker'],
    ['compute.bundle.0fc3a3ee85296cf2.js', 'worker'],
    ['interpolation.bundle.fa54018d8628f8c0.js', 'worker'],
    ['polySeg.bundle.2c5892e4c5a6bdd5.js', 'worker'],
    ['dicom-microscopy-viewer/dataLoader.worker.min.js', 'worker'],
    ['sw.js', 'worker'],
    ['0ddf166f7a343eda.wasm', 'wasm'],
    ['ort/ort-wasm-simd-threaded.wasm', 'wasm'],
    ['app.bundle.css', 'static'],
    ['a34f9d1faa5f3315.woff2', 'static'],
    ['assets/favicon.ico', 'static'],
    ['manifest.json', 'static'],
  ]
  for (const [path, expected] of cases) {
    it(`${path} → ${expected}`, () => assert.equal(classOfViewerFile(path), expected))
  }

  it('finds all four worker bundles of the bundled build', () => {
    const workers = readdirSync(bundledViewerRoot()).filter(
      (f) => classOfViewerFile(f) === 'worker',
    )
    assert.equal(workers.filter((f) => f.includes('.bundle.')).length, 4)
  })
})

describe('isHashedName', () => {
  it('knows webpack content hashes', () => {
    assert.ok(isHashedName('app.bundle.0f6159c501addfe9.js'))
    assert.ok(isHashedName('0ddf166f7a343eda.wasm'))
    assert.ok(isHashedName('a34f9d1faa5f3315.woff2'))
    assert.ok(!isHashedName('app.bundle.css'))
    assert.ok(!isHashedName('1602.css'))
    assert.ok(!isHashedName('ort/ort-wasm-simd-threaded.wasm'))
    assert.ok(!isHashedName('index.html'))
  })
})

describe('contentTypeOf', () => {
  it('serves wasm as application/wasm and scripts as JavaScript', () => {
    assert.equal(contentTypeOf('x/5130ccb17e3f3f5b.wasm'), 'application/wasm')
    assert.match(contentTypeOf('a.mjs'), /^text\/javascript/)
    assert.equal(contentTypeOf('LICENSE'), 'application/octet-stream')
  })
})

describe('isNavigation', () => {
  it('trusts Sec-Fetch-Dest when the browser sends it', () => {
    assert.ok(isNavigation('viewer', { 'sec-fetch-dest': 'document' }))
    assert.ok(isNavigation('a.js', { 'sec-fetch-dest': 'iframe' }))
    assert.ok(!isNavigation('missing', { 'sec-fetch-dest': 'script' }))
    assert.ok(!isNavigation('missing', { 'sec-fetch-dest': 'worker', accept: 'text/html' }))
  })
  it('otherwise takes paths without extension or Accept text/html', () => {
    assert.ok(isNavigation('tmtv', {}))
    assert.ok(isNavigation('segmentation', { accept: '*/*' }))
    assert.ok(isNavigation('x.html', { accept: 'text/html,application/xhtml+xml' }))
    assert.ok(!isNavigation('missing.js', { accept: '*/*' }))
    assert.ok(!isNavigation('missing.wasm', {}))
  })
})

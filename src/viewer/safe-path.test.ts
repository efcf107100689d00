import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { viewerPathOf } from './safe-path.js'

describe('viewerPathOf', () => {
  it('maps plain paths below the base', () => {
    assert.deepEqual(viewerPathOf('/', '/'), { kind: 'file', relPath: '' })
    assert.deepEqual(viewerPathOf('/assets/a%20b.png', '/'), {
      kind: 'file',
      relPath: 'assets/a b.png',
    })
    assert.deepEqual(viewerPathOf('/viewer/ort/x.wasm', '/viewer/'), {
      kind: 'file',
      relPath: 'ort/x.wasm',
    })
  })

  const refused = [
    '/../etc/passwd',
    '/assets/../../etc/passwd',
    '/%2e%2e/etc/passwd',
    '/%2E%2E/%2e%2E/etc/passwd',
    '/.%2e/etc/passwd',
    '/assets/%2e/x',
    '/..%2fetc%2fpasswd',
    '/..%2Fetc',
    '/..\\etc\\passwd',
    '/..%5cetc',
    '/index.html%00.js',
    '/a\0b',
    '/a//b',
    '/%E0%A4%A',
  ]
  for (const path of refused) {
    it(`refuses ${JSON.stringify(path)}`, () => {
      assert.equal(viewerPathOf(path, '/').kind, 'forbidden')
    })
  }

  it('refuses paths outside the base path', () => {
    assert.equal(viewerPathOf('/other/x.js', '/viewer/').kind, 'forbidden')
    assert.equal(viewerPathOf('/viewer/../x', '/viewer/').kind, 'forbidden')
  })

  it('hides dot-files', () => {
    assert.deepEqual(viewerPathOf('/.isogate-viewer.json', '/'), { kind: 'hidden' })
    assert.deepEqual(viewerPathOf('/%2Egit/config', '/'), { kind: 'hidden' })
  })
})

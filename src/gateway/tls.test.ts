import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { validateConfig } from '../config/load.js'
import { certificateNames, resolveTls } from './tls.js'

const state = mkdtempSync(join(tmpdir(), 'isogate-tls-'))
after(() => rmSync(state, { recursive: true, force: true }))

describe('tls auto', () => {
  it('covers loopback names, the listen host and the public URL host', () => {
    assert.deepEqual(certificateNames('0.0.0.0', 'https://Viewer.example.org:8443/'), [
      'localhost',
      '127.0.0.1',
      '::1',
      'viewer.example.org',
    ])
    assert.ok(certificateNames('[::1]').includes('::1'))
  })

  it('generates once, keeps the key private, reuses it, and renews for new names', async () => {
    const config = validateConfig({ tls: 'auto', stateDir: state, listen: { host: '10.1.2.3' } })
    const first = await resolveTls(config, state)
    assert.ok(first)
    const x509 = new X509Certificate(first.cert)
    assert.ok(x509.checkHost('localhost'))
    assert.ok(x509.checkIP('10.1.2.3'))
    assert.ok(x509.checkIP('::1'))
    assert.equal(statSync(join(state, 'tls', 'key.pem')).mode & 0o077, 0)
    const again = await resolveTls(config, state)
    assert.equal(again?.spkiSha256, first.spkiSha256)
    const moved = validateConfig({ tls: 'auto', stateDir: state, listen: { host: '10.9.9.9' } })
    const renewed = await resolveTls(moved, state)
    assert.notEqual(renewed?.spkiSha256, first.spkiSha256)
  })
})

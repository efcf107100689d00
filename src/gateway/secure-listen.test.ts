import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { isIsogateError } from '../errors.js'
import { assertSecureListen, isLoopbackHost } from './secure-listen.js'

describe('isLoopbackHost', () => {
  for (const host of [
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '[::1]',
    'localhost',
    'LOCALHOST.',
    'ohif.localhost',
    '::ffff:127.0.0.1',
    '0:0:0:0:0:0:0:1',
  ]) {
    it(`${host} is loopback`, () => assert.ok(isLoopbackHost(host)))
  }
  for (const host of [
    '0.0.0.0',
    '::',
    '10.0.0.5',
    '192.168.1.20',
    'pacs',
    'viewer.example.org',
    'localhost.example.org',
    '128.0.0.1',
    '::2',
  ]) {
    it(`${host} is not`, () => assert.ok(!isLoopbackHost(host)))
  }
})

describe('assertSecureListen', () => {
  it('allows plain http on loopback, and anything with TLS', () => {
    assertSecureListen({ host: '127.0.0.1', tls: false })
    assertSecureListen({ host: 'localhost', tls: false })
    assertSecureListen({ host: '0.0.0.0', tls: true })
    assertSecureListen({ host: '0.0.0.0', tls: false, publicUrl: 'https://viewer.example.org/' })
  })

  it('refuses plain http elsewhere, saying why and what to do', () => {
    for (const listen of [
      { host: '0.0.0.0', tls: false },
      { host: '10.0.0.5', tls: false },
      { host: '127.0.0.1', tls: false, publicUrl: 'http://10.0.0.5:8080' },
    ]) {
      assert.throws(
        () => assertSecureListen(listen),
        (error: unknown) =>
          isIsogateError(error) &&
          error.code === 'ISOGATE_E_INSECURE_LISTEN' &&
          /insecure/.test(error.message) &&
          /--tls auto/.test(error.message),
      )
    }
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { validateConfig } from '../config/load.js'
import { isIsogateError } from '../errors.js'
import { flagsToInput, folderSourceName } from './serve.js'

describe('serve flags', () => {
  it('turn into a valid config', () => {
    const config = validateConfig(
      flagsToInput('/data/Knee MRI', {
        port: '0',
        host: 'localhost',
        basePath: '/viewer/',
        source: ['pacs=http://127.0.0.1:8042/dicom-web,http://127.0.0.1:8043/dicom-web'],
        sourceKind: ['pacs=orthanc'],
        isolation: 'credentialless',
        tls: 'auto',
        embedOrigin: ['https://portal.example.org'],
      }),
    )
    assert.equal(config.listen.port, 0)
    assert.equal(config.listen.host, 'localhost')
    assert.equal(config.viewer.basePath, '/viewer/')
    assert.equal(config.tls, 'auto')
    assert.deepEqual(config.embedding.origins, ['https://portal.example.org'])
    const [folder, pacs] = config.sources
    assert.deepEqual(folder, {
      name: 'knee-mri',
      mode: 'embedded',
      folder: '/data/Knee MRI',
      watch: true,
    })
    assert.ok(pacs?.mode === 'proxy')
    assert.equal(pacs.kind, 'orthanc')
    assert.equal(pacs.upstream.length, 2)
  })

  it('name every invalid field', () => {
    assert.throws(
      () => validateConfig(flagsToInput(undefined, { port: 'abc', isolation: 'nope' })),
      (e: unknown) =>
        isIsogateError(e) &&
        e.code === 'ISOGATE_E_CONFIG_INVALID' &&
        /^listen\.port: /m.test(e.message) &&
        /^isolation: must be one of/m.test(e.message),
    )
  })

  it('refuse malformed pairs and half TLS settings', () => {
    const usage = (e: unknown) => isIsogateError(e) && e.code === 'ISOGATE_E_CLI_USAGE'
    assert.throws(() => flagsToInput(undefined, { source: ['pacs'] }), usage)
    assert.throws(() => flagsToInput(undefined, { sourceKind: ['x=orthanc'] }), usage)
    assert.throws(() => flagsToInput(undefined, { cert: 'a.pem' }), usage)
    assert.throws(() => flagsToInput(undefined, { cert: 'a', key: 'b', tls: 'auto' }), usage)
  })

  it('name a folder source after the folder', () => {
    assert.equal(folderSourceName('/x/My Scans!'), 'my-scans')
    assert.equal(folderSourceName('/'), 'local')
  })
})

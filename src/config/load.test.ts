import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { IsogateError } from '../errors.js'
import { intentOf, mergeConfig, readConfigFile, validateConfig } from './load.js'
import { configJsonSchema } from './json-schema.js'

function invalid(raw: unknown): string[] {
  try {
    validateConfig(raw)
  } catch (error) {
    assert.ok(error instanceof IsogateError)
    assert.equal(error.code, 'ISOGATE_E_CONFIG_INVALID')
    return error.message.split('\n')
  }
  assert.fail('config was accepted')
}

test('defaults give a loopback, isolated, read-only gateway', () => {
  const config = validateConfig({})
  assert.equal(config.listen.host, '127.0.0.1')
  assert.equal(config.listen.port, 8080)
  assert.equal(config.isolation, 'require-corp')
  assert.equal(config.tls, 'off')
  assert.ok(Object.isFrozen(config.listen))
})

test('each invalid field gets its own line naming the field and what is allowed', () => {
  const lines = invalid({
    isolation: 'strict',
    listen: { port: 70000 },
    embedding: { origins: ['https://portal.example.org/path'] },
  })
  assert.equal(lines.length, 3)
  assert.match(lines.find((l) => l.startsWith('isolation:')) ?? '', /require-corp/)
  assert.match(lines.find((l) => l.startsWith('listen.port:')) ?? '', /65535/)
  assert.match(lines.find((l) => l.startsWith('embedding.origins.0:')) ?? '', /origin/)
})

test('unknown keys are refused rather than silently ignored', () => {
  const lines = invalid({ isolaton: 'off' })
  assert.match(lines[0] ?? '', /isolaton/)
})

test('credentials with a wildcard origin are refused', () => {
  const lines = invalid({
    sources: [
      {
        name: 'pacs',
        mode: 'front',
        upstream: ['http://127.0.0.1:8042/dicom-web'],
        allowOrigins: ['*'],
        credentials: true,
      },
    ],
  })
  assert.match(lines.join('\n'), /credentials/)
})

test('duplicate source names and a dangling defaultSource are refused', () => {
  const source = { name: 'a', mode: 'embedded' }
  const lines = invalid({ sources: [source, source], defaultSource: 'b' })
  assert.equal(lines.length, 2)
})

test('flags override the file field by field, and file paths are relative to the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isogate-config-'))
  const file = join(dir, 'isogate.config.json')
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 9000 },
      sources: [{ name: 'scans', mode: 'embedded', folder: 'scans' }],
    }),
  )
  const merged = validateConfig(mergeConfig(readConfigFile(file), { listen: { port: 0 } }))
  assert.equal(merged.listen.port, 0)
  assert.equal(merged.listen.host, '127.0.0.1')
  const source = merged.sources[0]
  assert.ok(source && source.mode === 'embedded')
  assert.equal(source.folder, join(dir, 'scans'))
})

test('a config file that does not parse names the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isogate-config-'))
  const file = join(dir, 'bad.json')
  writeFileSync(file, '{ "isolation": ')
  assert.throws(
    () => readConfigFile(file),
    (error: IsogateError) => {
      assert.equal(error.code, 'ISOGATE_E_CONFIG_FILE')
      assert.match(error.message, /bad\.json/)
      return true
    },
  )
})

test('YAML config files are read too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isogate-config-'))
  const file = join(dir, 'isogate.yaml')
  writeFileSync(file, 'isolation: credentialless\nembedding:\n  origins: [https://a.example]\n')
  const config = validateConfig(readConfigFile(file))
  const intent = intentOf(config)
  assert.equal(intent.isolation, 'credentialless')
  assert.deepEqual(intent.embedders, ['https://a.example'])
})

test('the JSON Schema for editors knows every top-level key', () => {
  const schema = configJsonSchema() as { properties: Record<string, unknown> }
  for (const key of ['viewer', 'listen', 'tls', 'isolation', 'embedding', 'sources']) {
    assert.ok(key in schema.properties, key)
  }
})

import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

import { packageSchemaPath, runInit, type InitFlags } from './init.js'
import { serveConfig } from './serve.js'

const dir = mkdtempSync(join(tmpdir(), 'isogate-init-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Not a terminal: no questions are asked. */
function pipes() {
  return { stdin: new PassThrough(), stdout: new PassThrough() }
}

async function init(name: string, flags: InitFlags) {
  const output = join(dir, name)
  const text = await runInit({ output, ...flags }, pipes())
  return {
    output,
    text,
    written: JSON.parse(readFileSync(output, 'utf8')) as Record<string, unknown>,
  }
}

describe('isogate init from flags', () => {
  it('writes what `serve --config` reads, with $schema and paths relative to it', async () => {
    const scans = join(dir, 'scans')
    mkdirSync(scans)
    const { output, text, written } = await init('a.json', {
      folder: scans,
      isolation: 'credentialless',
    })
    assert.match(text, /wrote .*a\.json/)
    assert.match(text, /isogate serve --config/)
    assert.deepEqual(Object.keys(written)[0], '$schema')
    assert.equal(written.isolation, 'credentialless')
    assert.deepEqual(written.sources, [{ name: 'local', mode: 'embedded', folder: './scans' }])
    assert.deepEqual(written.listen, { host: '127.0.0.1', port: 8080 })
    assert.equal(written.tls, 'off')

    // The schema reference names the package's schema file.
    const schema = String(written.$schema)
    assert.equal(fileURLToPath(schema), packageSchemaPath())

    const config = serveConfig(undefined, { config: output })
    assert.equal(config.sources[0]?.mode, 'embedded')
    assert.equal((config.sources[0] as { folder?: string }).folder, scans)
    assert.equal(config.isolation, 'credentialless')
  })

  it('an upstream becomes a proxy source; TLS listens for other machines', async () => {
    const { written } = await init('b.json', {
      upstream: 'http://127.0.0.1:8042/dicom-web',
      upstreamKind: 'orthanc',
      tls: 'auto',
      embedOrigin: ['https://portal.example.org'],
    })
    assert.deepEqual(written.sources, [
      {
        name: 'pacs',
        mode: 'proxy',
        upstream: ['http://127.0.0.1:8042/dicom-web'],
        kind: 'orthanc',
      },
    ])
    assert.equal(written.tls, 'auto')
    assert.deepEqual(written.listen, { host: '0.0.0.0', port: 8080 })
    assert.deepEqual(written.embedding, { origins: ['https://portal.example.org'] })
  })

  it('never replaces a file without --force', async () => {
    const output = join(dir, 'c.json')
    writeFileSync(output, '{"keep": true}\n')
    await assert.rejects(runInit({ output }, pipes()), { code: 'ISOGATE_E_CLI_INIT_EXISTS' })
    assert.equal(readFileSync(output, 'utf8'), '{"keep": true}\n')
    await runInit({ output, force: true }, pipes())
    assert.equal(JSON.parse(readFileSync(output, 'utf8')).isolation, 'require-corp')
  })

  it('refuses what serve would refuse, and writes nothing then', async () => {
    const bad = join(dir, 'd.json')
    await assert.rejects(runInit({ output: bad, isolation: 'sometimes' }, pipes()), {
      code: 'ISOGATE_E_CONFIG_INVALID',
    })
    await assert.rejects(runInit({ output: bad, host: '0.0.0.0', tls: 'off' }, pipes()), {
      code: 'ISOGATE_E_INSECURE_LISTEN',
    })
    await assert.rejects(runInit({ output: bad, folder: 'x', upstream: 'http://a/' }, pipes()), {
      code: 'ISOGATE_E_CLI_USAGE',
    })
    assert.equal(existsSync(bad), false)
  })

  it('--json prints the path and the document written', async () => {
    const output = join(dir, 'e.json')
    const printed = JSON.parse(await runInit({ output, json: true }, pipes()))
    assert.equal(printed.path, output)
    assert.deepEqual(printed.config, JSON.parse(readFileSync(output, 'utf8')))
  })
})

describe('isogate init on a terminal', () => {
  it('asks each question and keeps defaults for empty answers', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true })
    const stdout = Object.assign(new PassThrough(), { isTTY: true })
    const asked: string[] = []
    stdout.on('data', (c: Buffer) => asked.push(c.toString('utf8')))
    // viewer, data, upstream kind, isolation, tls, host, port, embedders
    stdin.end(
      [
        '',
        'https://pacs.example.org/dicom-web',
        'dcm4chee',
        'report-only',
        'auto',
        '',
        '8443',
        'https://a.example, https://b.example',
        '',
      ].join('\n'),
    )
    const output = join(dir, 'tty.json')
    await runInit({ output }, { stdin, stdout })
    const written = JSON.parse(readFileSync(output, 'utf8'))
    assert.equal(written.isolation, 'report-only')
    assert.equal(written.tls, 'auto')
    assert.deepEqual(written.listen, { host: '0.0.0.0', port: 8443 })
    assert.equal(written.sources[0].kind, 'dcm4chee')
    assert.deepEqual(written.embedding.origins, ['https://a.example', 'https://b.example'])
    assert.match(asked.join(''), /Isolation: require-corp, credentialless, off, report-only/)
  })
})

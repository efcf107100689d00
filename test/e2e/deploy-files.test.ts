/**
 * The Docker files cannot be built here (no Docker engine on these machines), so their parts
 * are checked one by one: the compose file's wiring, Isogate's config as `serve --config`
 * reads it, Orthanc's config on Debian's own Orthanc with its DICOMweb plugin, and the
 * image's HEALTHCHECK command against a gateway started with that config (`tls: auto`).
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'

import { parse as parseYaml } from 'yaml'

import { serveConfig } from '../../src/cli/serve.js'
import { validateConfig } from '../../src/config/load.js'
import { startGateway } from '../../src/gateway/start.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { ORTHANC_BIN } from '../helpers/orthanc.js'

/** Asynchronous on purpose: the gateway answering the command runs in this process. */
const run = promisify(execFile)

const repo = new URL('../../', import.meta.url).pathname
const scratch = mkdtempSync(join(tmpdir(), 'isogate-deploy-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

interface Compose {
  services: Record<string, { command?: string[]; ports?: string[]; volumes?: string[] }>
}

describe('deploy files', () => {
  const compose = parseYaml(
    readFileSync(join(repo, 'deploy/docker-compose.yml'), 'utf8'),
  ) as Compose
  const configPath = join(repo, 'deploy/isogate.config.json')

  it('compose: Isogate reads the mounted config, publishes its port; Orthanc stays private', () => {
    const isogate = compose.services.isogate
    const orthanc = compose.services.orthanc
    assert.ok(isogate && orthanc)
    assert.deepEqual(isogate.command, ['serve', '--config', '/etc/isogate/isogate.config.json'])
    assert.ok(
      isogate.volumes?.includes('./isogate.config.json:/etc/isogate/isogate.config.json:ro'),
    )
    const config = serveConfig(undefined, { config: configPath })
    assert.deepEqual(isogate.ports, [`${config.listen.port}:${config.listen.port}`])
    assert.equal(orthanc.ports, undefined)
    assert.equal(config.tls, 'auto')
    const source = config.sources[0]
    assert.equal(source?.mode, 'proxy')
    assert.deepEqual((source as { upstream: string[] }).upstream, ['http://orthanc:8042/dicom-web'])
  })

  it("Orthanc's config runs on Debian's Orthanc; the image healthcheck passes", async () => {
    // Same config, moved to loopback and a scratch folder.
    const orthancConfig = JSON.parse(
      readFileSync(join(repo, 'deploy/orthanc/orthanc.json'), 'utf8'),
    )
    const orthancPort = await freePort()
    Object.assign(orthancConfig, {
      StorageDirectory: join(scratch, 'db'),
      IndexDirectory: join(scratch, 'db'),
      HttpPort: orthancPort,
      HttpBindAddress: '127.0.0.1',
      DicomServerEnabled: false,
      RemoteAccessAllowed: false,
    })
    const orthancFile = join(scratch, 'orthanc.json')
    writeFileSync(orthancFile, JSON.stringify(orthancConfig))
    const orthanc = spawn(ORTHANC_BIN, [`--logfile=${join(scratch, 'orthanc.log')}`, orthancFile], {
      stdio: 'ignore',
    })
    const upstream = `http://127.0.0.1:${orthancPort}/dicom-web`
    try {
      await waitFor(
        async () => ((await fetch(`${upstream}/studies`)).ok ? true : undefined),
        'Orthanc DICOMweb',
        30_000,
      )

      const raw = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>
      delete raw.$schema
      const gatewayPort = await freePort()
      const gateway = await startGateway(
        validateConfig({
          ...raw,
          listen: { host: '127.0.0.1', port: gatewayPort },
          stateDir: join(scratch, 'state'),
          sources: [{ name: 'orthanc', mode: 'proxy', upstream: [upstream], kind: 'orthanc' }],
        }),
      )
      try {
        // The HEALTHCHECK line of the Dockerfile, with this gateway's port and state folder.
        const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8')
        const check = /CMD (curl [^\n]+healthz)/.exec(dockerfile)?.[1]
        assert.ok(check, 'the Dockerfile has a curl healthcheck')
        const command = check
          .replace('/var/lib/isogate', join(scratch, 'state'))
          .replace(':8443', `:${gatewayPort}`)
        const health = await run('sh', ['-c', command], { timeout: 10_000 })
        assert.match(health.stdout, /"ok"/)
        const ready = await run('sh', ['-c', command.replace('healthz', 'readyz')], {
          timeout: 10_000,
        })
        assert.match(ready.stdout, /"ready"/)
        assert.equal(gateway.sources[0]?.status().health, 'up')
      } finally {
        await gateway.close()
      }
    } finally {
      if (orthanc.exitCode === null) {
        const exited = new Promise((resolve) => orthanc.once('exit', resolve))
        orthanc.kill('SIGTERM')
        await exited
      }
    }
  })
})

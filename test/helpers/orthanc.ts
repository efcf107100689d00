/**
 * A real Orthanc with its DICOMweb plugin, started on a free loopback port with a temporary
 * storage folder, and stopped by PID. Debian's Orthanc 1.10 listens on every interface unless
 * told otherwise, so RemoteAccessAllowed is off and the DICOM port is disabled.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { freePort, waitFor } from './ports.js'

export const ORTHANC_BIN = process.env.ISOGATE_ORTHANC ?? '/usr/sbin/Orthanc'
export const ORTHANC_PLUGINS = '/usr/share/orthanc/plugins'

export interface OrthancServer {
  readonly url: string
  readonly dicomWebRoot: string
  readonly port: number
  readonly pid: number
  upload(file: string | Buffer): Promise<string>
  stop(): Promise<void>
}

export function orthancAvailable(): boolean {
  return existsSync(ORTHANC_BIN) && existsSync(join(ORTHANC_PLUGINS, 'libOrthancDicomWeb.so'))
}

export interface OrthancOptions {
  /** Extra keys merged into the DicomWeb section (e.g. StudiesMetadata). */
  dicomWeb?: Record<string, unknown>
  /** Extra top-level configuration keys. */
  config?: Record<string, unknown>
}

export async function startOrthanc(options: OrthancOptions = {}): Promise<OrthancServer> {
  if (!orthancAvailable()) {
    throw new Error(
      `Orthanc with its DICOMweb plugin is not installed (${ORTHANC_BIN}); ` +
        'run scripts/install-test-deps.sh',
    )
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'isogate-orthanc-'))
  const configPath = join(dir, 'orthanc.json')
  const config = {
    Name: 'isogate-test',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'storage'),
    HttpPort: port,
    HttpBindAddress: '127.0.0.1',
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    DicomPort: 0,
    HttpCompressionEnabled: false,
    Plugins: [join(ORTHANC_PLUGINS, 'libOrthancDicomWeb.so')],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, ...options.dicomWeb },
    StableAge: 1,
    ...options.config,
  }
  writeFileSync(configPath, JSON.stringify(config, null, 2))

  const logPath = join(dir, 'orthanc.log')
  const child: ChildProcess = spawn(ORTHANC_BIN, [`--logfile=${logPath}`, configPath], {
    stdio: 'ignore',
  })
  let exited = false
  child.once('exit', () => (exited = true))

  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error('Orthanc exited at start')
        const response = await fetch(`${url}/system`)
        return response.ok ? true : undefined
      },
      `Orthanc on ${url}`,
      30_000,
    )
  } catch (error) {
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2000) : ''
    child.kill('SIGKILL')
    throw new Error(`${String(error)}\n${log}`)
  }

  return {
    url,
    dicomWebRoot: `${url}/dicom-web`,
    port,
    pid: child.pid ?? -1,
    async upload(file) {
      const body = typeof file === 'string' ? readFileSync(file) : file
      const response = await fetch(`${url}/instances`, {
        method: 'POST',
        body: new Uint8Array(body),
      })
      if (!response.ok) throw new Error(`Orthanc refused upload: ${response.status}`)
      const json = (await response.json()) as { ID: string }
      return json.ID
    },
    async stop() {
      if (!exited && child.pid) {
        process.kill(child.pid, 'SIGTERM')
        const done = new Promise((r) => child.once('exit', r))
        const kill = () => child.pid && !exited && process.kill(child.pid, 'SIGKILL')
        const timer = setTimeout(kill, 10_000)
        await done
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

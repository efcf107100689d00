/**
 * The processes of a scaled-out site, each started on loopback by the test and stopped by PID:
 * a PostgreSQL cluster in a temporary folder, Orthanc processes sharing it (Debian's
 * orthanc-postgresql: index and storage area both in PostgreSQL), and Isogate gateways run as
 * `isogate serve` child processes from the sources (tsx), so one can be killed like any process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { ORTHANC_BIN, ORTHANC_PLUGINS } from './orthanc.js'
import { freePort, waitFor } from './ports.js'

const PG_PLUGINS = ['libOrthancPostgreSQLIndex.so', 'libOrthancPostgreSQLStorage.so']

/** The newest PostgreSQL server binaries Debian installed, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin')
}

/** Runs a PostgreSQL tool as the `postgres` user when we are root (initdb refuses root). */
function asPostgres(command: string, args: string[]): { status: number; output: string } {
  const root = process.getuid?.() === 0
  const [cmd, argv] = root
    ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, args]
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 })
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0)
    } catch {
      return true
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return false
}

export interface Postgres {
  readonly port: number
  readonly pid: number
  readonly database: string
  readonly user: string
  stop(): Promise<void>
}

/** A throw-away cluster: initdb in a temp folder, trust auth, TCP on 127.0.0.1 only. */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin()
  if (bin === undefined) throw new Error('PostgreSQL is not installed (Debian postgresql)')
  for (const plugin of ['libOrthancDicomWeb.so', ...PG_PLUGINS]) {
    if (!existsSync(join(ORTHANC_PLUGINS, plugin))) {
      throw new Error(`${plugin} is missing; run scripts/install-test-deps.sh`)
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'isogate-pg-'))
  if (process.getuid?.() === 0) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()
    chownSync(dir, Number(uid), Number(gid))
  }
  const data = join(dir, 'data')
  const user = 'isogate'
  const init = asPostgres(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', user, '-N'])
  if (init.status !== 0) throw new Error(`initdb failed: ${init.output.slice(-1500)}`)
  const port = await freePort()
  // fsync off: a test cluster, thrown away afterwards; it spares the shared disk.
  const options = `-k ${dir} -p ${port} -h 127.0.0.1 -c fsync=off -c max_connections=50`
  const log = join(dir, 'postgres.log')
  const ctl = join(bin, 'pg_ctl')
  const started = asPostgres(ctl, ['-D', data, '-l', log, '-w', '-o', options, 'start'])
  if (started.status !== 0) {
    const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-1500) : ''
    throw new Error(`pg_ctl start failed: ${started.output}\n${tail}`)
  }
  const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  const database = 'orthanc'
  const created = asPostgres(join(bin, 'createdb'), [
    ...['-h', '127.0.0.1', '-p', `${port}`, '-U', user, database],
  ])
  if (created.status !== 0) {
    process.kill(pid, 'SIGINT')
    throw new Error(`createdb failed: ${created.output}`)
  }
  return {
    port,
    pid,
    database,
    user,
    async stop() {
      try {
        // SIGINT: PostgreSQL's fast shutdown (clients are disconnected).
        process.kill(pid, 'SIGINT')
      } catch {
        // already gone
      }
      if (!(await waitForExit(pid, 15_000))) process.kill(pid, 'SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface PgOrthanc {
  readonly url: string
  readonly dicomWebRoot: string
  readonly port: number
  readonly pid: () => number
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>
  /** Starts it again on the same port and config. */
  restart(): Promise<void>
  upload(file: Buffer): Promise<void>
  stop(): Promise<void>
}

/** An Orthanc with DICOMweb whose index and storage area live in `pg`. */
export async function startPgOrthanc(pg: Postgres, name: string): Promise<PgOrthanc> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), `isogate-${name}-`))
  const configPath = join(dir, 'orthanc.json')
  writeFileSync(
    configPath,
    JSON.stringify({
      Name: name,
      StorageDirectory: join(dir, 'unused'),
      IndexDirectory: join(dir, 'unused'),
      HttpPort: port,
      HttpBindAddress: '127.0.0.1',
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DicomServerEnabled: false,
      DicomPort: 0,
      HttpCompressionEnabled: false,
      Plugins: ['libOrthancDicomWeb.so', ...PG_PLUGINS].map((p) => join(ORTHANC_PLUGINS, p)),
      DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true },
      StableAge: 1,
      PostgreSQL: {
        EnableIndex: true,
        EnableStorage: true,
        Host: '127.0.0.1',
        Port: pg.port,
        Database: pg.database,
        Username: pg.user,
        Password: '',
        // Several Orthanc processes write to one database (plugin 4.0, Orthanc >= 1.9.2).
        Lock: false,
        IndexConnectionsCount: 2,
        MaximumConnectionRetries: 5,
        ConnectionRetryInterval: 1,
      },
    }),
  )
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  let exited = true

  const start = async () => {
    const logPath = join(dir, 'orthanc.log')
    const started = spawn(ORTHANC_BIN, [`--logfile=${logPath}`, configPath], { stdio: 'ignore' })
    child = started
    exited = false
    started.once('exit', () => (exited = true))
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error('Orthanc exited at start')
          return (await fetch(`${url}/system`)).ok ? true : undefined
        },
        `Orthanc ${name} on ${url}`,
        40_000,
      )
    } catch (error) {
      if (!exited) started.kill('SIGKILL')
      const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-1500) : ''
      throw new Error(`${String(error)}\n${log}`)
    }
  }

  const stopWith = async (signal: NodeJS.Signals) => {
    const running = child
    if (exited || running?.pid === undefined) return
    const done = new Promise((r) => running.once('exit', r))
    process.kill(running.pid, signal)
    const timer = setTimeout(() => !exited && running.kill('SIGKILL'), 10_000)
    await done
    clearTimeout(timer)
  }

  await start()
  return {
    url,
    dicomWebRoot: `${url}/dicom-web`,
    port,
    pid: () => child?.pid ?? -1,
    kill: () => stopWith('SIGKILL'),
    restart: start,
    async upload(file) {
      const body = new Uint8Array(file)
      const response = await fetch(`${url}/instances`, { method: 'POST', body })
      if (!response.ok) throw new Error(`Orthanc ${name} refused the upload: ${response.status}`)
    },
    async stop() {
      await stopWith('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface GatewayProcess {
  readonly port: number
  readonly origin: string
  readonly pid: number
  /** The last few KB the gateway logged (warnings and errors), for a failure message. */
  log(): string
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>
  stop(): Promise<void>
}

/** `isogate serve --config FILE` as a child process (sources through tsx), ready on readyz. */
export async function startGatewayProcess(
  config: { listen: { host: string; port: number } } & Record<string, unknown>,
  dir: string,
  name: string,
): Promise<GatewayProcess> {
  const port = config.listen.port
  const configPath = join(dir, `${name}.json`)
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const main = join(process.cwd(), 'src/cli/main.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '-c', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
  let exited = false
  child.once('exit', () => (exited = true))
  const origin = `http://127.0.0.1:${port}`
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`gateway ${name} exited: ${stderr}`)
        return (await fetch(`${origin}/__isogate/readyz`)).ok ? true : undefined
      },
      `gateway ${name} on ${origin}`,
      60_000,
    )
  } catch (error) {
    if (!exited && child.pid) process.kill(child.pid, 'SIGKILL')
    throw error
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    if (exited || child.pid === undefined) return
    const done = new Promise((r) => child.once('exit', r))
    process.kill(child.pid, signal)
    const timer = setTimeout(() => !exited && child.kill('SIGKILL'), 12_000)
    await done
    clearTimeout(timer)
  }
  return {
    port,
    origin,
    pid: child.pid ?? -1,
    kill: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
    log: () => stderr,
  }
}

/**
 * Starting the servers a recipe is written for, as our own processes on loopback: nginx and
 * Apache with a self-contained main config around the rendered site, Caddy with the rendered
 * Caddyfile. Each is stopped by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

import type { RecipeOutput } from '../../src/recipes/index.js'
import { waitFor } from './ports.js'

export interface RunningServer {
  readonly pid: number
  readonly base: string
  stop(): Promise<void>
}

/** Writes a recipe's files under `dir`. */
export function writeRecipe(dir: string, output: RecipeOutput): void {
  for (const file of output.files) {
    const path = join(dir, file.path)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, file.content)
  }
}

/** Runs a checker command; returns its exit status and combined output. */
export function check(command: string, args: string[]): { status: number; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 })
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` }
}

async function startProcess(
  command: string,
  args: string[],
  base: string,
  env: Record<string, string> = {},
  cwd?: string,
): Promise<RunningServer> {
  const child: ChildProcess = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  let exited = false
  child.once('exit', () => (exited = true))
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`${command} exited: ${stderr.slice(-1500)}`)
        await fetch(base, { method: 'HEAD' })
        return true
      },
      `${command} on ${base}`,
      30_000,
    )
  } catch (error) {
    if (!exited && child.pid) process.kill(child.pid, 'SIGKILL')
    throw error
  }
  return {
    pid: child.pid ?? -1,
    base,
    async stop() {
      if (exited || !child.pid) return
      const done = new Promise((r) => child.once('exit', r))
      process.kill(child.pid, 'SIGTERM')
      const timer = setTimeout(
        () => !exited && child.pid && process.kill(child.pid, 'SIGKILL'),
        5000,
      )
      await done
      clearTimeout(timer)
    },
  }
}

/** The main nginx.conf around a rendered site file: own prefix, pid and logs, in the foreground. */
export function nginxMainConf(dir: string, siteFile: string): string {
  const conf = join(dir, 'nginx.conf')
  const temp = join(dir, 'tmp')
  mkdirSync(temp, { recursive: true })
  writeFileSync(
    conf,
    [
      'user root;',
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  include /etc/nginx/mime.types;',
      '  default_type application/octet-stream;',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (k) => `  ${k}_temp_path ${temp}/${k};`,
      ),
      `  include ${siteFile};`,
      '}',
      '',
    ].join('\n'),
  )
  return conf
}

export async function startNginx(dir: string, conf: string, port: number): Promise<RunningServer> {
  return await startProcess('nginx', ['-p', dir, '-c', conf], `http://127.0.0.1:${port}`)
}

/** A self-contained httpd.conf: modules from Debian's folder, our own pid, logs and port. */
export function apacheMainConf(dir: string, siteFile: string, port: number): string {
  const conf = join(dir, 'httpd.conf')
  const modules = [
    'mpm_event',
    'authz_core',
    'mime',
    'dir',
    'headers',
    'rewrite',
    'proxy',
    'proxy_http',
    'substitute',
    'filter',
    'setenvif',
  ]
  writeFileSync(
    conf,
    [
      ...modules.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`),
      `ServerRoot ${dir}`,
      'ServerName 127.0.0.1',
      `PidFile ${join(dir, 'httpd.pid')}`,
      `ErrorLog ${join(dir, 'error.log')}`,
      'LogLevel warn',
      `Listen 127.0.0.1:${port}`,
      'User www-data',
      'Group www-data',
      'TypesConfig /etc/mime.types',
      `Mutex file:${dir}`,
      `DefaultRuntimeDir ${dir}`,
      'StartServers 1',
      'ServerLimit 1',
      'ThreadsPerChild 32',
      'MaxRequestWorkers 32',
      `Include ${siteFile}`,
      '',
    ].join('\n'),
  )
  return conf
}

export async function startApache(conf: string, port: number): Promise<RunningServer> {
  return await startProcess(
    '/usr/sbin/apache2',
    ['-f', conf, '-DFOREGROUND'],
    `http://127.0.0.1:${port}`,
    { APACHE_RUN_DIR: dirname(conf) },
  )
}

export async function startCaddy(caddyfile: string, port: number): Promise<RunningServer> {
  return await startProcess(
    'caddy',
    ['run', '--config', caddyfile, '--adapter', 'caddyfile'],
    `http://127.0.0.1:${port}`,
    { XDG_DATA_HOME: dirname(caddyfile), XDG_CONFIG_HOME: dirname(caddyfile) },
  )
}

/** Runs a rendered Node recipe (`vite`, `vite preview`, `node server.mjs`) in its folder. */
export async function startNodeRecipe(
  cwd: string,
  args: string[],
  port: number,
): Promise<RunningServer> {
  return await startProcess(process.execPath, args, `http://127.0.0.1:${port}`, {}, cwd)
}

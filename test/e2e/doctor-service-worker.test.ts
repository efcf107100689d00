/**
 * `isogate doctor` on a static host that sends no isolation headers and relies on the files of
 * `isogate recipe service-worker`: the doctor must find the shim in the HTML, check that its
 * worker can be registered, predict that loads the worker controls are isolated (exit 0, with
 * the first-load limit as a warning), and Chromium (`--browser`) must agree after the shim's
 * reload. The negative cases: no shim (a plain failure), a worker that 404s, a worker answered
 * with the host's HTML fallback, OHIF's init-service-worker.js unregistering the shim, and a
 * Permissions-Policy the worker cannot remove.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { witness } from '../../src/doctor/browser.js'
import { diagnose, type DoctorReport } from '../../src/doctor/diagnose.js'
import { renderRecipe } from '../../src/recipes/index.js'
import { screenshotDir } from '../helpers/chromium.js'

/** Chromium may resolve nothing but loopback. */
const LOOPBACK_ONLY = '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'
const OHIF_INIT_SW = new URL('../../vendor/ohif/init-service-worker.js', import.meta.url)

type Files = Record<string, string>

interface Host {
  readonly origin: string
  readonly server: http.Server
  /** Requests by path (query dropped), in arrival order. */
  readonly paths: string[]
}

/**
 * Serves files from memory with a Content-Type and nothing else (plus `extra` headers): the
 * kind of host the shim exists for. Unknown paths get `fallback` (an SPA host's index.html)
 * or a 404.
 */
async function staticHost(
  files: Files,
  options: { extra?: Record<string, string>; fallback?: string } = {},
): Promise<Host> {
  const paths: string[] = []
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/'
    paths.push(path)
    const name = path.endsWith('/') ? `${path}index.html` : path
    const body = files[name] ?? (options.fallback ? files[options.fallback] : undefined)
    if (body === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' })
      response.end('not found')
      return
    }
    const served = files[name] === undefined ? (options.fallback ?? name) : name
    const type = served.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript'
    response.writeHead(200, { 'content-type': type, ...options.extra })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { origin, server, paths }
}

/** The page: the loader first in <head> (when given), then a little content. */
function indexHtml(head: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8">
${head}
<title>static viewer</title></head>
<body><div id="app"><p>a static host that sends no isolation headers</p></div></body></html>`
}

const LOADER_TAG = '<script src="/isogate-coi.js"></script>'

/** The files `isogate recipe service-worker -o site/` writes, plus index.html. */
function recipeSite(head = LOADER_TAG, isolation = 'require-corp'): Files {
  const files: Files = { '/index.html': indexHtml(head) }
  for (const file of renderRecipe('service-worker', { isolation }).files) {
    files[`/${file.path}`] = file.content
  }
  return files
}

const hosts: Host[] = []
async function host(files: Files, options?: Parameters<typeof staticHost>[1]): Promise<Host> {
  const h = await staticHost(files, options)
  hosts.push(h)
  return h
}

const codes = (report: DoctorReport) => report.findings.map((f) => f.code)
const find = (report: DoctorReport, code: string) => report.findings.find((f) => f.code === code)

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** `isogate doctor` as a command, stopped by its own PID if it overruns. */
function doctor(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'doctor', ...args],
      { env: { ...process.env, ISOGATE_CHROMIUM_ARGS: LOOPBACK_ONLY, NO_COLOR: '1' } },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    const timer = setTimeout(() => child.pid && process.kill(child.pid), 100_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

before(() => mkdirSync(screenshotDir(), { recursive: true }))

after(async () => {
  for (const h of hosts) await new Promise((resolve) => h.server.close(resolve))
})

describe('doctor: a static host isolated by the service-worker recipe', () => {
  let site: Host

  before(async () => {
    site = await host(recipeSite())
  })

  it('predicts isolation of controlled loads, and says the first load is not', async () => {
    const report = await diagnose({ url: `${site.origin}/` })
    // The host really sends nothing: the prediction can only come from the shim.
    assert.deepEqual(report.document.headers, {})
    assert.equal(report.verdict.isolated, true)
    assert.equal(report.verdict.isolatedBy, 'service-worker')
    assert.equal(report.verdict.exitCode, 0)
    assert.deepEqual(report.serviceWorker, {
      kind: 'isogate',
      loaderUrl: `${site.origin}/isogate-coi.js`,
      workerUrl: `${site.origin}/isogate-sw.js`,
      workerStatus: 200,
      workerContentType: 'text/javascript',
      mode: 'require-corp',
      scope: `${site.origin}/`,
      loaderFirst: true,
      problem: null,
      controlledIsolated: true,
    })
    const limit = find(report, 'SW_NOT_CONTROLLING')
    assert.equal(limit?.severity, 'warning')
    assert.equal(limit?.detail, 'FIRST_LOAD')
    assert.match(limit?.message ?? '', /first visit/)
    assert.match(limit?.message ?? '', /forced reload/)
    assert.match(limit?.message ?? '', /secure context/)
    // What the server lacks is still reported, as a note on the first load.
    assert.equal(find(report, 'COOP_MISSING')?.severity, 'info')
    assert.equal(find(report, 'COEP_MISSING')?.severity, 'info')
    assert.ok(!codes(report).includes('SAB_UNAVAILABLE'), codes(report).join(', '))
    assert.ok(!codes(report).includes('SW_UNAVAILABLE'))
    // The worker script was fetched the way registration fetches it.
    assert.ok(site.paths.includes('/isogate-sw.js'))
  })

  it('the command prints the limit and exits 0', async () => {
    const run = await doctor([`${site.origin}/`])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /isolated: yes, through a service worker/)
    assert.match(run.stdout, /! SW_NOT_CONTROLLING isolated only on loads the Isogate/)
    assert.match(run.stdout, /OK: the viewer will be isolated on loads the service worker/)
    assert.doesNotMatch(run.stdout, /✗/)
  })

  it('--browser: Chromium reloads through the worker and is isolated, as predicted', async () => {
    const shot = join(screenshotDir(), 'doctor-service-worker.png')
    const run = await doctor([`${site.origin}/`, '--browser', '--json', '--screenshot', shot])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    const report = JSON.parse(run.stdout) as DoctorReport & {
      browser: Awaited<ReturnType<typeof witness>>
    }
    assert.equal(report.browser.crossOriginIsolated, true)
    assert.equal(report.browser.sharedArrayBuffer, 'function')
    assert.deepEqual(report.browser.disagreements, [])
    // The first load came from the network, the one read came through the worker.
    const loads = report.browser.serviceWorker?.loads ?? []
    assert.equal(loads[0]?.throughWorker, false)
    assert.equal(loads.at(-1)?.throughWorker, true)
    assert.equal(report.browser.serviceWorker?.controlled, true)
    assert.equal(report.browser.serviceWorker?.registered, true)
  })

  it('data-coep="credentialless" on the loader tag is the mode predicted', async () => {
    const tag = '<script src="/isogate-coi.js" data-coep="credentialless"></script>'
    const cl = await host(recipeSite(tag))
    const report = await diagnose({ url: `${cl.origin}/` })
    assert.equal(report.serviceWorker?.mode, 'credentialless')
    assert.equal(report.verdict.exitCode, 0)
    assert.match(find(report, 'SW_NOT_CONTROLLING')?.message ?? '', /COEP credentialless/)
  })

  it('coi-serviceworker is recognised by its file name and checked the same way', async () => {
    // A stand-in file: the doctor reads the name and the reply, never runs the script.
    const coi = await host({
      '/index.html': indexHtml('<script src="/coi-serviceworker.min.js"></script>'),
      '/coi-serviceworker.min.js': '/* stand-in for coi-serviceworker */',
    })
    const report = await diagnose({ url: `${coi.origin}/` })
    assert.equal(report.serviceWorker?.kind, 'coi-serviceworker')
    assert.equal(report.serviceWorker?.workerUrl, `${coi.origin}/coi-serviceworker.min.js`)
    assert.equal(report.verdict.isolatedBy, 'service-worker')
    assert.match(find(report, 'SW_NOT_CONTROLLING')?.message ?? '', /coi-serviceworker shim/)
  })
})

describe('doctor: static hosts the shim cannot isolate', () => {
  it('no shim: the plain failure, with no word about service workers', async () => {
    const plain = await host({ '/index.html': indexHtml('') })
    const report = await diagnose({ url: `${plain.origin}/` })
    assert.equal(report.verdict.isolated, false)
    assert.equal(report.verdict.isolatedBy, null)
    assert.equal(report.verdict.exitCode, 1)
    assert.equal(report.serviceWorker, null)
    for (const code of ['COOP_MISSING', 'COEP_MISSING', 'SAB_UNAVAILABLE']) {
      assert.equal(find(report, code)?.severity, 'error', code)
    }
    assert.ok(!codes(report).some((c) => c.startsWith('SW_')), codes(report).join(', '))
  })

  it('the worker script 404s: SW_UNAVAILABLE says so, and Chromium agrees', async () => {
    const files = recipeSite()
    delete files['/isogate-sw.js']
    const missing = await host(files)
    const report = await diagnose({ url: `${missing.origin}/` })
    assert.equal(report.verdict.isolated, false)
    assert.equal(report.verdict.exitCode, 1)
    const blocker = find(report, 'SW_UNAVAILABLE')
    assert.equal(blocker?.severity, 'error')
    assert.equal(blocker?.detail, 'SCRIPT_MISSING')
    assert.deepEqual(blocker?.evidence, {
      url: `${missing.origin}/isogate-sw.js`,
      header: null,
      value: '404',
    })
    assert.match(blocker?.message ?? '', /isogate-sw\.js answers 404/)
    assert.equal(report.serviceWorker?.problem, 'SCRIPT_MISSING')
    assert.equal(report.serviceWorker?.controlledIsolated, false)
    // The header findings stay errors: nothing makes up for them.
    assert.equal(find(report, 'COOP_MISSING')?.severity, 'error')
    assert.equal(find(report, 'SAB_UNAVAILABLE')?.severity, 'error')

    const seen = await witness(report, { chromiumArgs: [LOOPBACK_ONLY] })
    assert.equal(seen.crossOriginIsolated, false)
    assert.deepEqual(seen.disagreements, [])
    // The loader's own account of the failed registration.
    assert.ok(
      seen.console.some((m) => /could not register isogate-sw\.js/.test(m.text)),
      JSON.stringify(seen.console),
    )
  })

  it('the host answers the worker with its SPA fallback page: SCRIPT_NOT_JAVASCRIPT', async () => {
    const files = recipeSite()
    delete files['/isogate-sw.js']
    const spa = await host(files, { fallback: '/index.html' })
    const report = await diagnose({ url: `${spa.origin}/` })
    const blocker = find(report, 'SW_UNAVAILABLE')
    assert.equal(blocker?.detail, 'SCRIPT_NOT_JAVASCRIPT')
    assert.equal(blocker?.evidence.header, 'Content-Type')
    assert.equal(blocker?.evidence.value, 'text/html; charset=utf-8')
    assert.equal(report.verdict.exitCode, 1)
  })

  it('OHIF’s own init-service-worker.js unregisters the shim, in Chromium too', async () => {
    const ohifTag = '<script type="module" src="/init-service-worker.js"></script>'
    const files = {
      ...recipeSite(`${LOADER_TAG}\n${ohifTag}`),
      '/init-service-worker.js': readFileSync(OHIF_INIT_SW, 'utf8'),
    }
    const ohif = await host(files)
    const report = await diagnose({ url: `${ohif.origin}/` })
    const blocker = find(report, 'SW_NOT_CONTROLLING')
    assert.equal(blocker?.severity, 'error')
    assert.equal(blocker?.detail, 'UNREGISTERED_BY_PAGE')
    assert.equal(report.verdict.isolated, false)
    assert.equal(report.verdict.exitCode, 1)

    // Whether this one load ends isolated is a race between the loader's reload and the
    // unregistration (both seen in Chromium); that the worker is gone afterwards is not.
    const seen = await witness(report, { chromiumArgs: [LOOPBACK_ONLY] })
    assert.equal(seen.serviceWorker?.registered, false)
    assert.equal(seen.serviceWorker?.loads[0]?.throughWorker, false)
    assert.deepEqual(seen.disagreements, [])
  })

  it('a Permissions-Policy that denies isolation is kept by the worker: not isolated', async () => {
    const denied = await host(recipeSite(), {
      extra: { 'permissions-policy': 'cross-origin-isolated=()' },
    })
    const report = await diagnose({ url: `${denied.origin}/` })
    assert.equal(report.verdict.isolated, false)
    assert.equal(report.verdict.exitCode, 1)
    assert.equal(report.serviceWorker?.problem, null)
    assert.equal(report.serviceWorker?.controlledIsolated, false)
    const reason = find(report, 'PERMISSIONS_POLICY_COI_DENIED')
    assert.equal(reason?.severity, 'error')
    assert.match(reason?.message ?? '', /even through the Isogate service-worker shim/)
  })
})

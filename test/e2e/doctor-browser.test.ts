/**
 * `isogate doctor` as a command: exit codes 0/1/2, --json, --allow-unisolated, and --browser,
 * where Debian's Chromium loads the bundled OHIF build and must agree with the prediction.
 * Chromium is kept on loopback: every name but the lab's resolves to nothing.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { screenshotDir } from '../helpers/chromium.js'
import { appConfigFor, ohifRouter, startSite, type Pairs, type Site } from './doctor-site.js'

const ISO: Pairs = [
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Embedder-Policy', 'require-corp'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
]
const ui = (v: string) => ({ vr: 'UI', Value: [v] })
const started: Site[] = []
/** Every name but 127.0.0.1 resolves to nothing: the viewer cannot reach past loopback. */
const LOOPBACK_ONLY = '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'

/** A same-origin DICOMweb mount with one study, so OHIF's study list has something to show. */
const dicomweb = (headers: Pairs) => (_req: unknown, url: URL) => {
  const p = url.pathname
  const json = (body: unknown) => ({
    headers: [['Content-Type', 'application/dicom+json'], ...headers] as Pairs,
    body: JSON.stringify(body),
  })
  if (p === '/dicom-web/studies') {
    return json([
      {
        '0020000D': ui('1.2.3'),
        '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doctor^Test' }] },
        '00081030': { vr: 'LO', Value: ['witness'] },
        '00080061': { vr: 'CS', Value: ['CT'] },
      },
    ])
  }
  if (p.endsWith('/1.2.3/series')) return json([])
  return p.startsWith('/dicom-web/') ? { status: 404, headers, body: '' } : undefined
}

async function site(headers: Pairs): Promise<Site> {
  const s = await startSite(
    ohifRouter({
      headers: () => headers,
      appConfig: appConfigFor('/dicom-web', { omitQuotationForMultipartRequest: true }),
      extra: dicomweb(headers),
    }),
  )
  started.push(s)
  return s
}

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs `isogate doctor` as a child process (stopped by its PID if it overruns). */
function doctor(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'doctor', ...args],
      {
        env: { ...process.env, ISOGATE_CHROMIUM_ARGS: LOOPBACK_ONLY },
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const timer = setTimeout(() => process.kill(child.pid ?? 0), 100_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

after(async () => {
  for (const s of started) await s.close()
})

describe('isogate doctor (command)', { timeout: 170_000 }, () => {
  it('an isolated OHIF: exit 0, and Chromium agrees (crossOriginIsolated, SAB)', async () => {
    const s = await site(ISO)
    mkdirSync(screenshotDir(), { recursive: true })
    const shot = join(screenshotDir(), 'doctor-witness-isolated.png')
    rmSync(shot, { force: true })
    const run = await doctor([`${s.origin}/`, '--browser', '--json', '--screenshot', shot])
    assert.equal(run.code, 0, run.stdout.slice(0, 3000) + run.stderr)
    const report = JSON.parse(run.stdout) as {
      verdict: { isolated: boolean }
      browser: { crossOriginIsolated: boolean; sharedArrayBuffer: string; disagreements: string[] }
    }
    assert.equal(report.verdict.isolated, true)
    assert.equal(report.browser.crossOriginIsolated, true)
    assert.equal(report.browser.sharedArrayBuffer, 'function')
    assert.deepEqual(report.browser.disagreements, [])
    assert.ok(existsSync(shot))
  })

  it('no isolation headers: exit 1; --allow-unisolated: exit 0; Chromium agrees', async () => {
    const s = await site([])
    const strict = await doctor([`${s.origin}/`])
    assert.equal(strict.code, 1, strict.stdout)
    assert.match(strict.stdout, /COOP_MISSING/)
    assert.match(strict.stdout, /fix: /)
    const shot = join(screenshotDir(), 'doctor-witness-unisolated.png')
    const relaxed = await doctor([
      `${s.origin}/`,
      '--allow-unisolated',
      '--browser',
      '--screenshot',
      shot,
    ])
    assert.equal(relaxed.code, 0, relaxed.stdout + relaxed.stderr)
    assert.match(relaxed.stdout, /crossOriginIsolated: false/)
    assert.match(relaxed.stdout, /prediction and browser agree/)
  })

  it('exit 2 when the doctor cannot run', async () => {
    const s = await startSite(() => undefined)
    const port = s.port
    await s.close()
    const run = await doctor([`http://127.0.0.1:${port}/`])
    assert.equal(run.code, 2, run.stderr)
    assert.match(run.stderr, /ISOGATE_E_DOCTOR_UNREACHABLE/)
    assert.equal((await doctor(['not a url'])).code, 2)
  })
})

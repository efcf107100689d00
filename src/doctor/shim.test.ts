import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { headerLines } from '../policy/rules/index.js'
import { loaderScript, serviceWorkerScript } from '../recipes/service-worker/scripts.js'
import type { HttpClient, ProbeOptions, ProbeResult } from './http.js'
import {
  coiMode,
  inScope,
  inspectShim,
  isJavaScript,
  readLoader,
  readScripts,
  shimCandidates,
  throughWorker,
} from './shim.js'

const PAGE = 'https://viewer.example/'
const JS = 'text/javascript; charset=utf-8'

interface Answer {
  status?: number
  type?: string
  body?: string
  location?: string
}

/** A client that answers from a table and records what it was asked. */
function fake(table: Record<string, Answer>): HttpClient & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    probe: (url: string, options: ProbeOptions = {}): Promise<ProbeResult> => {
      asked.push(url)
      const key = url.replace(/\?.*$/, '')
      const a = table[key] ?? { status: 404, type: 'text/plain', body: 'not found' }
      const pairs: Array<[string, string]> = [['Content-Type', a.type ?? JS]]
      if (a.location) pairs.push(['Location', a.location])
      const status = a.status ?? 200
      if (a.location && options.follow !== false) {
        return fake(table).probe(new URL(a.location, url).toString(), options)
      }
      return Promise.resolve({
        url,
        finalUrl: url,
        status,
        headers: headerLines(pairs),
        redirects: [],
        body: a.body ?? '',
        truncated: false,
      })
    },
    close: () => Promise.resolve(),
  }
}

const LOADER = loaderScript('require-corp', 'isogate-sw.js')
const WORKER = serviceWorkerScript('require-corp')
const page = (head: string) => `<!doctype html><html><head>${head}</head><body></body></html>`
const recipe = {
  [`${PAGE}isogate-coi.js`]: { body: LOADER },
  [`${PAGE}isogate-sw.js`]: { body: WORKER },
}

describe('finding a service-worker shim in the HTML', () => {
  it('reads scripts in order and ignores commented-out ones', () => {
    const scripts = readScripts(
      '<!-- <script src="/old.js"></script> --><script src="/a.js"></script>' +
        '<script>window.x = 1</script>',
      PAGE,
    )
    assert.deepEqual(
      scripts.map((s) => s.src ?? s.text),
      [`${PAGE}a.js`, 'window.x = 1'],
    )
  })

  it('names: the Isogate loader, coi-serviceworker (plain and min), a first script', () => {
    const scripts = readScripts(
      '<script src="/app.js"></script><script src="/lib/coi-serviceworker.min.js"></script>' +
        '<script src="isogate-coi.js" data-coep="credentialless"></script>',
      `${PAGE}viewer/`,
    )
    assert.deepEqual(
      shimCandidates(scripts).map((c) => [c.kind, c.named, c.first, c.coepAttr ?? null]),
      [
        ['isogate', false, true, null],
        ['coi-serviceworker', true, false, null],
        ['isogate', true, false, 'credentialless'],
      ],
    )
  })

  it('reads the worker file and the default COEP from the loader the recipe writes', () => {
    const read = readLoader(loaderScript('credentialless', 'other-sw.js'))
    assert.deepEqual(read, { isogate: true, workerFile: 'other-sw.js', mode: 'credentialless' })
    assert.equal(readLoader('console.log(1)').isogate, false)
  })

  it('coi-serviceworker is credentialless unless window.coi turns it off', () => {
    const off = readScripts(
      '<script>window.coi = { coepCredentialless: () => false }</script>',
      PAGE,
    )
    assert.equal(coiMode(off), 'require-corp')
    assert.equal(coiMode([]), 'credentialless')
  })

  it('JavaScript is told by MIME type, and an HTML fallback is not JavaScript', () => {
    assert.equal(isJavaScript('application/javascript', 'x()'), true)
    assert.equal(isJavaScript('text/html', 'x()'), false)
    assert.equal(isJavaScript(null, 'x()'), false)
    assert.equal(isJavaScript('text/javascript', '<!doctype html>'), false)
  })

  it('a worker controls pages under its own folder only', () => {
    assert.equal(inScope(`${PAGE}viewer/`, `${PAGE}isogate-sw.js`), true)
    assert.equal(inScope(PAGE, `${PAGE}js/isogate-sw.js`), false)
  })
})

describe('checking the shim’s scripts', () => {
  const loaderTag = '<script src="/isogate-coi.js"></script>'

  it('the recipe’s files, in place: no problem, mode and scope as written', async () => {
    const found = await inspectShim(fake(recipe), PAGE, page(loaderTag))
    assert.equal(found?.blocker, null)
    assert.equal(found?.facts.kind, 'isogate')
    assert.equal(found?.facts.workerUrl, `${PAGE}isogate-sw.js`)
    assert.equal(found?.facts.mode, 'require-corp')
    assert.equal(found?.facts.scope, PAGE)
    assert.equal(found?.facts.loaderFirst, true)
  })

  it('data-coep on the tag overrides the loader’s default', async () => {
    const tag = '<script src="/isogate-coi.js" data-coep="credentialless"></script>'
    assert.equal((await inspectShim(fake(recipe), PAGE, page(tag)))?.facts.mode, 'credentialless')
  })

  it('a renamed loader is recognised by its marker; another first script is not', async () => {
    const renamed = { ...recipe, [`${PAGE}coi.js`]: { body: LOADER } }
    const found = await inspectShim(fake(renamed), PAGE, page('<script src="/coi.js"></script>'))
    assert.equal(found?.facts.loaderUrl, `${PAGE}coi.js`)
    const plain = { [`${PAGE}app.js`]: { body: 'start()' } }
    assert.equal(
      await inspectShim(fake(plain), PAGE, page('<script src="/app.js"></script>')),
      null,
    )
  })

  const cases: Array<[string, Record<string, Answer>, string, string]> = [
    [
      'the worker 404s',
      { [`${PAGE}isogate-sw.js`]: { status: 404 } },
      'SW_UNAVAILABLE',
      'SCRIPT_MISSING',
    ],
    [
      'the host answers the worker with its HTML fallback',
      { [`${PAGE}isogate-sw.js`]: { type: 'text/html', body: '<!doctype html>' } },
      'SW_UNAVAILABLE',
      'SCRIPT_NOT_JAVASCRIPT',
    ],
    [
      'the worker redirects',
      {
        [`${PAGE}isogate-sw.js`]: { status: 301, location: '/v2/isogate-sw.js' },
        [`${PAGE}v2/isogate-sw.js`]: { body: WORKER },
      },
      'SW_UNAVAILABLE',
      'SCRIPT_REDIRECT',
    ],
    [
      'the loader 404s',
      { [`${PAGE}isogate-coi.js`]: { status: 404 } },
      'SW_UNAVAILABLE',
      'LOADER_MISSING',
    ],
  ]
  for (const [what, overrides, code, detail] of cases) {
    it(`${what}: ${code} ${detail}`, async () => {
      const found = await inspectShim(fake({ ...recipe, ...overrides }), PAGE, page(loaderTag))
      assert.equal(found?.blocker?.code, code)
      assert.equal(found?.blocker?.detail, detail)
      assert.equal(found?.blocker?.severity, 'error')
      assert.equal(found?.facts.problem, detail)
    })
  }

  it('a worker in a sub-folder cannot control the page: OUT_OF_SCOPE', async () => {
    const nested = {
      [`${PAGE}js/isogate-coi.js`]: { body: LOADER },
      [`${PAGE}js/isogate-sw.js`]: { body: WORKER },
    }
    const found = await inspectShim(
      fake(nested),
      PAGE,
      page('<script src="/js/isogate-coi.js"></script>'),
    )
    assert.equal(found?.blocker?.code, 'SW_NOT_CONTROLLING')
    assert.equal(found?.blocker?.detail, 'OUT_OF_SCOPE')
  })

  it('OHIF’s init-service-worker.js unregisters the shim: UNREGISTERED_BY_PAGE', async () => {
    const ohif = {
      ...recipe,
      [`${PAGE}init-service-worker.js`]: {
        body: 'navigator.serviceWorker.getRegistrations().then((r) => r[0].unregister())',
      },
    }
    const html = page(`${loaderTag}<script type="module" src="/init-service-worker.js"></script>`)
    const found = await inspectShim(fake(ohif), PAGE, html)
    assert.equal(found?.blocker?.detail, 'UNREGISTERED_BY_PAGE')
    // An emptied file, as docs/service-worker.md asks, is fine.
    const emptied = { ...ohif, [`${PAGE}init-service-worker.js`]: { body: '' } }
    assert.equal((await inspectShim(fake(emptied), PAGE, html))?.blocker, null)
  })

  it('coi-serviceworker: one file, same origin, JavaScript', async () => {
    const coi = { [`${PAGE}coi-serviceworker.js`]: { body: '/* a worker */' } }
    const tag = '<script src="coi-serviceworker.js"></script>'
    const found = await inspectShim(fake(coi), PAGE, page(tag))
    assert.equal(found?.blocker, null)
    assert.equal(found?.facts.kind, 'coi-serviceworker')
    assert.equal(found?.facts.workerUrl, `${PAGE}coi-serviceworker.js`)
    assert.equal(found?.facts.mode, 'credentialless')
    const cdn = '<script src="https://cdn.example/coi-serviceworker.min.js"></script>'
    const client = fake(coi)
    const far = await inspectShim(client, PAGE, page(cdn))
    assert.equal(far?.blocker?.detail, 'SCRIPT_CROSS_ORIGIN')
    assert.deepEqual(client.asked, [], 'another origin is not even asked')
  })
})

describe('probes through the worker', () => {
  it('same-origin replies get the worker’s COOP and COEP; other origins do not', async () => {
    const client = throughWorker(
      fake({ [`${PAGE}w.js`]: {}, ['https://pacs.example/x']: {} }),
      PAGE,
      'credentialless',
    )
    const own = await client.probe(`${PAGE}w.js`)
    assert.deepEqual(own.headers['cross-origin-embedder-policy'], ['credentialless'])
    const other = await client.probe('https://pacs.example/x')
    assert.equal(other.headers['cross-origin-embedder-policy'], undefined)
  })
})

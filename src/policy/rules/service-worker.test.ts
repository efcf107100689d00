import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { headerLines } from './headers.js'
import { serviceWorkerShim, shimmedHeaders } from './service-worker.js'

const URL_ = 'https://viewer.example/'
const base = { url: URL_, secure: true, available: true, controlled: true } as const
const none = headerLines([['Content-Type', 'text/html']])

describe('service-worker shim, judged on the headers the worker serves', () => {
  it('replaces every COOP and COEP line and keeps the rest', () => {
    const served = shimmedHeaders(
      headerLines([
        ['Cross-Origin-Embedder-Policy', 'require-corp'],
        ['Cross-Origin-Embedder-Policy', 'require-corp'],
        ['Cross-Origin-Opener-Policy', 'same-origin-allow-popups'],
        ['Permissions-Policy', 'camera=()'],
      ]),
      'credentialless',
    )
    assert.deepEqual(served['cross-origin-embedder-policy'], ['credentialless'])
    assert.deepEqual(served['cross-origin-opener-policy'], ['same-origin'])
    assert.deepEqual(served['permissions-policy'], ['camera=()'])
  })

  it('a controlled load of a header-less page is isolated, under the mode’s COEP', () => {
    const result = serviceWorkerShim({ ...base, mode: 'require-corp', headers: none })
    assert.equal(result.coi, true)
    assert.equal(result.coep, 'require-corp')
    assert.deepEqual(result.findings, [])
    assert.deepEqual(result.served?.['cross-origin-opener-policy'], ['same-origin'])
  })

  it('two COEP lines from the server do not matter: the worker sets one', () => {
    const doubled = headerLines([
      ['Cross-Origin-Embedder-Policy', 'require-corp'],
      ['Cross-Origin-Embedder-Policy', 'require-corp'],
    ])
    assert.equal(serviceWorkerShim({ ...base, mode: 'require-corp', headers: doubled }).coi, true)
  })

  it('a Permissions-Policy the worker copies still denies isolation', () => {
    const denied = headerLines([['Permissions-Policy', 'cross-origin-isolated=()']])
    const result = serviceWorkerShim({ ...base, mode: 'require-corp', headers: denied })
    assert.equal(result.coi, false)
    assert.equal(result.findings[0]?.code, 'PERMISSIONS_POLICY_COI_DENIED')
  })

  it('Safari: credentialless steps down to require-corp and is isolated', () => {
    const result = serviceWorkerShim({
      ...base,
      mode: 'credentialless',
      browser: 'safari',
      headers: none,
    })
    assert.equal(result.coi, true)
    assert.equal(result.coep, 'require-corp')
    assert.equal(result.findings[0]?.code, 'COEP_CREDENTIALLESS_UNSUPPORTED')
    assert.equal(result.findings[0]?.severity, 'info')
  })

  it('Chromium keeps credentialless', () => {
    const result = serviceWorkerShim({ ...base, mode: 'credentialless', headers: none })
    assert.equal(result.coi, true)
    assert.equal(result.coep, 'credentialless')
  })

  it('an uncontrolled load is not isolated, whatever the headers', () => {
    const result = serviceWorkerShim({
      ...base,
      controlled: false,
      mode: 'require-corp',
      headers: none,
    })
    assert.equal(result.coi, false)
    assert.equal(result.coep, null)
    assert.equal(result.findings[0]?.code, 'SW_NOT_CONTROLLING')
  })

  it('without headers a controlled load is assumed isolated (no served headers)', () => {
    const result = serviceWorkerShim({ ...base, mode: 'require-corp' })
    assert.equal(result.coi, true)
    assert.equal(result.served, null)
  })

  it('plain http off loopback: the shim never runs', () => {
    const result = serviceWorkerShim({
      ...base,
      url: 'http://10.0.0.5/',
      secure: false,
      mode: 'require-corp',
      headers: none,
    })
    assert.equal(result.coi, false)
    assert.equal(result.findings[0]?.code, 'INSECURE_CONTEXT')
  })
})

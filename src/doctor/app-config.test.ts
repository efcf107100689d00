import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'

import { renderAppConfig } from '../viewer/app-config.js'
import { CODE, dicomwebSources, readAppConfig } from './app-config.js'

describe('readAppConfig reads window.config without running it', () => {
  it('reads the bundled OHIF default config', () => {
    const source = readFileSync(new URL('../../vendor/ohif/app-config.js', import.meta.url), 'utf8')
    const { config } = readAppConfig(source)
    assert.ok(config)
    const [first] = dicomwebSources(config)
    assert.equal(first?.sourceName, 'ohif')
    assert.match(first?.qidoRoot ?? '', /^https:\/\//)
  })

  it('keeps values and types, marks code, follows a named object', () => {
    const { config } = readAppConfig(`
      const config = {
        useSharedArrayBuffer: 'FALSE', n: -3, flag: !0, list: [1, 'a'], tpl: \`x\`,
        transform: (url) => url.replace('a', 'b'), call: compute(), nested: { a: undefined },
        dataSources: [{ namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
          sourceName: 'pacs', configuration: { qidoRoot: '/dicom-web', wadoRoot: '/dicom-web' } }],
      };
      window.config = config;`)
    assert.ok(config)
    assert.equal(config.useSharedArrayBuffer, 'FALSE')
    assert.equal(config.n, -3)
    assert.equal(config.flag, true)
    assert.deepEqual(config.list, [1, 'a'])
    assert.equal(config.tpl, 'x')
    assert.equal(config.transform, CODE)
    assert.equal(config.call, CODE)
    assert.deepEqual(
      dicomwebSources(config).map((s) => s.qidoRoot),
      ['/dicom-web'],
    )
  })

  it('never evaluates the script', () => {
    const marker = '__isogate_doctor_ran__'
    readAppConfig(`globalThis.${marker} = true; window.config = { a: (globalThis.${marker} = 1) }`)
    assert.equal((globalThis as Record<string, unknown>)[marker], undefined)
  })

  it('says why when there is nothing to read', () => {
    assert.match(readAppConfig('window.config = () => ({})').problem ?? '', /function/)
    assert.match(readAppConfig('var x = 1').problem ?? '', /no `window.config/)
    assert.match(readAppConfig('window.config = {').problem ?? '', /does not parse/)
  })
  it('reads what Isogate (or any server) appends with Object.assign', () => {
    const built = `window.config = { routerBasename: '/', dataSources: [] }`
    const served = renderAppConfig(built, {
      basePath: '/',
      sources: [
        { name: 'demo', qidoRoot: '/dicomweb/demo', wadoRoot: '/dicomweb/demo', options: {} },
      ],
      defaultSource: 'demo',
      isolation: 'require-corp',
      version: '3.13.2',
    })
    const read = readAppConfig(served)
    assert.equal(read.problem, undefined)
    assert.equal(read.config?.routerBasename, '/')
    const [demo] = dicomwebSources(read.config ?? {})
    assert.equal(demo?.qidoRoot, '/dicomweb/demo')
    // A build whose own config is a function still yields the sources appended after it.
    const fromFunction = readAppConfig(
      'window.config = () => ({ a: 1 })\n' +
        'var base = window.config\nwindow.config = Object.assign({}, { dataSources: [] })',
    )
    assert.deepEqual(fromFunction.config, { dataSources: [] })
  })
})

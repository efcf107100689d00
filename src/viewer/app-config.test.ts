import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runInNewContext } from 'node:vm'

import { type AppConfigInput, renderAppConfig, sharedArrayBufferSetting } from './app-config.js'
import { bundledViewerRoot } from './locate.js'

const bundledConfig = readFileSync(join(bundledViewerRoot(), 'app-config.js'), 'utf8')

const input: AppConfigInput = {
  basePath: '/viewer/',
  sources: [
    {
      name: 'demo',
      qidoRoot: '/viewer/dicomweb/demo',
      wadoRoot: '/viewer/dicomweb/demo',
      options: {},
    },
    {
      name: 'pacs',
      qidoRoot: '/viewer/dicomweb/pacs',
      wadoRoot: '/viewer/dicomweb/pacs',
      options: { qidoSupportsIncludeField: true, supportsFuzzyMatching: true },
    },
    { name: 'cloud', qidoRoot: 'https://x.test/dw', wadoRoot: 'https://x.test/dw', options: {} },
  ],
  defaultSource: 'pacs',
  isolation: 'require-corp',
  version: '3.13.2',
}

interface SourceEntry {
  sourceName: string
  namespace: string
  configuration: Record<string, unknown> & { bulkDataURI: { transform(url: string): string } }
}
type WindowConfig = Record<string, unknown> & { dataSources: SourceEntry[] }

/** Runs the generated file as a browser would, and returns window.config. */
function evaluate(text: string): WindowConfig {
  const window: Record<string, unknown> = { location: { origin: 'https://viewer.test:8443' } }
  runInNewContext(text, { window, console })
  return window.config as WindowConfig
}

describe('renderAppConfig', () => {
  it('keeps the build config and overrides base, sources and default source', () => {
    const config = evaluate(renderAppConfig(bundledConfig, input))
    assert.equal(config.name, 'config/default.js')
    // Arrays made in the vm context have another prototype: compare their JSON.
    assert.equal(JSON.stringify(config.extensions), '[]')
    assert.equal(JSON.stringify(config.modes), '[]')
    assert.equal(config.customizationUrlPrefixes, undefined)
    assert.equal(config.dangerouslyUseDynamicConfig, undefined)
    assert.equal(typeof config.httpErrorHandler, 'function')
    assert.equal(config.routerBasename, '/viewer/')
    assert.equal(config.showStudyList, true)
    assert.equal(config.defaultDataSourceName, 'pacs')
    assert.equal(
      JSON.stringify(config.dataSources.map((s) => s.sourceName)),
      '["demo","pacs","cloud"]',
    )
  })

  it('points roots at the page origin, and leaves absolute URLs alone', () => {
    const config = evaluate(renderAppConfig(bundledConfig, input))
    const [demo, pacs, cloud] = config.dataSources.map((s) => s.configuration) as [
      SourceEntry['configuration'],
      SourceEntry['configuration'],
      SourceEntry['configuration'],
    ]
    assert.equal(demo.qidoRoot, 'https://viewer.test:8443/viewer/dicomweb/demo')
    assert.equal(demo.wadoRoot, 'https://viewer.test:8443/viewer/dicomweb/demo')
    assert.equal(demo.wadoUriRoot, 'https://viewer.test:8443/viewer/dicomweb/demo')
    assert.equal(cloud.qidoRoot, 'https://x.test/dw')
    assert.equal(pacs.qidoSupportsIncludeField, true)
    assert.equal(demo.qidoSupportsIncludeField, false)
    assert.equal(demo.namespace, undefined)
    assert.equal(
      config.dataSources[0]?.namespace,
      '@ohif/extension-default.dataSourcesModule.dicomweb',
    )
    assert.equal(demo.bulkDataURI.transform('/a/pixeldata.mp4'), '/a/rendered')
    // The stock CloudFront demo source is gone: the browser never leaves the viewer's origin.
    assert.ok(!JSON.stringify(config.dataSources).includes('cloudfront'))
  })

  it('writes useSharedArrayBuffer only for builds that read it, as a string', () => {
    assert.equal(evaluate(renderAppConfig(bundledConfig, input)).useSharedArrayBuffer, undefined)
    const old = { ...input, version: '3.8.2' }
    assert.equal(evaluate(renderAppConfig(bundledConfig, old)).useSharedArrayBuffer, 'AUTO')
    const off = { ...old, isolation: 'off' as const }
    assert.equal(evaluate(renderAppConfig(bundledConfig, off)).useSharedArrayBuffer, 'FALSE')
    assert.equal(sharedArrayBufferSetting('report-only', '3.7.0'), 'FALSE')
    assert.equal(sharedArrayBufferSetting('off', undefined), 'FALSE')
    assert.equal(sharedArrayBufferSetting('credentialless', '3.9.0'), undefined)
  })

  it('wraps a build whose config is a function', () => {
    const text = renderAppConfig(
      'window.config = () => ({ name: "fn", routerBasename: "/x" })',
      input,
    )
    const window: { location: unknown; config?: () => Record<string, unknown> } = {
      location: { origin: 'http://127.0.0.1:8080' },
    }
    runInNewContext(text, { window })
    const config = window.config?.() ?? {}
    assert.equal(config.name, 'fn')
    assert.equal(config.routerBasename, '/viewer/')
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { IsogateError } from '../../errors.js'
import {
  connectionNamed,
  filterResponseHeaders,
  forwardRequestHeaders,
  mergeVary,
} from './headers.js'
import { fillModalities, splitIncludefield, studiesWithEmptyModalities } from './repairs.js'
import { resolveTarget, resourceKind, upstreamUrl } from './target.js'

const ROOT = new URL('http://127.0.0.1:8042/dicom-web/')

function refused(target: string, mount = '/dicomweb/pacs'): boolean {
  try {
    resolveTarget(target, mount)
    return false
  } catch (error) {
    assert.ok(error instanceof IsogateError)
    assert.equal(error.code, 'ISOGATE_E_PROXY_FORBIDDEN_TARGET')
    return true
  }
}

describe('path safety', () => {
  it('maps a path below the mount onto the root, verbatim', () => {
    const target = resolveTarget(
      '/dicomweb/pacs/studies/1.2/series?limit=1&x=%41',
      '/dicomweb/pacs',
    )
    assert.deepEqual(target, { rest: '/studies/1.2/series', query: 'limit=1&x=%41' })
    assert.equal(
      upstreamUrl(ROOT, target),
      'http://127.0.0.1:8042/dicom-web/studies/1.2/series?limit=1&x=%41',
    )
    assert.equal(
      upstreamUrl(ROOT, resolveTarget('/dicomweb/pacs', '/dicomweb/pacs')),
      'http://127.0.0.1:8042/dicom-web',
    )
    assert.equal(
      upstreamUrl(new URL('http://h:1'), resolveTarget('/studies', '')),
      'http://h:1/studies',
    )
  })

  it('refuses everything that could leave the root', () => {
    const bad = [
      'http://evil.example/studies',
      '*',
      'evil.example:80',
      '/dicomweb/pacs/../system',
      '/dicomweb/pacs/studies/..',
      '/dicomweb/pacs/./studies',
      '/dicomweb/pacs/%2e%2e/system',
      '/dicomweb/pacs/%2E%2e/system',
      '/dicomweb/pacs/.%2e/system',
      '/dicomweb/pacs/%252e%252e/system',
      '/dicomweb/pacs/..%2fsystem',
      '/dicomweb/pacs/..%2Fsystem',
      '/dicomweb/pacs/..%5csystem',
      '/dicomweb/pacs/..\\system',
      '/dicomweb/pacs/..;x/system',
      '/dicomweb/pacs//evil.example/x',
      '/dicomweb/pacs/studies//x',
      '/dicomweb/pacs/%00',
      '/dicomweb/pacs/%zz',
      '/dicomweb/pacs/%',
      '/dicomweb/pacsx/studies',
      '/dicomweb/other/studies',
      '/dicomweb/pacs/studies?x=1#y',
      '/dicomweb/pacs/stu dies',
    ]
    for (const target of bad) assert.ok(refused(target), target)
    for (const target of [
      '/studies',
      '/',
      '/studies/1.2.840/series/',
      '/studies?includefield=a%2Cb',
    ]) {
      assert.ok(!refused(target, ''), target)
    }
  })

  it('classifies resources', () => {
    assert.equal(resourceKind('/studies'), 'qido-studies')
    assert.equal(resourceKind('/studies/1/series'), 'qido')
    assert.equal(resourceKind('/studies/1/series/2/metadata'), 'metadata')
    assert.equal(resourceKind('/studies/1/series/2/instances/3/rendered'), 'rendered')
    assert.equal(resourceKind('/studies/1/thumbnail'), 'rendered')
    assert.equal(resourceKind('/studies/1/series/2/instances/3/frames/1'), 'other')
  })
})

describe('header filtering', () => {
  it('forwards what DICOMweb needs, never hop-by-hop fields or cookies', () => {
    const out = forwardRequestHeaders(
      {
        host: 'evil.example',
        accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
        range: 'bytes=0-9',
        authorization: 'Bearer t',
        'if-none-match': '"x"',
        cookie: 'session=1',
        connection: 'keep-alive, x-secret',
        'x-secret': 'y',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic z',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        origin: 'https://viewer.example',
        'content-length': '5',
      },
      {
        publicOrigin: 'https://viewer.example:8443',
        clientAddress: '127.0.0.1',
        withBody: false,
        dropRange: false,
      },
    )
    assert.deepEqual(out, {
      accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      range: 'bytes=0-9',
      authorization: 'Bearer t',
      'if-none-match': '"x"',
      'accept-encoding': 'identity',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': 'viewer.example:8443',
      'x-forwarded-proto': 'https',
    })
    const named = forwardRequestHeaders(
      { connection: 'Authorization', authorization: 'x', range: 'bytes=0-1' },
      { publicOrigin: 'http://a:1', clientAddress: undefined, withBody: false, dropRange: true },
    )
    assert.equal(named.authorization, undefined)
    assert.equal(named.range, undefined)
  })

  it('drops hop-by-hop and gateway-owned response headers', () => {
    const out = filterResponseHeaders({
      connection: 'keep-alive, x-hop',
      'keep-alive': 'timeout=1',
      'x-hop': '1',
      'transfer-encoding': 'chunked',
      'content-type': 'application/dicom+json',
      'cross-origin-resource-policy': 'same-site',
      'Cross-Origin-Embedder-Policy': 'unsafe-none',
      'access-control-allow-origin': '*',
      'set-cookie': ['a=1'],
      etag: '"e"',
    })
    assert.deepEqual(out, { 'content-type': 'application/dicom+json', etag: '"e"' })
    assert.deepEqual([...connectionNamed(['a, B', 'c'])], ['a', 'b', 'c'])
    assert.equal(mergeVary('Accept-Encoding', 'Origin'), 'Accept-Encoding, Origin')
    assert.equal(mergeVary(['origin'], 'Origin'), 'origin')
    assert.equal(mergeVary(undefined, 'Origin'), 'Origin')
  })
})

describe('Orthanc repairs', () => {
  it('splits comma-joined includefield, raw or encoded, and leaves the rest alone', () => {
    assert.deepEqual(splitIncludefield('limit=101&includefield=00081030%2C00080060&offset=0'), {
      query: 'limit=101&includefield=00081030&includefield=00080060&offset=0',
      changed: true,
    })
    assert.equal(
      splitIncludefield('includefield=a,b%2cc').query,
      'includefield=a&includefield=b&includefield=c',
    )
    assert.deepEqual(splitIncludefield('includefield=a&PatientName=A%2CB'), {
      query: 'includefield=a&PatientName=A%2CB',
      changed: false,
    })
    assert.deepEqual(splitIncludefield(''), { query: '', changed: false })
  })

  it('fills a value-less ModalitiesInStudy from the series, or drops it', () => {
    const studies: unknown[] = [
      { '0020000D': { vr: 'UI', Value: ['1'] }, '00080061': { vr: 'CS' } },
      { '0020000D': { vr: 'UI', Value: ['2'] }, '00080061': { vr: 'CS', Value: [] } },
      { '0020000D': { vr: 'UI', Value: ['3'] }, '00080061': { vr: 'CS', Value: ['CT'] } },
      { '0020000D': { vr: 'UI', Value: ['4'] } },
    ]
    assert.deepEqual(studiesWithEmptyModalities(studies), ['1', '2'])
    const changed = fillModalities(studies, new Map([['1', ['MR', 'SR']]]))
    assert.equal(changed, 2)
    assert.deepEqual((studies[0] as Record<string, unknown>)['00080061'], {
      vr: 'CS',
      Value: ['MR', 'SR'],
    })
    assert.equal((studies[1] as Record<string, unknown>)['00080061'], undefined)
    assert.deepEqual((studies[2] as Record<string, unknown>)['00080061'], {
      vr: 'CS',
      Value: ['CT'],
    })
  })
})

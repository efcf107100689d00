import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  multipartBody,
  multipartType,
  negotiateFrames,
  parseAccept,
  type Part,
} from './multipart.js'

const JPEG = '1.2.840.10008.1.2.4.50'
const EXPLICIT = '1.2.840.10008.1.2.1'
const BIG = '1.2.840.10008.1.2.2'

test('Accept parsing keeps parameters, strips quotes and orders by q', () => {
  const ranges = parseAccept(
    'multipart/related; type="application/octet-stream"; transfer-syntax=*;q=0.5, ' +
      'multipart/related; type="image/jpeg"',
  )
  assert.equal(ranges[0]!.params.type, 'image/jpeg')
  assert.equal(ranges[1]!.params['transfer-syntax'], '*')
  assert.deepEqual(parseAccept(undefined), [{ type: '*/*', params: {}, q: 1 }])
})

test('frames: * gives the stored syntax; native goes as explicit little endian', () => {
  const star = 'multipart/related; type=application/octet-stream; transfer-syntax=*'
  assert.deepEqual(negotiateFrames(star, JPEG), {
    partType: 'application/octet-stream',
    transferSyntax: JPEG,
  })
  assert.deepEqual(negotiateFrames(star, BIG), {
    partType: 'application/octet-stream',
    transferSyntax: EXPLICIT,
  })
  assert.deepEqual(negotiateFrames(undefined, EXPLICIT), {
    partType: 'application/octet-stream',
    transferSyntax: EXPLICIT,
  })
  assert.deepEqual(negotiateFrames('multipart/related; type="image/jpeg"', JPEG), {
    partType: 'image/jpeg',
    transferSyntax: JPEG,
  })
})

test('frames: a syntax that would need transcoding is refused with the reason', () => {
  const ask = `multipart/related; type=application/octet-stream; transfer-syntax=${EXPLICIT}`
  const answer = negotiateFrames(ask, JPEG)
  assert.equal(typeof answer, 'string')
  assert.match(String(answer), /does not transcode/)
  assert.match(String(answer), new RegExp(JPEG.replace(/\./g, '\\.')))
  assert.equal(typeof negotiateFrames('image/png', EXPLICIT), 'string')
  assert.equal(typeof negotiateFrames('multipart/related; type="image/jp2"', JPEG), 'string')
})

async function collect(parts: Part[], boundary: string): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of multipartBody(boundary, parts)) chunks.push(chunk)
  return Buffer.concat(chunks).toString('latin1')
}

async function* bytes(...pieces: string[]): AsyncGenerator<Buffer> {
  for (const p of pieces) yield Buffer.from(p, 'latin1')
}

test('the multipart writer frames each part with CRLFs and closes the body', async () => {
  const body = await collect(
    [
      { contentType: 'application/octet-stream', body: bytes('ab', 'c') },
      { contentType: 'application/pdf', location: '/x', body: bytes('') },
    ],
    'B',
  )
  assert.equal(
    body,
    '--B\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n' +
      '--B\r\nContent-Type: application/pdf\r\nContent-Location: /x\r\n\r\n\r\n--B--\r\n',
  )
  assert.equal(
    multipartType('B', 'application/octet-stream', EXPLICIT),
    `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT}; boundary=B`,
  )
})

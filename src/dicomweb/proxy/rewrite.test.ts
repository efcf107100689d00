import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import { boundaryOf, MultipartRewriter } from './multipart.js'
import {
  mappingsFor,
  PrefixRewriter,
  rewriteValue,
  UrlRewriter,
  type UrlMapping,
} from './rewrite.js'

const UP = 'http://127.0.0.1:8042/dicom-web'
const PUB = 'http://localhost:9000/dicomweb/pacs'
const MAP: UrlMapping[] = mappingsFor('http://127.0.0.1:8042', '/dicom-web', PUB)

/** The rewrite stated plainly, as a regular expression over the whole text. */
function reference(text: string): string {
  const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  const froms = MAP.flatMap((m) => [m.from, m.from.replaceAll('/', '\\/')])
  const pattern = new RegExp(`(${froms.map(escaped).join('|')})(?![A-Za-z0-9\\-._~%:])`, 'g')
  return text.replace(pattern, (found) => {
    const escapedForm = found.includes('\\/')
    const plain = escapedForm ? found.replaceAll('\\/', '/') : found
    const to = MAP.find((m) => m.from === plain)!.to
    return escapedForm ? to.replaceAll('/', '\\/') : to
  })
}

function runChunks(chunks: Buffer[]): string {
  const rewriter = new PrefixRewriter(MAP)
  const out = chunks.map((c) => rewriter.update(c))
  out.push(rewriter.finish())
  return Buffer.concat(out).toString('latin1')
}

/**
 * fc.assert's parameters with a reporter that also prints how many inputs ran (issue 8 asks
 * for the counts); a failure still throws with fast-check's own report.
 */
function counted<Ts>(name: string, params: fc.Parameters<Ts>): fc.Parameters<Ts> {
  return {
    ...params,
    reporter: (details) => {
      if (details.failed) {
        const report = fc.defaultReportMessage(details) ?? `${name} failed`
        throw new Error(`${report}\n${String(details.errorInstance)}`, {
          cause: details.errorInstance,
        })
      }
      console.log(`property: ${name}: ${details.numRuns} runs`)
    },
  }
}

const piece = fc.constantFrom(
  `${UP}/studies/1.2.3/bulk/7fe00010`,
  `"${UP}"`,
  UP.replaceAll('/', '\\/') + '\\/studies',
  `${UP}2/studies`,
  'http://127.0.0.1:80421/dicom-web/x',
  'http://localhost:9000/dicom-web/studies?x=1',
  'http://127.0.0.1:8042/dicom-web',
  '{"BulkDataURI":"',
  '"},\n',
  'http://127.0.0.1:8042/wado?x',
  'hthttp://127.0.0.1:8042/dicom-web/',
)

describe('URL rewriting', () => {
  it('maps the upstream root and its X-Forwarded form, not lookalikes', () => {
    assert.equal(rewriteValue(`${UP}/studies/1`, MAP), `${PUB}/studies/1`)
    assert.equal(rewriteValue(UP, MAP), PUB)
    assert.equal(rewriteValue('http://localhost:9000/dicom-web/studies', MAP), `${PUB}/studies`)
    assert.equal(rewriteValue(`${UP}2/studies`, MAP), `${UP}2/studies`)
    assert.equal(
      rewriteValue('http://127.0.0.1:80421/dicom-web', MAP),
      'http://127.0.0.1:80421/dicom-web',
    )
    assert.equal(
      rewriteValue('"http:\\/\\/127.0.0.1:8042\\/dicom-web\\/x"', MAP),
      `"${PUB.replaceAll('/', '\\/')}\\/x"`,
    )
  })

  it('gives the same bytes whatever the chunk boundaries (every split position)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(piece, fc.string({ maxLength: 6 })), { maxLength: 12 }),
        (parts) => {
          const text = parts.join('')
          const whole = Buffer.from(text, 'latin1')
          const expected = reference(text)
          assert.equal(runChunks([whole]), expected)
          for (let at = 0; at <= whole.length; at++) {
            assert.equal(runChunks([whole.subarray(0, at), whole.subarray(at)]), expected)
          }
        },
      ),
      counted('URL rewrite at every split position', { numRuns: 150 }),
    )
  })

  it('gives the same bytes for random multi-way splits, as a Transform', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 10 }),
        fc.array(fc.nat(40), { maxLength: 8 }),
        async (parts, cuts) => {
          const whole = Buffer.from(parts.join(''), 'latin1')
          const stream = new UrlRewriter(MAP)
          const chunks: Buffer[] = []
          stream.on('data', (c: Buffer) => chunks.push(c))
          let at = 0
          for (const cut of cuts) {
            stream.write(whole.subarray(at, Math.min(whole.length, at + cut)))
            at = Math.min(whole.length, at + cut)
          }
          stream.end(whole.subarray(at))
          await new Promise((r) => stream.on('end', r))
          assert.equal(Buffer.concat(chunks).toString('latin1'), reference(parts.join('')))
        },
      ),
      counted('URL rewrite as a Transform, random splits', { numRuns: 100 }),
    )
  })
})

describe('multipart rewriting', () => {
  const boundary = 'b0a1-x'
  function body(binary: Buffer): Buffer {
    return Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Location: ${UP}/studies/1/frames/1\r\n`),
      Buffer.from(
        `Content-Type: application/octet-stream\r\nContent-Length: ${binary.length}\r\n\r\n`,
      ),
      binary,
      Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom+xml\r\n`),
      Buffer.from(`Content-Length: 40\r\n\r\n<BulkData uri="${UP}/studies/1/bulk/1"/>`),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
  }
  function run(input: Buffer, cuts: number[]): Buffer {
    const rewriter = new MultipartRewriter(boundary, MAP)
    const out: Buffer[] = []
    rewriter.on('data', (c: Buffer) => out.push(c))
    let at = 0
    for (const cut of cuts) {
      rewriter.write(input.subarray(at, at + cut))
      at += cut
    }
    rewriter.end(input.subarray(at))
    return Buffer.concat(out)
  }

  it('rewrites part headers and text parts, keeps binary parts byte for byte', () => {
    assert.equal(
      boundaryOf(`multipart/related; type="application/octet-stream"; boundary=${boundary}`),
      boundary,
    )
    assert.equal(boundaryOf('multipart/related; boundary="q r"'), 'q r')
    // Binary that contains the upstream URL and a near-delimiter must pass untouched.
    const binary = Buffer.concat([
      Buffer.from([0, 255, 13, 10, 45, 45]),
      Buffer.from(UP),
      Buffer.from('\r\n--b0a1'),
    ])
    const out = run(body(binary), [])
    const expected = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Location: ${PUB}/studies/1/frames/1\r\n`),
      Buffer.from(
        `Content-Type: application/octet-stream\r\nContent-Length: ${binary.length}\r\n\r\n`,
      ),
      binary,
      Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom+xml\r\n\r\n`),
      Buffer.from(`<BulkData uri="${PUB}/studies/1/bulk/1"/>`),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    assert.equal(out.toString('latin1'), expected.toString('latin1'))
  })

  it('gives the same bytes at every split position', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const input = body(Buffer.from(bytes))
        const expected = run(input, [])
        for (let at = 0; at <= input.length; at++) {
          assert.ok(run(input, [at]).equals(expected), `split at ${at}`)
        }
      }),
      counted('multipart rewrite at every split position', { numRuns: 60 }),
    )
  })

  it('gives the same bytes for large binary parts in chunks of any size (fast path)', () => {
    const near = fc.constantFrom('\r\n--b0a1', '\r\n--b0a1-', '\r\n-', '\r', `${UP}/x`, 'zz')
    const binary = fc
      .array(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 200 }), near), { maxLength: 12 })
      .map((parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))))
    fc.assert(
      fc.property(binary, (b) => {
        const input = body(b)
        const expected = run(input, [])
        // A first cut anywhere, then chunks just over the delimiter's length and larger.
        for (const size of [11, 23, 64, 300]) {
          for (let at = 0; at <= input.length; at++) {
            const cuts = [at, ...Array.from({ length: 40 }, () => size)]
            assert.ok(run(input, cuts).equals(expected), `cut at ${at}, then ${size}`)
          }
        }
      }),
      counted('multipart rewrite, large binary parts', { numRuns: 15 }),
    )
  })
})

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { describe, it } from 'node:test'

import { bundledViewerRoot } from './locate.js'
import { RewriteStream, rewriteRulesFor, rewriteText } from './rewrite.js'

const root = bundledViewerRoot()

describe('rewriteRulesFor', () => {
  it('moves index.html to the base path, keeping protocol-relative links', () => {
    const html =
      '<script>window.PUBLIC_URL="/"</script><link href="/manifest.json">' +
      '<meta content="/assets/a.png"><script src="/app.js"></script><img src="//cdn.test/x.png">'
    const { text, count } = rewriteText(html, rewriteRulesFor('index.html', '/viewer/'))
    assert.equal(
      text,
      '<script>window.PUBLIC_URL="/viewer/"</script><link href="/viewer/manifest.json">' +
        '<meta content="/viewer/assets/a.png"><script src="/viewer/app.js"></script>' +
        '<img src="//cdn.test/x.png">',
    )
    assert.equal(count, 4)
  })

  it('rewrites the webpack public path, CSS urls and the manifest', () => {
    const js = rewriteText('__webpack_require__.p = "/";', rewriteRulesFor('a.js', '/v/'))
    assert.equal(js.text, '__webpack_require__.p = "/v/";')
    const css = rewriteText(
      'a{src:url(/f.woff2)} b{src:url("//x")}',
      rewriteRulesFor('a.css', '/v/'),
    )
    assert.equal(css.text, 'a{src:url(/v/f.woff2)} b{src:url("//x")}')
    const manifest = rewriteRulesFor('manifest.json', '/v/')
    assert.equal(
      rewriteText('{"src": "/assets/a.png"}', manifest).text,
      '{"src": "/v/assets/a.png"}',
    )
    assert.deepEqual(rewriteRulesFor('data.json', '/v/'), [])
    assert.deepEqual(rewriteRulesFor('index.html', '/'), [])
    assert.deepEqual(rewriteRulesFor('x.wasm', '/v/'), [])
  })

  it('leaves every root-absolute reference of the real index.html under the base', () => {
    const html = readFileSync(join(root, 'index.html'), 'utf8')
    const { text } = rewriteText(html, rewriteRulesFor('index.html', '/viewer/'))
    assert.doesNotMatch(text, /(?:href|src|content)="\/(?!viewer\/)/)
    assert.doesNotMatch(text, /PUBLIC_URL="\/"/)
    assert.equal((text.match(/PUBLIC_URL="\/viewer\/"/g) ?? []).length, 2)
  })
})

describe('RewriteStream', () => {
  it('finds matches split across chunks of any size', async () => {
    const source = readFileSync(join(root, 'index.html'))
    const rules = rewriteRulesFor('index.html', '/viewer/')
    const whole = rewriteText(source.toString('latin1'), rules)
    for (const size of [1, 7, 64, 97, 4096]) {
      const chunks: Buffer[] = []
      for (let i = 0; i < source.length; i += size) chunks.push(source.subarray(i, i + size))
      const stream = new RewriteStream(rules)
      const out = await buffer(Readable.from(chunks).pipe(stream))
      assert.equal(out.toString('latin1'), whole.text, `chunk size ${size}`)
      assert.equal(stream.count, whole.count)
    }
  })

  it('passes non-ASCII bytes through unchanged', async () => {
    const input = Buffer.concat([Buffer.from('é—✓ '), Buffer.from('__webpack_require__.p = "/"')])
    const stream = new RewriteStream(rewriteRulesFor('a.js', '/b/'))
    const out = await buffer(Readable.from([input]).pipe(stream))
    assert.equal(out.toString('utf8'), 'é—✓ __webpack_require__.p = "/b/"')
  })
})

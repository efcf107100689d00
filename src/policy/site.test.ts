import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import {
  addressSpaceOf,
  addressSpaceOfIp,
  corpSameSite,
  registrableDomain,
  sameOrigin,
  sameSite,
  schemelesslySameSite,
} from './site.js'

describe('sites from the Public Suffix List', () => {
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ['https://viewer.example.org', 'https://pacs.example.org', true],
    ['https://a.github.io', 'https://b.github.io', false],
    ['https://192.168.1.20:3000', 'https://192.168.1.20:8042', true],
    ['http://localhost:4200', 'http://localhost:3000', true],
    ['http://127.0.0.1:1', 'http://127.0.0.2:1', false],
    ['https://cdn.example', 'https://viewer.example', false],
    ['http://a.localhost', 'http://b.localhost', false],
    ['https://x.co.uk', 'https://y.co.uk', false],
  ]
  for (const [a, b, expected] of cases) {
    it(`${a} vs ${b}: ${expected ? 'same site' : 'cross-site'}`, () => {
      assert.equal(schemelesslySameSite(a, b), expected)
    })
  }

  it('judges CORP same-site as Chromium does (measured)', () => {
    assert.equal(corpSameSite('http://127.0.0.1:1', 'http://127.0.0.1:2'), false)
    assert.equal(corpSameSite('https://viewer.example.org', 'https://pacs.example.org'), true)
    assert.equal(corpSameSite('http://insecure.test:1', 'http://other.insecure.test:2'), true)
    assert.equal(corpSameSite('http://insecure.test:1', 'http://ohif.localhost:1'), false)
    assert.equal(corpSameSite('http://insecure.test:1', 'http://localhost:1'), false)
    assert.equal(corpSameSite('https://a.github.io', 'https://b.github.io'), false)
  })

  it('has no registrable domain for IPs and bare suffixes; unknown TLDs act as suffixes', () => {
    assert.equal(registrableDomain('127.0.0.1'), null)
    assert.equal(registrableDomain('localhost'), null)
    assert.equal(registrableDomain('pacs'), null)
    assert.equal(registrableDomain('viewer.hospital.lan'), 'hospital.lan')
    assert.equal(registrableDomain('viewer.example.org'), 'example.org')
  })

  it('compares schemes for schemeful same-site and origins', () => {
    assert.equal(sameSite('http://a.example.org', 'https://b.example.org'), false)
    assert.equal(sameOrigin('https://v.example', 'https://v.example:443/x'), true)
    assert.equal(sameOrigin('data:text/plain,x', 'data:text/plain,x'), false)
  })

  it('knows address spaces', () => {
    assert.equal(addressSpaceOf('http://localhost:8042/'), 'loopback')
    assert.equal(addressSpaceOf('http://[::1]:8042/'), 'loopback')
    assert.equal(addressSpaceOf('http://192.168.1.20/'), 'local')
    assert.equal(addressSpaceOf('https://viewer.example/'), 'unknown')
    assert.equal(addressSpaceOfIp('10.1.2.3'), 'local')
    assert.equal(addressSpaceOfIp('8.8.8.8'), 'public')
  })
})

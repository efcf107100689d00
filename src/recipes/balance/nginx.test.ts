/**
 * The nginx balancer recipe, read back: one upstream block over the gateways, every request
 * passed through, only connection-level failures moved to the next gateway, no header of the
 * plan set at the balancer. It is started for real in test/e2e/scale.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { renderRecipe } from '../index.js'
import type { BalanceOptions } from './nginx.js'

function render(options: BalanceOptions): string {
  return renderRecipe('nginx-balance', options).files[0]!.content
}

describe('recipe nginx-balance', () => {
  it('lists every gateway in one upstream block with keep-alive', () => {
    const text = render({ gateways: ['10.0.0.11:8080', '10.0.0.12:8080', '[fd00::3]:8080'] })
    const block = /upstream isogate_gateways \{([^}]*)\}/.exec(text)?.[1] ?? ''
    const servers = [...block.matchAll(/^\s*server (\S+)/gm)].map((m) => m[1])
    assert.deepEqual(servers, ['10.0.0.11:8080', '10.0.0.12:8080', '[fd00::3]:8080'])
    assert.match(block, /keepalive \d+;/)
    assert.match(text, /proxy_pass http:\/\/isogate_gateways;/)
    assert.match(text, /proxy_set_header Connection "";/)
  })

  it('moves only requests that never got a reply, never a POST or a started reply', () => {
    const text = render({})
    const next = /^\s*proxy_next_upstream ([^;]+);/m.exec(text)?.[1] ?? ''
    // Without `non_idempotent` in that list nginx never sends a POST, PUT or DELETE twice.
    assert.deepEqual(next.split(/\s+/), ['error', 'timeout'])
  })

  it('sets no header of the plan: the gateways send it', () => {
    const text = render({ gateways: ['127.0.0.1:1', '127.0.0.1:2'] })
    assert.ok(!/add_header|proxy_hide_header|more_set_headers/.test(text), text)
  })

  it('refuses a gateway that is not host:port', () => {
    assert.throws(() => render({ gateways: ['http://10.0.0.1:8080'] }), {
      code: 'ISOGATE_E_RECIPE_OPTION',
    })
  })

  it('terminates TLS when given a certificate', () => {
    const text = render({ cert: '/etc/ssl/isogate.pem', key: '/etc/ssl/isogate.key', port: 443 })
    assert.match(text, /listen \S+:443 ssl;/)
    assert.match(text, /ssl_certificate \/etc\/ssl\/isogate.pem;/)
  })
})

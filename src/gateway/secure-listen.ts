/**
 * Refusing to serve plain http where the browser will not treat the origin as a secure context:
 * there COOP and COEP are ignored (browser-rules R-SC-3, R-COOP-6, R-COEP-5), so the viewer would
 * start but never be isolated, the fault users meet most (user case B01). Pure.
 */
import { isIP } from 'node:net'

import { IsogateError } from '../errors.js'

/** True for names and addresses a browser treats as loopback: 127.0.0.0/8, ::1, *.localhost. */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '')
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  const mapped = name.startsWith('::ffff:') ? name.slice(7) : name
  if (isIP(mapped) === 4) return mapped.split('.')[0] === '127'
  if (isIP(name) === 6) return name === '::1' || /^(?:0{1,4}:){7}0{0,3}1$/.test(name)
  return false
}

export interface ListenSecurity {
  readonly host: string
  readonly tls: boolean
  /** The origin users type, when a TLS-terminating proxy stands in front of Isogate. */
  readonly publicUrl?: string | undefined
}

/**
 * Throws ISOGATE_E_INSECURE_LISTEN when users would reach the viewer over plain http on a
 * non-loopback origin. An https `publicUrl` is accepted: TLS then ends at the proxy in front,
 * and the origin the browser judges is that one.
 */
export function assertSecureListen(listen: ListenSecurity): void {
  if (listen.tls) return
  if (listen.publicUrl !== undefined) {
    const url = new URL(listen.publicUrl)
    if (url.protocol === 'https:' || isLoopbackHost(url.hostname)) return
    throw insecure(`plain http at the public URL ${url.origin}`)
  }
  if (isLoopbackHost(listen.host)) return
  throw insecure(`plain http on ${listen.host}`)
}

function insecure(what: string): IsogateError {
  return new IsogateError(
    'ISOGATE_E_INSECURE_LISTEN',
    `refusing to serve ${what}: browsers treat such an origin as insecure and ignore the ` +
      'isolation headers there, so the viewer would load without SharedArrayBuffer. Serve ' +
      'https (--tls auto, or --cert/--key), or listen on 127.0.0.1 and reach it through an ' +
      'SSH tunnel or a TLS proxy (then pass its https --public-url).',
    { details: { reason: what } },
  )
}

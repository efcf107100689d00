/**
 * TLS material for the gateway: the user's certificate and key, or, with `tls: auto`, a
 * generated self-signed certificate kept in `<stateDir>/tls/` and reused while it still covers
 * the names in use and is not about to expire. The browser must be told to trust it (import it,
 * or for tests Chromium's SPKI allowlist); nothing here weakens certificate checking.
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'

import { generate } from 'selfsigned'

import type { IsogateConfig } from '../config/schema.js'
import { IsogateError } from '../errors.js'
import type { TlsMaterial } from './server.js'

export interface TlsSetup extends TlsMaterial {
  readonly cert: string
  readonly key: string
  /** Where the certificate is on disk (generated or the user's). */
  readonly certPath: string
  readonly generated: boolean
  /** base64 SHA-256 of the certificate's public key: what Chromium's SPKI allowlist takes. */
  readonly spkiSha256: string
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000
const VALID_DAYS = 365

/** The names a generated certificate must cover for a listen host and public URL. */
export function certificateNames(host: string, publicUrl?: string): string[] {
  const names = new Set(['localhost', '127.0.0.1', '::1'])
  const bare = (name: string) => name.replace(/^\[|\]$/g, '').toLowerCase()
  if (host !== '0.0.0.0' && host !== '::' && host !== '') names.add(bare(host))
  if (publicUrl) names.add(bare(new URL(publicUrl).hostname))
  return [...names]
}

/** Reads or generates the TLS material a config asks for; undefined for `tls: off`. */
export async function resolveTls(
  config: IsogateConfig,
  stateDir: string,
): Promise<TlsSetup | undefined> {
  if (config.tls === 'off') return undefined
  if (config.tls === 'auto') {
    const names = certificateNames(config.listen.host, config.publicUrl)
    return await autoCertificate(join(stateDir, 'tls'), names)
  }
  const { cert: certPath, key: keyPath } = config.tls
  let cert: string
  let key: string
  try {
    ;[cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')])
    createPublicKey(key)
  } catch (cause) {
    throw new IsogateError(
      'ISOGATE_E_TLS_CERTIFICATE',
      `cannot read --cert ${certPath} / --key ${keyPath}`,
      {
        cause,
      },
    )
  }
  return { cert, key, certPath, generated: false, spkiSha256: spkiHash(cert) }
}

/** base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate. */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}

async function autoCertificate(dir: string, names: readonly string[]): Promise<TlsSetup> {
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  const existing = await readPair(certPath, keyPath)
  if (existing && covers(existing.cert, names)) {
    return { ...existing, certPath, generated: true, spkiSha256: spkiHash(existing.cert) }
  }

  let pems: { cert: string; private: string }
  try {
    const notBeforeDate = new Date(Date.now() - 60_000)
    pems = await generate([{ name: 'commonName', value: 'Isogate local certificate' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate: new Date(notBeforeDate.getTime() + VALID_DAYS * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: names.map((name) =>
            isIP(name) ? { type: 7, ip: name } : { type: 2, value: name },
          ),
        },
      ],
    })
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await writeFile(keyPath, pems.private, { mode: 0o600 })
    await chmod(keyPath, 0o600)
    await writeFile(certPath, pems.cert)
  } catch (cause) {
    throw new IsogateError('ISOGATE_E_TLS_CERTIFICATE', `cannot create a certificate in ${dir}`, {
      cause,
    })
  }
  return {
    cert: pems.cert,
    key: pems.private,
    certPath,
    generated: true,
    spkiSha256: spkiHash(pems.cert),
  }
}

async function readPair(certPath: string, keyPath: string) {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')])
    return { cert, key }
  } catch {
    return undefined
  }
}

/** True when a certificate names every host and stays valid for a while yet. */
function covers(certPem: string, names: readonly string[]): boolean {
  try {
    const x509 = new X509Certificate(certPem)
    if (Date.parse(x509.validTo) - Date.now() < RENEW_BEFORE_MS) return false
    return names.every((name) =>
      isIP(name) ? x509.checkIP(name) !== undefined : x509.checkHost(name) !== undefined,
    )
  } catch {
    return false
  }
}

/**
 * The facts about the gateway's certificate an operator needs (where it is, which names it
 * covers, when it expires, its SPKI hash) and how to make each common browser trust it. Only
 * the certificate is read here; the key is never shown.
 */
import { X509Certificate } from 'node:crypto'

import type { TlsSetup } from '../tls.js'

export interface TrustSteps {
  readonly platform: string
  /** Who uses this store. */
  readonly covers: string
  readonly steps: readonly string[]
}

export interface TlsFacts {
  readonly certPath: string
  readonly generated: boolean
  readonly subject: string
  readonly issuer: string
  readonly selfSigned: boolean
  /** `DNS:localhost`, `IP:127.0.0.1`, … */
  readonly subjectAltNames: readonly string[]
  readonly validFrom: string
  readonly validTo: string
  readonly daysLeft: number
  readonly spkiSha256: string
  readonly fingerprintSha256: string
  readonly trust: readonly TrustSteps[]
}

/** Reads the facts of the certificate in use; `now` decides `daysLeft`. */
export function tlsFacts(tls: TlsSetup, now: number): TlsFacts {
  const x509 = new X509Certificate(tls.cert)
  const validTo = new Date(x509.validTo)
  return {
    certPath: tls.certPath,
    generated: tls.generated,
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    selfSigned: x509.issuer === x509.subject,
    subjectAltNames: altNames(x509.subjectAltName),
    validFrom: new Date(x509.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now) / 86_400_000),
    spkiSha256: tls.spkiSha256,
    fingerprintSha256: x509.fingerprint256,
    trust: trustSteps(tls.certPath, tls.spkiSha256),
  }
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ')
}

/** `DNS:localhost, IP Address:127.0.0.1` → `['DNS:localhost', 'IP:127.0.0.1']`. */
export function altNames(value: string | undefined): string[] {
  if (!value) return []
  return value
    .split(',')
    .map((part) => part.trim().replace(/^IP Address:/, 'IP:'))
    .filter((part) => part !== '')
}

/**
 * How to trust the certificate, per platform. A generated certificate is its own issuer and
 * not a CA, so stores that take only authorities (Firefox's) get a server exception instead.
 * The Debian/Ubuntu Chromium steps are run as written by test/e2e/status-reports.test.ts, and
 * the OpenSSL store was checked with curl; the macOS, Windows and Firefox steps follow each
 * vendor's documented store and cannot be run on these Debian machines.
 */
export function trustSteps(certPath: string, spki: string): TrustSteps[] {
  const cert = shellQuote(certPath)
  return [
    {
      platform: 'Debian / Ubuntu',
      covers: 'Chrome, Chromium, Edge (NSS user database)',
      steps: [
        'sudo apt-get install libnss3-tools',
        // Creates the database when no browser has run for this user yet.
        'mkdir -p $HOME/.pki/nssdb; [ -e $HOME/.pki/nssdb/cert9.db ] || ' +
          'certutil -d sql:$HOME/.pki/nssdb -N --empty-password',
        `certutil -d sql:$HOME/.pki/nssdb -A -t "P,," -n isogate -i ${cert}`,
        'restart the browser',
      ],
    },
    {
      platform: 'Debian / Ubuntu',
      covers: 'curl, wget and other OpenSSL tools (system store)',
      steps: [
        `sudo cp ${cert} /usr/local/share/ca-certificates/isogate.crt`,
        'sudo update-ca-certificates',
        `for Node.js: NODE_EXTRA_CA_CERTS=${cert}`,
      ],
    },
    {
      platform: 'macOS',
      covers: 'Safari, Chrome, Edge (System keychain)',
      steps: [
        'sudo security add-trusted-cert -d -r trustRoot ' +
          `-k /Library/Keychains/System.keychain ${cert}`,
        'or open the file in Keychain Access and set Trust → When using this certificate: ' +
          'Always Trust',
      ],
    },
    {
      platform: 'Windows',
      covers: 'Edge, Chrome (current user’s Trusted Root store)',
      steps: [
        `copy the file as isogate.cer, then: certutil -user -addstore Root isogate.cer`,
        'or in PowerShell: Import-Certificate -FilePath isogate.cer ' +
          '-CertStoreLocation Cert:\\CurrentUser\\Root',
      ],
    },
    {
      platform: 'Firefox (any system)',
      covers: 'Firefox keeps its own store',
      steps: [
        'open the viewer URL, choose Advanced → Accept the Risk and Continue: Firefox stores a ' +
          'permanent server exception for this certificate',
        'or Settings → Privacy & Security → Certificates → View Certificates → Servers → ' +
          'Add Exception, with the viewer URL',
      ],
    },
    {
      platform: 'Automated tests',
      covers: 'one Chromium process, without touching any store',
      steps: [`chromium --ignore-certificate-errors-spki-list=${spki}`],
    },
  ]
}

function shellQuote(path: string): string {
  return /^[A-Za-z0-9_./~:-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`
}

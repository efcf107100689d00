/**
 * Real DICOM inputs for tests: the synthetic CT volume (the demo's writer), pydicom's test
 * files, and multipart/related parsing for checking DICOMweb replies.
 */
import { copyFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export { writeCtVolume, type WrittenStudy } from '../../src/dicomweb/demo/generate.js'

export const PYDICOM_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files'

/** Copies pydicom's `.dcm` test files (all, or the named ones) into `dir`; returns the names. */
export function copyPydicomFiles(dir: string, names?: readonly string[]): string[] {
  const all = readdirSync(PYDICOM_FILES).filter(
    (n) => n.endsWith('.dcm') && statSync(join(PYDICOM_FILES, n)).isFile(),
  )
  const chosen = names ?? all
  for (const name of chosen) copyFileSync(join(PYDICOM_FILES, name), join(dir, name))
  return [...chosen]
}

export interface BodyPart {
  readonly headers: Record<string, string>
  readonly body: Buffer
}

/** Splits a multipart/related body into its parts (RFC 2046 framing). */
export function parseMultipart(contentType: string, body: Buffer): BodyPart[] {
  const match = /boundary="?([^";]+)"?/i.exec(contentType)
  if (!match) throw new Error(`no boundary in ${contentType}`)
  const delimiter = Buffer.from(`--${match[1]}`)
  const parts: BodyPart[] = []
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    if (body.subarray(start, start + 2).toString() === '--') break
    const next = body.indexOf(delimiter, start)
    if (next < 0) throw new Error('multipart body without closing delimiter')
    const chunk = body.subarray(start + 2, next - 2) // after CRLF, before CRLF--
    const split = chunk.indexOf('\r\n\r\n')
    const headers: Record<string, string> = {}
    for (const line of chunk.subarray(0, split).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':')
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    parts.push({ headers, body: chunk.subarray(split + 4) })
    at = next
  }
  return parts
}

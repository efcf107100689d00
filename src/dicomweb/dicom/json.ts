/**
 * A parsed data set as DICOM JSON (PS3.18 F.2), with large binary values replaced by
 * BulkDataURIs relative to the instance (`bulk/<tag path>`), and the byte range in the file of
 * each one, so the bulk route can stream it later without parsing again.
 */
import type { DataSet, Element } from 'dicom-parser'

import type { Range } from './frames.js'
import {
  BINARY_VRS,
  CHARSET_VRS,
  NUMBER_VR_SIZE,
  SINGLE_VALUE_TEXT_VRS,
  STRING_VRS,
  dictionaryVr,
  jsonTag,
} from './vr.js'

export interface JsonAttribute {
  vr: string
  Value?: unknown[]
  InlineBinary?: string
  BulkDataURI?: string
}

export type DicomJson = Record<string, JsonAttribute>

export interface JsonResult {
  readonly json: DicomJson
  /** Bulk values by tag path (`00420011`, `00540016/1/00180031`), as byte ranges in the file. */
  readonly bulk: Record<string, Range>
}

export interface JsonOptions {
  readonly bigEndian: boolean
  /** Binary values longer than this become BulkDataURIs; shorter ones InlineBinary. */
  readonly inlineLimit?: number
}

/** Values longer than this go by BulkDataURI (Orthanc's plugin uses the same order of size). */
export const DEFAULT_INLINE_LIMIT = 1024

/** Converts a data set (without group 0002) to DICOM JSON. */
export function toDicomJson(dataSet: DataSet, options: JsonOptions): JsonResult {
  const bulk: Record<string, Range> = {}
  const json = convert(dataSet, options, bulk, '', decoderFor(undefined))
  return { json, bulk }
}

function convert(
  dataSet: DataSet,
  options: JsonOptions,
  bulk: Record<string, Range>,
  path: string,
  inherited: Decoder,
): DicomJson {
  const out: DicomJson = {}
  const charset = dataSet.elements.x00080005
  const decode = charset ? decoderFor(rawString(dataSet, charset, latin1)) : inherited
  const tags = Object.keys(dataSet.elements).sort()
  for (const parserTag of tags) {
    const element = dataSet.elements[parserTag]!
    const tag = jsonTag(parserTag)
    // The file meta group describes the file, not the instance; group lengths are encoding.
    // Item and sequence delimiters are structure, not attributes (dicom-parser may list them).
    if (tag.startsWith('0002') || tag.endsWith('0000') || tag.startsWith('FFFE')) continue
    const vr = vrOf(element)
    out[tag] = attribute(dataSet, element, vr, options, bulk, `${path}${tag}`, decode)
  }
  return out
}

function vrOf(element: Element): string {
  const vr = element.vr
  // A private creator sent as UN is still an LO (PS3.5 7.8.1); the dictionary knows that.
  if (vr === 'UN' && dictionaryVr(element.tag) === 'LO') return 'LO'
  if (vr && /^[A-Z]{2}$/.test(vr) && vr !== 'OX') return vr
  return dictionaryVr(element.tag)
}

function attribute(
  dataSet: DataSet,
  element: Element,
  vr: string,
  options: JsonOptions,
  bulk: Record<string, Range>,
  path: string,
  decode: Decoder,
): JsonAttribute {
  if (vr === 'SQ' || element.items !== undefined) {
    const items = element.items ?? []
    if (items.length === 0) return { vr: 'SQ' }
    return {
      vr: 'SQ',
      Value: items.map((item, i) =>
        item.dataSet ? convert(item.dataSet, options, bulk, `${path}/${i + 1}/`, decode) : {},
      ),
    }
  }
  const length = element.length === 0xffffffff ? 0 : element.length
  if (element.tag === 'x7fe00010' || BINARY_VRS.has(vr) || !knownVr(vr)) {
    const safeVr = knownVr(vr) ? vr : 'UN'
    // Pixel data and encapsulated documents always go by reference: viewers fetch them apart.
    const always = element.tag === 'x7fe00010' || element.tag === 'x00420011'
    if (always || length > (options.inlineLimit ?? DEFAULT_INLINE_LIMIT)) {
      bulk[path] = [element.dataOffset, length]
      return { vr: safeVr, BulkDataURI: `bulk/${path}` }
    }
    if (length === 0) return { vr: safeVr }
    const bytes = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + length)
    return { vr: safeVr, InlineBinary: Buffer.from(bytes).toString('base64') }
  }
  if (length === 0) return { vr }
  if (STRING_VRS.has(vr)) return { vr, ...stringValues(dataSet, element, vr, decode) }
  if (vr === 'AT') {
    const values: string[] = []
    for (let p = 0; p + 4 <= length; p += 4) {
      const group = read(dataSet, element.dataOffset + p, 2, 'u', options.bigEndian)
      const elem = read(dataSet, element.dataOffset + p + 2, 2, 'u', options.bigEndian)
      values.push(hex4(Number(group)) + hex4(Number(elem)))
    }
    return { vr, Value: values }
  }
  const size = NUMBER_VR_SIZE[vr]!
  const kind = vr === 'FL' || vr === 'FD' ? 'f' : vr.startsWith('U') ? 'u' : 's'
  const values: unknown[] = []
  for (let p = 0; p + size <= length; p += size) {
    const value = read(dataSet, element.dataOffset + p, size, kind, options.bigEndian)
    values.push(jsonNumber(value))
  }
  return { vr, Value: values }
}

function knownVr(vr: string): boolean {
  return STRING_VRS.has(vr) || BINARY_VRS.has(vr) || vr in NUMBER_VR_SIZE || vr === 'AT'
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0')
}

function jsonNumber(value: number | bigint): number | string | null {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString()
  }
  return Number.isFinite(value) ? value : null
}

function read(
  dataSet: DataSet,
  position: number,
  size: number,
  kind: 'u' | 's' | 'f',
  bigEndian: boolean,
): number | bigint {
  const bytes = dataSet.byteArray
  const view = new DataView(bytes.buffer, bytes.byteOffset + position, size)
  const le = !bigEndian
  if (kind === 'f') return size === 4 ? view.getFloat32(0, le) : view.getFloat64(0, le)
  if (size === 2) return kind === 'u' ? view.getUint16(0, le) : view.getInt16(0, le)
  if (size === 4) return kind === 'u' ? view.getUint32(0, le) : view.getInt32(0, le)
  return kind === 'u' ? view.getBigUint64(0, le) : view.getBigInt64(0, le)
}

type Decoder = (bytes: Uint8Array) => string

const latin1: Decoder = (bytes) => Buffer.from(bytes).toString('latin1')

/** Single-byte and Unicode character sets of PS3.3 C.12.1.1.2, by WHATWG encoding label. */
const ENCODINGS: Readonly<Record<string, string>> = {
  'ISO_IR 192': 'utf-8',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 166': 'windows-874',
  GB18030: 'gb18030',
  GBK: 'gbk',
}

/**
 * A decoder for a Specific Character Set value. ISO 2022 code extensions (escape sequences,
 * used mostly for Japanese and Korean) are not interpreted: such values are read as Latin-1,
 * so their names show garbled in the viewer.
 */
function decoderFor(specificCharacterSet: string | undefined): Decoder {
  const first = (specificCharacterSet ?? '').split('\\')[0]!.trim()
  const label = ENCODINGS[first]
  if (!label) return latin1
  // One decoder per label for the process: building a TextDecoder (its label lookup) cost more
  // than decoding the strings of a whole file when indexing (bench/run.ts, indexing cold).
  let decode = DECODERS.get(label)
  if (decode === undefined) {
    const decoder = new TextDecoder(label)
    decode = (bytes) => decoder.decode(bytes)
    DECODERS.set(label, decode)
  }
  return decode
}

const DECODERS = new Map<string, Decoder>()

function rawString(dataSet: DataSet, element: Element, decode: Decoder): string {
  return decode(dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length))
}

function stringValues(
  dataSet: DataSet,
  element: Element,
  vr: string,
  decode: Decoder,
): Pick<JsonAttribute, 'Value'> {
  const text = rawString(dataSet, element, CHARSET_VRS.has(vr) ? decode : latin1)
  const parts = SINGLE_VALUE_TEXT_VRS.has(vr) ? [text] : text.split('\\')
  const values = parts.map((raw) => {
    // UIDs are padded with NUL, other strings with spaces; text keeps its leading spaces.
    const part =
      vr === 'UI'
        ? raw.replace(/[\0 ]+$/, '')
        : SINGLE_VALUE_TEXT_VRS.has(vr)
          ? raw.replace(/[\0 ]+$/, '')
          : raw.replace(/\0+$/, '').trim()
    if (part === '') return null
    if (vr === 'DS' || vr === 'IS') {
      const n = Number(part)
      return Number.isFinite(n) ? n : part
    }
    if (vr === 'PN') return personName(part)
    return part
  })
  if (values.every((v) => v === null)) return {}
  return { Value: values }
}

function personName(value: string): Record<string, string> {
  const [alphabetic, ideographic, phonetic] = value.split('=')
  const out: Record<string, string> = {}
  if (alphabetic) out.Alphabetic = alphabetic
  if (ideographic) out.Ideographic = ideographic
  if (phonetic) out.Phonetic = phonetic
  return out
}

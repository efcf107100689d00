/**
 * Value representations: the dictionary lookup that implicit-VR files need (their bytes carry
 * no VR), and the groups of VRs that DICOM JSON treats alike. The dictionary is dcmjs's, the
 * maintained copy of PS3.6; parsing itself is dicom-parser's, which has no dictionary.
 */
import dcmjs from 'dcmjs'

const dictionary = dcmjs.data.DicomMetaDictionary.dictionary as Record<
  string,
  { vr: string } | undefined
>

/** VRs whose values are character strings (PS3.5 6.2). */
export const STRING_VRS = new Set([
  'AE',
  'AS',
  'CS',
  'DA',
  'DS',
  'DT',
  'IS',
  'LO',
  'LT',
  'PN',
  'SH',
  'ST',
  'TM',
  'UC',
  'UI',
  'UR',
  'UT',
])

/** String VRs that hold one value which may contain a backslash (PS3.5 6.4). */
export const SINGLE_VALUE_TEXT_VRS = new Set(['LT', 'ST', 'UT', 'UR'])

/** String VRs whose bytes are decoded with the Specific Character Set; the rest are ASCII. */
export const CHARSET_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT'])

/** VRs carried as raw bytes: InlineBinary or BulkDataURI in DICOM JSON. */
export const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN'])

/** Fixed-size numeric VRs and their width in bytes. */
export const NUMBER_VR_SIZE: Readonly<Record<string, number>> = {
  US: 2,
  SS: 2,
  UL: 4,
  SL: 4,
  FL: 4,
  FD: 8,
  SV: 8,
  UV: 8,
}

const KNOWN_VRS = new Set([
  ...STRING_VRS,
  ...BINARY_VRS,
  ...Object.keys(NUMBER_VR_SIZE),
  'AT',
  'SQ',
])

/** `x00100010` (dicom-parser's form) → `00100010` (DICOM JSON's form). */
export function jsonTag(parserTag: string): string {
  return parserTag.slice(1).toUpperCase()
}

/**
 * The VR of a tag from the dictionary, for implicit-VR files. Ambiguous entries (US or SS, OB or
 * OW) are resolved to the reading PS3.5 gives for little-endian native data; private and unknown
 * tags are UN, which DICOM JSON carries as bytes.
 */
export function dictionaryVr(parserTag: string): string {
  const tag = jsonTag(parserTag)
  const group = tag.slice(0, 4)
  const element = tag.slice(4)
  if (element === '0000') return 'UL'
  if (parseInt(group, 16) % 2 === 1) {
    // Private creator elements (gggg,0010-00FF) are LO by definition (PS3.5 7.8.1).
    const e = parseInt(element, 16)
    return e >= 0x10 && e <= 0xff ? 'LO' : 'UN'
  }
  let entry = dictionary[`(${group},${element})`]
  // Repeating groups (curves, overlays) are listed once, as 50xx / 60xx.
  if (!entry && /^(50|60)/.test(group)) entry = dictionary[`(${group.slice(0, 2)}xx,${element})`]
  const vr = entry?.vr
  if (vr === undefined) return 'UN'
  if (vr === 'xs') return 'US'
  if (vr === 'ox' || vr === 'lt') return 'OW'
  return KNOWN_VRS.has(vr) ? vr : 'UN'
}

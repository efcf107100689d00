/**
 * QIDO-RS queries (PS3.18 8.3.4, PS3.4 C.2.2.2): parsing the query string and matching one
 * study, series or instance against it. Pure: the catalog hands in DICOM JSON attributes.
 */
import dcmjs from 'dcmjs'

import type { DicomJson, JsonAttribute } from '../dicom/json.js'
import { dictionaryVr } from '../dicom/vr.js'
import { wildcardMatch } from './wildcard.js'

export interface QidoFilter {
  readonly tag: string
  readonly vr: string
  /** The query value as sent (wildcards, ranges and lists still in it). */
  readonly value: string
}

export interface QidoQuery {
  readonly filters: readonly QidoFilter[]
  /** `includefield=all`. */
  readonly includeAll: boolean
  /** Tags to add to each result (includefield, plus every attribute that was matched on). */
  readonly include: ReadonlySet<string>
  readonly limit: number | undefined
  readonly offset: number
}

const nameMap = (
  dcmjs.data.DicomMetaDictionary as unknown as { nameMap: Record<string, { tag: string }> }
).nameMap

/** Parameters QIDO defines that are not attributes; unknown ones of this kind are ignored. */
const RESERVED = new Set(['limit', 'offset', 'fuzzymatching', 'includefield', 'orderby'])

/** A keyword (`PatientName`) or tag (`00100010`) → `00100010`, or undefined. */
export function tagOf(key: string): string | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(key)) return key.toUpperCase()
  const entry = nameMap[key]
  return entry ? entry.tag.replace(/[(),]/g, '').toUpperCase() : undefined
}

/**
 * Parses a raw query string. `includefield` is accepted repeated, comma-joined and joined with
 * an encoded comma (`%2C`, as OHIF sends it): all three decode to the same list. Returns a
 * sentence saying what is wrong for a bad query.
 */
export function parseQidoQuery(search: string): QidoQuery | string {
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search)
  const filters: QidoFilter[] = []
  const include = new Set<string>()
  let includeAll = false
  let limit: number | undefined
  let offset = 0
  for (const [key, value] of params) {
    if (key === 'includefield') {
      for (const field of value.split(',').map((s) => s.trim())) {
        if (field === '') continue
        if (field === 'all') {
          includeAll = true
          continue
        }
        const tag = tagOf(field)
        if (!tag) return `includefield names an unknown attribute "${field}"`
        include.add(tag)
      }
      continue
    }
    if (key === 'limit' || key === 'offset') {
      if (!/^[0-9]{1,9}$/.test(value)) return `${key} must be a non-negative integer`
      if (key === 'limit') limit = Number(value)
      else offset = Number(value)
      continue
    }
    if (RESERVED.has(key)) continue
    // Sequence matching (`ReferencedSeriesSequence.SeriesInstanceUID`) is not supported.
    const tag = tagOf(key)
    if (!tag) return `unknown attribute "${key}" in the query`
    include.add(tag)
    if (value !== '') filters.push({ tag, vr: dictionaryVr(`x${tag.toLowerCase()}`), value })
  }
  return { filters, includeAll, include, limit, offset }
}

/** Whether attributes match every filter of the query. */
export function matchesQuery(attributes: DicomJson, query: QidoQuery): boolean {
  return query.filters.every((filter) => matchesFilter(attributes[filter.tag], filter))
}

/** Matches one attribute against one filter value (PS3.4 C.2.2.2). */
export function matchesFilter(attribute: JsonAttribute | undefined, filter: QidoFilter): boolean {
  const values = (attribute?.Value ?? []).map(valueText).filter((v) => v !== '')
  if (values.length === 0) return false
  const { vr, value } = filter

  if (vr === 'UI') {
    const wanted = new Set(value.split(/[,\\]/).map((s) => s.trim()))
    return values.some((v) => wanted.has(v))
  }
  if ((vr === 'DA' || vr === 'TM' || vr === 'DT') && value.includes('-')) {
    const [from = '', to = ''] = value.split('-', 2).map((s) => normalizeTime(vr, s))
    return values.some((v) => {
      const n = normalizeTime(vr, v)
      return (from === '' || n >= from) && (to === '' || n <= padEnd(vr, to))
    })
  }
  const alternatives = value.split('\\')
  return alternatives.some((alternative) => values.some((v) => matchOne(vr, v, alternative)))
}

function matchOne(vr: string, actual: string, wanted: string): boolean {
  // Person names match case-insensitively, as Orthanc and dcm4chee do by default.
  const caseless = vr === 'PN'
  if (wanted.includes('*') || wanted.includes('?')) return wildcardMatch(wanted, actual, caseless)
  if (vr === 'DS' || vr === 'IS' || vr in { US: 1, UL: 1, SS: 1, SL: 1, FL: 1, FD: 1 }) {
    return Number(actual) === Number(wanted)
  }
  if (vr === 'DA' || vr === 'TM' || vr === 'DT') {
    return normalizeTime(vr, actual).startsWith(normalizeTime(vr, wanted))
  }
  return caseless ? actual.toLowerCase() === wanted.toLowerCase() : actual === wanted
}

function valueText(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') {
    const name = value as { Alphabetic?: string }
    return name.Alphabetic ?? ''
  }
  return String(value)
}

function normalizeTime(vr: string, text: string): string {
  const digits = text.replace(/[^0-9.]/g, '')
  return vr === 'DA' ? digits.slice(0, 8) : digits
}

/** The upper end of a range includes all of its last unit (`20200101` covers the whole day). */
function padEnd(vr: string, text: string): string {
  return vr === 'DA' ? text : `${text}\uffff`
}

/** Applies offset and limit; `maxResults` caps an unlimited query. */
export function page<T>(items: readonly T[], query: QidoQuery, maxResults: number): T[] {
  const limit = Math.min(query.limit ?? maxResults, maxResults)
  return items.slice(query.offset, query.offset + limit)
}

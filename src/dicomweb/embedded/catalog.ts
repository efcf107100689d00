/**
 * The in-memory view of the index: studies → series → instances, with the attributes QIDO
 * returns at each level (study attributes from the first instance, counts and
 * ModalitiesInStudy derived from all of them). Rebuilt when a scan changes the index.
 */
import type { DicomJson, JsonAttribute } from '../dicom/json.js'
import { dictionaryVr } from '../dicom/vr.js'
import { matchesQuery, type QidoQuery } from './qido.js'
import type { InstanceRecord } from './record.js'
import type { SkippedFile } from './scan.js'

/** Attributes returned for every study (PS3.18 Table 6.7.1-2, plus what OHIF's list shows). */
export const STUDY_TAGS = [
  '00080005', '00080020', '00080030', '00080050', '00080061', '00080090', '00100010',
  '00100020', '00100030', '00100040', '0020000D', '00200010', '00081030', '00201206',
  '00201208',
] // prettier-ignore

export const SERIES_TAGS = [
  '00080005', '00080060', '00080021', '00080031', '0008103E', '0020000D', '0020000E',
  '00200011', '00201209',
] // prettier-ignore

export const INSTANCE_TAGS = [
  '00080005', '00080016', '00080018', '0020000D', '0020000E', '00200013', '00280008',
  '00280010', '00280011', '00280100',
] // prettier-ignore

const STUDY_SOURCE = STUDY_TAGS.filter((t) => !['00080061', '00201206', '00201208'].includes(t))
const SERIES_SOURCE = SERIES_TAGS.filter((t) => t !== '00201209')

export interface CatalogInstance {
  readonly record: InstanceRecord
  readonly attributes: DicomJson
}
export interface CatalogSeries {
  readonly uid: string
  readonly study: string
  attributes: DicomJson
  readonly instances: CatalogInstance[]
}
export interface CatalogStudy {
  readonly uid: string
  attributes: DicomJson
  readonly series: Map<string, CatalogSeries>
}

const INSTANCE_ATTRIBUTES = [...new Set([...INSTANCE_TAGS, ...STUDY_SOURCE, ...SERIES_SOURCE])]

/** Tags an instance may share with its study or series, and which one (series first). */
const SHARED_FROM: ReadonlyArray<readonly [string, 'study' | 'series']> = [
  ...SERIES_SOURCE.map((tag) => [tag, 'series'] as const),
  ...STUDY_SOURCE.filter((tag) => !SERIES_SOURCE.includes(tag)).map(
    (tag) => [tag, 'study'] as const,
  ),
]

function sameAttribute(a: JsonAttribute, b: JsonAttribute): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function pick(json: DicomJson, tags: readonly string[]): DicomJson {
  const out: DicomJson = {}
  for (const tag of tags) if (json[tag]) out[tag] = json[tag]
  return out
}

function count(n: number): JsonAttribute {
  return { vr: 'IS', Value: [n] }
}

function instanceNumber(i: CatalogInstance): number {
  const v = i.attributes['00200013']?.Value?.[0]
  return typeof v === 'number' ? v : Number.MAX_SAFE_INTEGER
}

export class Catalog {
  readonly studies = new Map<string, CatalogStudy>()
  readonly bySop = new Map<string, CatalogInstance>()
  /** Files not served because an earlier path holds the same SOP Instance UID. */
  readonly duplicates: SkippedFile[] = []

  constructor(records: Iterable<InstanceRecord>) {
    const sorted = [...records].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    for (const record of sorted) this.add(record)
    for (const study of this.studies.values()) this.derive(study)
  }

  private add(record: InstanceRecord): void {
    // A second file with the same SOP Instance UID is a duplicate; the first path (in code
    // point order) wins, and the others are listed with the skipped files.
    const first = this.bySop.get(record.sop)
    if (first) {
      this.duplicates.push({
        path: record.path,
        reason: `duplicate: its SOP Instance UID is already served from ${first.record.path}`,
      })
      return
    }
    const json = JSON.parse(record.metadata) as DicomJson
    let study = this.studies.get(record.study)
    if (!study) {
      study = { uid: record.study, attributes: pick(json, STUDY_SOURCE), series: new Map() }
      this.studies.set(record.study, study)
    }
    let series = study.series.get(record.series)
    if (!series) {
      series = {
        uid: record.series,
        study: record.study,
        attributes: pick(json, SERIES_SOURCE),
        instances: [],
      }
      study.series.set(record.series, series)
    }
    const attributes = pick(json, INSTANCE_ATTRIBUTES)
    // Most of these repeat the study's and series' values: share those objects rather than
    // keep one copy per instance (about half the catalog's memory on a large folder).
    for (const [tag, owner] of SHARED_FROM) {
      const own = attributes[tag]
      const shared = (owner === 'study' ? study : series).attributes[tag]
      if (own && shared && own !== shared && sameAttribute(own, shared)) attributes[tag] = shared
    }
    const instance: CatalogInstance = { record, attributes }
    series.instances.push(instance)
    this.bySop.set(record.sop, instance)
  }

  private derive(study: CatalogStudy): void {
    const modalities = new Set<string>()
    let instances = 0
    for (const series of study.series.values()) {
      series.instances.sort((a, b) => instanceNumber(a) - instanceNumber(b))
      series.attributes = {
        ...series.attributes,
        '00201209': count(series.instances.length),
      }
      const modality = series.attributes['00080060']?.Value?.[0]
      if (typeof modality === 'string' && modality !== '') modalities.add(modality)
      instances += series.instances.length
    }
    const attributes: DicomJson = {
      ...study.attributes,
      '00201206': count(study.series.size),
      '00201208': count(instances),
    }
    // A value-less ModalitiesInStudy breaks OHIF 3.13's study list (user case M02): a study
    // whose instances carry no Modality simply has no such attribute here.
    if (modalities.size > 0) attributes['00080061'] = { vr: 'CS', Value: [...modalities].sort() }
    study.attributes = attributes
  }

  get instanceCount(): number {
    return this.bySop.size
  }

  seriesCount(): number {
    let n = 0
    for (const study of this.studies.values()) n += study.series.size
    return n
  }

  /** Studies matching a query, newest StudyDate first (then by UID, for a stable order). */
  findStudies(query: QidoQuery): CatalogStudy[] {
    const out = [...this.studies.values()].filter((s) => matchesQuery(s.attributes, query))
    const date = (s: CatalogStudy) => String(s.attributes['00080020']?.Value?.[0] ?? '')
    return out.sort((a, b) => date(b).localeCompare(date(a)) || a.uid.localeCompare(b.uid))
  }

  /** Series of one study (or of all studies), matching on series and study attributes. */
  findSeries(query: QidoQuery, studyUid?: string): CatalogSeries[] {
    const studies = studyUid
      ? [this.studies.get(studyUid)].filter(isDefined)
      : this.studies.values()
    const out: CatalogSeries[] = []
    for (const study of studies) {
      for (const series of study.series.values()) {
        // No filters match everything: no merged copy per series to build and throw away.
        if (query.filters.length === 0) out.push(series)
        else if (matchesQuery({ ...study.attributes, ...series.attributes }, query)) {
          out.push(series)
        }
      }
    }
    return out
  }

  findInstances(query: QidoQuery, studyUid?: string, seriesUid?: string): CatalogInstance[] {
    const out: CatalogInstance[] = []
    for (const series of this.findSeries(emptyQuery, studyUid)) {
      if (seriesUid && series.uid !== seriesUid) continue
      const study = this.studies.get(series.study)!
      if (query.filters.length === 0) {
        for (const instance of series.instances) out.push(instance)
        continue
      }
      for (const instance of series.instances) {
        const all = { ...study.attributes, ...series.attributes, ...instance.attributes }
        if (matchesQuery(all, query)) out.push(instance)
      }
    }
    return out
  }
}

const emptyQuery: QidoQuery = {
  filters: [],
  includeAll: false,
  include: new Set(),
  limit: undefined,
  offset: 0,
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined
}

/**
 * One QIDO result: the level's default attributes (empty ones carry only their VR, except
 * ModalitiesInStudy, see above), plus included ones found in `extra` (the first instance's
 * full metadata, for includefield beyond the defaults).
 */
export function qidoResult(
  defaults: readonly string[],
  attributes: DicomJson,
  query: QidoQuery,
  extra: () => DicomJson,
  retrieveUrl: string,
): DicomJson {
  const out: DicomJson = {}
  for (const tag of defaults) {
    const value = attributes[tag]
    if (value) out[tag] = value
    else if (tag !== '00080061') out[tag] = { vr: dictionaryVr(`x${tag.toLowerCase()}`) }
  }
  const wanted = query.includeAll ? Object.keys(extra()) : [...query.include]
  let full: DicomJson | undefined
  for (const tag of wanted) {
    if (out[tag]) continue
    const value = attributes[tag] ?? (full ??= extra())[tag]
    // Binary values have no place in a query result.
    if (value && !value.BulkDataURI && !value.InlineBinary) out[tag] = value
  }
  out['00081190'] = { vr: 'UR', Value: [retrieveUrl] }
  return sortKeys(out)
}

export function sortKeys(json: DicomJson): DicomJson {
  const out: DicomJson = {}
  for (const key of Object.keys(json).sort()) out[key] = json[key]!
  return out
}

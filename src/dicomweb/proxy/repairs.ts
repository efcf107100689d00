/**
 * Repairs for interop faults measured between OHIF 3.13 and Orthanc's DICOMweb plugin (Debian's
 * 1.7). Each is on by default for `kind: orthanc` and can be switched off in `repairs`. Pure:
 * the one that needs the upstream (deriving modalities) takes a lookup function.
 */
import type { ProxySourceConfig } from '../../config/schema.js'

export type RepairName = 'splitIncludefield' | 'emptyModalities'

/** Which repairs apply to a source: on by default for Orthanc, off for other kinds. */
export function repairsFor(
  kind: ProxySourceConfig['kind'],
  repairs: ProxySourceConfig['repairs'],
): Record<RepairName, boolean> {
  const byDefault = kind === 'orthanc'
  return {
    splitIncludefield: repairs.splitIncludefield ?? byDefault,
    emptyModalities: repairs.emptyModalities ?? byDefault,
  }
}

/**
 * OHIF joins `includefield` values with a comma (`includefield=00081030%2C00080060`); the
 * plugin ignores that form, so the study list shows no description. QIDO (PS3.18 §8.3.4.3)
 * allows repeated parameters, which the plugin honours: `includefield=00081030&includefield=…`.
 * Works on the raw query string so that no other parameter is re-encoded; returns whether it
 * changed anything.
 */
export function splitIncludefield(query: string): { query: string; changed: boolean } {
  if (query === '') return { query, changed: false }
  let changed = false
  const parts = query.split('&').flatMap((part) => {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).toLowerCase() !== 'includefield') return [part]
    const key = part.slice(0, eq)
    const values = part
      .slice(eq + 1)
      .split(/,|%2C/i)
      .filter((v) => v !== '')
    if (values.length <= 1) return [part]
    changed = true
    return values.map((value) => `${key}=${value}`)
  })
  return { query: parts.join('&'), changed }
}

/** DICOM JSON attribute tags used by the modalities repair. */
const MODALITIES_IN_STUDY = '00080061'
const STUDY_INSTANCE_UID = '0020000D'

type DicomJsonDataset = Record<string, { vr?: string; Value?: unknown[] } | undefined>

/** Study UIDs of datasets whose ModalitiesInStudy is present but has no value. */
export function studiesWithEmptyModalities(studies: readonly unknown[]): string[] {
  const uids: string[] = []
  for (const study of studies) {
    const dataset = study as DicomJsonDataset
    const element = dataset?.[MODALITIES_IN_STUDY]
    if (element === undefined || (Array.isArray(element.Value) && element.Value.length > 0)) {
      continue
    }
    const uid = dataset[STUDY_INSTANCE_UID]?.Value?.[0]
    if (typeof uid === 'string') uids.push(uid)
  }
  return uids
}

/**
 * A study whose files lack Modality makes the plugin send `"00080061": {"vr": "CS"}` with no
 * Value; OHIF 3.13's `getModalities` then reads `ModalitiesInStudy.Value.length` and the whole
 * study list fails with an error dialog. Fills the value from `derived` (the modalities of the
 * study's series, as the upstream reports them) or, when none is known, removes the element,
 * which OHIF handles. Mutates `studies`; returns how many datasets changed.
 */
export function fillModalities(
  studies: unknown[],
  derived: ReadonlyMap<string, readonly string[]>,
): number {
  let changed = 0
  for (const study of studies) {
    const dataset = study as DicomJsonDataset
    const element = dataset?.[MODALITIES_IN_STUDY]
    if (element === undefined || (Array.isArray(element.Value) && element.Value.length > 0)) {
      continue
    }
    const uid = dataset[STUDY_INSTANCE_UID]?.Value?.[0]
    const modalities = typeof uid === 'string' ? derived.get(uid) : undefined
    if (modalities !== undefined && modalities.length > 0) {
      dataset[MODALITIES_IN_STUDY] = { vr: 'CS', Value: [...modalities] }
    } else {
      delete dataset[MODALITIES_IN_STUDY]
    }
    changed++
  }
  return changed
}

/** The distinct Modality (0008,0060) values of a QIDO series reply, in first-seen order. */
export function seriesModalities(series: unknown): string[] {
  if (!Array.isArray(series)) return []
  const seen = new Set<string>()
  for (const item of series) {
    const value = (item as DicomJsonDataset)?.['00080060']?.Value?.[0]
    if (typeof value === 'string' && value.trim() !== '') seen.add(value.trim())
  }
  return [...seen]
}

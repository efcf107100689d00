/**
 * One figure of the bench: Isogate's value beside the reference's, both the median of `runs`
 * short runs taken in turn (so drift on a shared machine hits both alike), the ratio, and
 * whether it meets the target. Figures without a reference (memory, doctor time) are
 * compared with their target instead.
 */

export type Op = '>=' | '<=' | '<'

export interface Target {
  readonly op: Op
  readonly value: number
  /** What the target is stated against: the ratio to the reference, or the absolute value. */
  readonly of: 'ratio' | 'value'
}

export interface Figure {
  readonly name: string
  readonly isogate: number | null
  readonly reference: number | null
  /** What the reference is (e.g. `nginx proxying the same Orthanc`). */
  readonly referenceName: string
  readonly unit: string
  /** isogate ÷ reference, or isogate ÷ target value for absolute figures. */
  readonly ratio: number | null
  readonly target: Target & { readonly text: string }
  /** null when the figure could not be measured. */
  readonly met: boolean | null
  readonly runs: number
  /** min and max over the runs, per side, and of the per-run ratios. */
  readonly spread: {
    readonly isogate: readonly [number, number] | null
    readonly reference: readonly [number, number] | null
    readonly ratio: readonly [number, number] | null
  }
  readonly note?: string | undefined
}

export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function range(values: readonly number[]): readonly [number, number] | null {
  const finite = values.filter(Number.isFinite)
  return finite.length === 0 ? null : [Math.min(...finite), Math.max(...finite)]
}

export function targetText(target: Target): string {
  const op = { '>=': '≥', '<=': '≤', '<': '<' }[target.op]
  return target.of === 'ratio' ? `${op} ${target.value}×` : `${op} ${target.value}`
}

export function meets(value: number, target: Target): boolean {
  if (target.op === '>=') return value >= target.value
  if (target.op === '<=') return value <= target.value
  return value < target.value
}

const round = (n: number, digits = 3) => Number(n.toPrecision(digits + 1))

/** A figure from paired runs: `isogate[i]` and `reference[i]` were measured one after another. */
export function paired(
  name: string,
  unit: string,
  referenceName: string,
  target: Target,
  isogate: readonly number[],
  reference: readonly number[],
  note?: string,
): Figure {
  const i = median(isogate)
  const r = median(reference)
  const ratio = Number.isFinite(i) && Number.isFinite(r) && r !== 0 ? i / r : Number.NaN
  const ratios = isogate.map((v, k) => v / (reference[k] ?? Number.NaN))
  const measured = Number.isFinite(ratio)
  return {
    name,
    isogate: Number.isFinite(i) ? round(i) : null,
    reference: Number.isFinite(r) ? round(r) : null,
    referenceName,
    unit,
    ratio: measured ? round(ratio) : null,
    target: { ...target, text: targetText(target) },
    met: measured ? meets(target.of === 'ratio' ? ratio : i, target) : null,
    runs: Math.min(isogate.length, reference.length),
    spread: { isogate: range(isogate), reference: range(reference), ratio: range(ratios) },
    note,
  }
}

/** A figure with no reference: the value against its target (ratio = value ÷ target). */
export function absolute(
  name: string,
  unit: string,
  target: Target,
  values: readonly number[],
  note?: string,
): Figure {
  const v = median(values)
  const measured = Number.isFinite(v)
  return {
    name,
    isogate: measured ? round(v) : null,
    reference: null,
    referenceName: 'target',
    unit,
    ratio: measured ? round(v / target.value) : null,
    target: { ...target, text: targetText(target) },
    met: measured ? meets(v, target) : null,
    runs: values.filter(Number.isFinite).length,
    spread: { isogate: range(values), reference: null, ratio: null },
    note,
  }
}

/** A figure that could not be measured in this run, with the reason. */
export function missing(name: string, unit: string, target: Target, why: string): Figure {
  return absolute(name, unit, target, [], why)
}

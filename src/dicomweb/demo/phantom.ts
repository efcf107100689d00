/**
 * A synthetic CT phantom: a torso-like body with lungs, a spine, a lesion and a contrast-filled
 * cone whose radius changes along the body axis, so axial, sagittal and coronal views each look
 * different and MPR shows something. Pure and deterministic; values are Hounsfield units.
 */

export interface PhantomGeometry {
  readonly size: number
  readonly slices: number
  /** In-plane pixel spacing and slice spacing, in mm. */
  readonly pixelSpacing: number
  readonly sliceSpacing: number
}

export const DEMO_GEOMETRY: PhantomGeometry = {
  size: 256,
  slices: 128,
  pixelSpacing: 1,
  sliceSpacing: 2,
}

const AIR = -1000
const WATER_TISSUE = 40
const LUNG = -820
const BONE = 900
const LESION = 160
const CONTRAST = 320

function inEllipsoid(x: number, y: number, z: number, c: number[], r: number[]): boolean {
  const dx = (x - c[0]!) / r[0]!
  const dy = (y - c[1]!) / r[1]!
  const dz = (z - c[2]!) / r[2]!
  return dx * dx + dy * dy + dz * dz <= 1
}

/** Hounsfield units at a point in patient mm (origin at the volume's centre). */
export function phantomHu(x: number, y: number, z: number, zHalf: number): number {
  if (!inEllipsoid(x, y, z, [0, 0, 0], [112, 82, zHalf * 1.15])) return AIR
  // Spine: a column of bone behind the centre, the whole length of the body.
  if ((x * x) / 196 + ((y - 52) * (y - 52)) / 196 <= 1) return BONE
  // Ribs as bone rings every 24 mm along z.
  const ring = Math.abs(((z + 1000) % 24) - 12) < 2.5
  const r = Math.sqrt((x * x) / (104 * 104) + (y * y) / (74 * 74))
  if (ring && r > 0.9 && r < 0.97 && y < 40) return BONE
  if (inEllipsoid(x, y, z, [52, 0, 0], [24, 24, 24])) return LESION
  if (inEllipsoid(x, y, z, [-52, -5, zHalf * 0.1], [38, 52, zHalf * 0.8])) return LUNG
  if (inEllipsoid(x, y, z, [52, -5, zHalf * 0.1], [38, 52, zHalf * 0.8])) return LUNG
  // A cone along z in front of the spine: its radius grows from head to feet.
  const coneRadius = 4 + (14 * (z + zHalf)) / (2 * zHalf)
  if (x * x + (y - 20) * (y - 20) <= coneRadius * coneRadius) return CONTRAST
  return WATER_TISSUE
}

/** Stored values (HU + 1024, 12 bits) of one axial slice, row by row. */
export function phantomSlice(geometry: PhantomGeometry, index: number): Uint16Array {
  const { size, slices, pixelSpacing, sliceSpacing } = geometry
  const out = new Uint16Array(size * size)
  const half = ((size - 1) * pixelSpacing) / 2
  const zHalf = ((slices - 1) * sliceSpacing) / 2
  const z = index * sliceSpacing - zHalf
  for (let row = 0; row < size; row++) {
    const y = row * pixelSpacing - half
    for (let column = 0; column < size; column++) {
      const x = column * pixelSpacing - half
      const hu = phantomHu(x, y, z, zHalf)
      out[row * size + column] = Math.max(0, Math.min(4095, hu + 1024))
    }
  }
  return out
}

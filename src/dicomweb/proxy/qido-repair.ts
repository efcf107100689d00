/**
 * The modalities repair applied to a QIDO study reply in flight. QIDO study lists are small
 * (OHIF asks for 101 studies at a time, a few hundred bytes each), so the reply is buffered up
 * to a bound and repaired as JSON; a larger one streams on untouched.
 */
import { Readable } from 'node:stream'

import { fillModalities, studiesWithEmptyModalities } from './repairs.js'

/** Largest QIDO study reply that is buffered for repair; ~8,000 studies of Orthanc's JSON. */
export const QIDO_REPAIR_LIMIT = 8 * 1024 * 1024

/** At most this many studies per reply get a series lookup; the rest lose the empty element. */
const LOOKUPS_PER_REPLY = 64
const LOOKUP_CONCURRENCY = 4

export interface RepairOutcome {
  readonly body: Readable
  /** Datasets changed; 0 when the body passes as it came. */
  readonly changed: number
  /** The reply was larger than the bound and passed without repair. */
  readonly overflow: boolean
}

/**
 * Reads a QIDO study reply (up to `limit` bytes), fills or drops value-less ModalitiesInStudy
 * using `lookup` (the study's series modalities, or undefined when unknown), and returns the
 * body to send: the original bytes when nothing needed repair, so they pass byte for byte.
 */
export async function repairStudyList(
  body: Readable,
  lookup: (studyUid: string) => Promise<readonly string[] | undefined>,
  limit = QIDO_REPAIR_LIMIT,
): Promise<RepairOutcome> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const next = await iterator.next()
    if (next.done) break
    chunks.push(next.value)
    size += next.value.length
    if (size > limit) {
      // Too large to hold: what was read goes first, then the rest as it arrives.
      async function* rest(): AsyncGenerator<Buffer> {
        yield* chunks
        for (;;) {
          const more = await iterator.next()
          if (more.done) return
          yield more.value
        }
      }
      return { body: Readable.from(rest(), { objectMode: false }), changed: 0, overflow: true }
    }
  }

  const bytes = Buffer.concat(chunks, size)
  const original = { body: Readable.from([bytes], { objectMode: false }), overflow: false }
  let studies: unknown
  try {
    studies = JSON.parse(bytes.toString('utf8'))
  } catch {
    return { ...original, changed: 0 }
  }
  if (!Array.isArray(studies)) return { ...original, changed: 0 }
  const uids = studiesWithEmptyModalities(studies)
  if (uids.length === 0) return { ...original, changed: 0 }

  const derived = new Map<string, readonly string[]>()
  const queue = uids.filter((uid) => /^[0-9.]{1,64}$/.test(uid)).slice(0, LOOKUPS_PER_REPLY)
  const worker = async () => {
    for (let uid = queue.shift(); uid !== undefined; uid = queue.shift()) {
      const modalities = await lookup(uid).catch(() => undefined)
      if (modalities !== undefined) derived.set(uid, modalities)
    }
  }
  await Promise.all(Array.from({ length: LOOKUP_CONCURRENCY }, worker))

  const changed = fillModalities(studies, derived)
  const repaired = Buffer.from(JSON.stringify(studies), 'utf8')
  return { body: Readable.from([repaired], { objectMode: false }), changed, overflow: false }
}

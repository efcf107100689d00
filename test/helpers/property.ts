/**
 * Running a fast-check property inside node:test and saying how many inputs it ran, so that a
 * test log shows the iteration count of every property (docs/reliability.md counts them).
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'

import fc from 'fast-check'

/** Checks a property like fc.assert (sync or async), then reports how many inputs it ran. */
export async function holds<Ts>(
  t: TestContext,
  name: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  numRuns: number,
): Promise<void> {
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, { numRuns })
  if (details.failed) {
    const cause = details.errorInstance
    const why = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)
    throw new Error(`${fc.defaultReportMessage(details) ?? name}\n${why}`)
  }
  assert.equal(details.numRuns, numRuns)
  t.diagnostic(`property: ${name}: ${details.numRuns} runs`)
}

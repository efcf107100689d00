#!/usr/bin/env node
// Runs the whole suite with node's test runner: unit tests (pure code, in parallel) and then the
// end-to-end tests (real Orthanc, nginx, Chromium; one at a time, since the machine has 2 cores).
// Prints one closing line, `N passed, N failed`, and exits non-zero on any failure.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const groups = [
  { name: 'unit', roots: ['src', 'test/unit'], concurrency: 2 },
  { name: 'e2e', roots: ['test/e2e'], concurrency: 1 },
]
const only = process.argv[2]

/** Every *.test.ts under a folder (node 20 has no fs.globSync). */
function testFiles(root) {
  let entries
  try {
    entries = readdirSync(root, { withFileTypes: true, recursive: true })
  } catch {
    return []
  }
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name))
}

let passed = 0
let failed = 0
let skipped = 0
for (const group of groups) {
  if (only && only !== group.name) continue
  const files = group.roots.flatMap(testFiles).sort()
  if (files.length === 0) continue
  console.log(`\n== ${group.name}: ${files.length} files`)
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${group.concurrency}`, ...files],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  )
  process.stdout.write(run.stdout)
  const count = (label) =>
    Number(run.stdout.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0)
  passed += count('pass')
  failed += count('fail') + count('cancelled')
  skipped += count('skipped') + count('todo')
  if (run.status !== 0 && count('fail') + count('cancelled') === 0) failed += 1
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 || skipped > 0 || passed === 0 ? 1 : 0)

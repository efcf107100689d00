import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scan, indexPath } from '../src/dicomweb/embedded/scan.js'
const root = '/tmp/isogate-bench-data-512x200'
const state = mkdtempSync(join(tmpdir(), 'idx-'))
const t = Date.now()
const r = await scan({ root, indexFile: indexPath(state, root) })
console.log('cold', Date.now() - t, r.records.length)
const t2 = Date.now()
await scan({ root, indexFile: indexPath(state, root) })
console.log('warm', Date.now() - t2)

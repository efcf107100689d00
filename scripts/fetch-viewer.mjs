#!/usr/bin/env node
// Brings the pinned prebuilt OHIF viewer into vendor/ohif/. It comes from the npm registry as the
// `@ohif/app` tarball (its dist/ is the viewer), checked against a pinned checksum. Installing
// @ohif/app as a dependency would pull its whole build toolchain; the tarball alone is the build.
// The unpacked files are never edited: base paths and app-config are applied while serving.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const OHIF_VERSION = '3.13.2'
const OHIF_SHA1 = '26a51ffcc1704c30fff403258a1d7392e9a991f3'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const target = join(root, 'vendor', 'ohif')
const marker = join(target, '.isogate-viewer.json')

function alreadyThere() {
  if (!existsSync(marker)) return false
  try {
    return JSON.parse(readFileSync(marker, 'utf8')).version === OHIF_VERSION
  } catch {
    return false
  }
}

if (process.env.ISOGATE_SKIP_VIEWER === '1') {
  console.log('isogate: ISOGATE_SKIP_VIEWER=1, not fetching the OHIF viewer')
} else if (alreadyThere()) {
  console.log(`isogate: OHIF ${OHIF_VERSION} already in vendor/ohif`)
} else {
  const work = join(root, 'vendor', '.fetch')
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })

  console.log(`isogate: fetching @ohif/app@${OHIF_VERSION} from the npm registry…`)
  const out = execFileSync('npm', ['pack', `@ohif/app@${OHIF_VERSION}`, '--silent'], {
    cwd: work,
    encoding: 'utf8',
  })
  const tarball = join(work, out.trim().split('\n').pop())

  const sha1 = createHash('sha1').update(readFileSync(tarball)).digest('hex')
  if (sha1 !== OHIF_SHA1) {
    throw new Error(`@ohif/app tarball checksum ${sha1} is not the pinned ${OHIF_SHA1}`)
  }

  execFileSync('tar', ['-xzf', tarball, '-C', work])
  rmSync(target, { recursive: true, force: true })
  mkdirSync(dirname(target), { recursive: true })
  renameSync(join(work, 'package', 'dist'), target)
  writeFileSync(marker, JSON.stringify({ package: '@ohif/app', version: OHIF_VERSION, sha1 }))
  rmSync(work, { recursive: true, force: true })
  console.log(`isogate: OHIF ${OHIF_VERSION} unpacked into vendor/ohif`)
}

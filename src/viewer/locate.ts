/**
 * Finding the viewer build to serve: the bundled OHIF (unpacked by scripts/fetch-viewer.mjs
 * into `<package root>/vendor/ohif`) or a folder the user names. The version is read where the
 * build says it, because what isolation buys depends on it (ohif-notes.md §0, §d).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { IsogateError } from '../errors.js'

export interface ViewerBuild {
  /** Absolute folder holding index.html. */
  readonly root: string
  /** True for the build that ships with Isogate. */
  readonly bundled: boolean
  /** The OHIF version, e.g. `3.13.2`, when the build tells it; undefined otherwise. */
  readonly version: string | undefined
}

/**
 * The bundled build, found relative to this module (src/viewer or dist/viewer), never the working
 * directory, so that `isogate` works from any folder.
 */
export function bundledViewerRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'vendor', 'ohif')
}

/** Locates a build and reads its version; throws ISOGATE_E_VIEWER_MISSING when there is none. */
export function locateViewer(root?: string): ViewerBuild {
  const bundled = root === undefined
  const folder = resolve(root ?? bundledViewerRoot())
  const index = join(folder, 'index.html')
  if (!existsSync(index) || !statSync(index).isFile()) {
    throw new IsogateError(
      'ISOGATE_E_VIEWER_MISSING',
      bundled
        ? `the bundled OHIF viewer is not installed (no ${index})`
        : `--viewer ${folder} holds no index.html; point it at a built OHIF (its dist/ folder)`,
      { details: { root: folder } },
    )
  }
  return { root: folder, bundled, version: viewerVersion(folder) }
}

/**
 * The version of an OHIF build: the marker written by fetch-viewer, else the package.json of an
 * `@ohif/app` install whose `dist/` this is. A custom build tells nothing reliable (its bundle
 * embeds versions of inner packages, not of the app), so the version stays unknown then.
 */
export function viewerVersion(folder: string): string | undefined {
  const candidates = [join(folder, '.isogate-viewer.json'), join(folder, '..', 'package.json')]
  for (const file of candidates) {
    const parsed = readJson(file)
    if (!parsed) continue
    const name = parsed.package ?? parsed.name
    if (name === '@ohif/app' && typeof parsed.version === 'string') return parsed.version
  }
  return undefined
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'))
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * True when a build is known to predate OHIF 3.9, the first release on Cornerstone3D 2.x: those
 * read `useSharedArrayBuffer` and need isolation for volumes and MPR. Unknown versions count as
 * old, because setting the key is harmless to newer builds, which ignore it.
 */
export function readsSharedArrayBufferFlag(version: string | undefined): boolean {
  if (version === undefined) return true
  const match = /^(\d+)\.(\d+)/.exec(version)
  if (!match) return true
  const major = Number(match[1])
  const minor = Number(match[2])
  return major < 3 || (major === 3 && minor <= 8)
}

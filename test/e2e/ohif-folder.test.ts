/**
 * `isogate serve DIR` over pydicom's test files, in OHIF 3.13 in Chromium: every image the
 * embedded source serves shows in a viewport (cornerstone loads and decodes it, and the canvas
 * holds a non-blank picture), frame by frame. Where OHIF itself cannot show one, the file is
 * listed below with the reason, and the test proves that the gateway served the right bytes.
 *
 * pydicom ships several encodings of one instance under one SOP Instance UID (MR_small in
 * nine transfer syntaxes, for example). One source serves the first file of a UID and skips the
 * rest as duplicates, so the files are spread over several embedded sources, each holding one
 * file per UID; every file is then served by one of them and shown in OHIF.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import dicomParser from 'dicom-parser'
import type { Browser, BrowserContext, Page } from 'playwright-core'

import { validateConfig } from '../../src/config/load.js'
import type { EmbeddedDataSource } from '../../src/dicomweb/embedded/index.js'
import { startGateway, type RunningGateway } from '../../src/gateway/start.js'
import { launchChromium } from '../helpers/chromium.js'
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js'
import { PYDICOM_FILES, parseMultipart } from '../helpers/dicom-volume.js'
import {
  dicomJson,
  displaySets,
  isBlank,
  isolationTrouble,
  newOhifContext,
  screenshot,
  showEachImage,
  text,
  viewerUrl,
  waitForViewerReady,
  watchPage,
  type ImageOutcome,
  type PageWatch,
} from '../helpers/ohif.js'

/**
 * Files with pixel data that OHIF 3.13 does not show, and why. The test fails if one of them
 * shows after all (update this list) or if any other file does not show.
 */
const NOT_SHOWN: Record<string, string> = {
  // Measured in Chromium 156 with OHIF 3.13.2, alone in a fresh page, and the same from
  // Orthanc's DICOMweb plugin (test 4); test 3 proves the frame bytes served equal the file's.
  'SC_rgb_rle_32bit.dcm': 'RGB 32-bit in RLE: cornerstone’s RLE decoder refuses the format',
  'SC_rgb_rle_32bit_2frame.dcm': 'RGB 32-bit in RLE: cornerstone’s RLE decoder refuses the format',
}

/**
 * Files OHIF shows in some runs and not in others (a blank canvas, three times in a row, in
 * about one run in five here): a known shortcoming of this proof, not settled yet. Either
 * outcome passes; test 3 checks their frame bytes whenever they were not shown.
 */
const SOMETIMES_SHOWN: Record<string, string> = {
  'SC_ybr_full_422_uncompressed.dcm': 'YBR_FULL_422, native: sometimes drawn blank',
}

/** SOP classes with pixel data that OHIF does not show as images of their own, and why. */
const NOT_IMAGES: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.66.4':
    'Segmentation Storage: OHIF shows a SEG as an overlay on the image series it references, ' +
    'which is not among pydicom’s files; it never shows one as images of its own',
}

const STACK_HANDLER = '@ohif/extension-default.sopClassHandlerModule.stack'
const FRAMES_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'

interface TestFile {
  readonly name: string
  /** Which source holds it (`pydicom-0`, `pydicom-1`, …). */
  readonly source: string
  readonly sop: string | undefined
  readonly transferSyntax: string | undefined
  /** Whether dicom-parser finds Pixel Data (7FE0,0010) in it. */
  readonly hasPixels: boolean
}

/** Copies the files into one folder per source, so that no folder holds a UID twice. */
function spreadFiles(root: string): TestFile[] {
  const seen: Array<Set<string>> = []
  const files: TestFile[] = []
  const names = readdirSync(PYDICOM_FILES)
    .filter((n) => n.endsWith('.dcm'))
    .sort()
  for (const name of names) {
    let sop: string | undefined
    let transferSyntax: string | undefined
    let hasPixels = false
    try {
      const dataSet = dicomParser.parseDicom(readFileSync(join(PYDICOM_FILES, name)))
      sop = dataSet.string('x00080018')
      transferSyntax = dataSet.string('x00020010')
      hasPixels = dataSet.elements.x7fe00010 !== undefined
    } catch {
      // Not readable here either; the source will skip it with its reason.
    }
    let group = 0
    while (sop !== undefined && seen[group]?.has(sop)) group++
    if (sop !== undefined) (seen[group] ??= new Set()).add(sop)
    const source = `pydicom-${group}`
    mkdirSync(join(root, source), { recursive: true })
    copyFileSync(join(PYDICOM_FILES, name), join(root, source, name))
    files.push({ name, source, sop, transferSyntax, hasPixels })
  }
  return files
}

/** An instance with pixel data, as a source serves it. */
interface ServedImage {
  readonly file: TestFile
  readonly study: string
  readonly series: string
  readonly sopClass: string
  readonly frames: number
}

/** The frame as the file holds it, read with dicom-parser: the bytes the gateway must send. */
function frameFromFile(path: string, frame: number): Buffer {
  const bytes = readFileSync(path)
  const dataSet = dicomParser.parseDicom(bytes)
  const pixels = dataSet.elements.x7fe00010
  if (!pixels) throw new Error(`${path} has no pixel data`)
  const frames = Number.parseInt(dataSet.string('x00280008') ?? '1', 10) || 1
  if (pixels.encapsulatedPixelData) {
    const fragments = pixels.fragments ?? []
    const table = pixels.basicOffsetTable ?? []
    let data: Uint8Array
    if (frames === 1) {
      data = dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixels, 0)
    } else if (table.length === frames) {
      data = dicomParser.readEncapsulatedImageFrame(dataSet, pixels, frame - 1)
    } else if (fragments.length === frames) {
      data = dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixels, frame - 1, 1)
    } else {
      throw new Error(`${path}: cannot map ${fragments.length} fragments to ${frames} frames`)
    }
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  }
  const rows = dataSet.uint16('x00280010') ?? 0
  const columns = dataSet.uint16('x00280011') ?? 0
  const samples = dataSet.uint16('x00280002') ?? 1
  const bits = dataSet.uint16('x00280100') ?? 8
  const length = Math.ceil((rows * columns * samples * bits) / 8)
  const start = pixels.dataOffset + (frame - 1) * length
  const out = Buffer.from(bytes.subarray(start, start + length))
  // Octet-stream frames are little endian (PS3.18 8.7.3.3.2).
  if (dataSet.string('x00020010') === '1.2.840.10008.1.2.2') {
    if (bits === 16) out.swap16()
    if (bits === 32) out.swap32()
  }
  return out
}

/** Opens the viewer on studies and waits until OHIF has display sets for every series. */
async function openViewer(page: Page, url: string, series: readonly string[]) {
  await page.goto(url)
  await page.waitForFunction(
    (wanted) => {
      const w = window as unknown as {
        services?: {
          displaySetService: { getActiveDisplaySets(): Array<{ SeriesInstanceUID: string }> }
        }
      }
      const have = new Set(
        (w.services?.displaySetService.getActiveDisplaySets() ?? []).map(
          (d) => d.SeriesInstanceUID,
        ),
      )
      return wanted.every((s) => have.has(s))
    },
    [...series],
    { timeout: 60_000, polling: 250 },
  )
  await waitForViewerReady(page)
  return await displaySets(page)
}

describe('OHIF over a folder of pydicom’s test files', { timeout: 175_000 }, () => {
  let root: string
  let state: string
  let files: TestFile[]
  let gateway: RunningGateway
  let orthanc: OrthancServer
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let seen: PageWatch
  const served: ServedImage[] = []
  /** Per file: its frames' outcomes, or why OHIF made no image of it. */
  const outcomes = new Map<string, ImageOutcome[] | string>()
  /** Files of SOMETIMES_SHOWN that were not shown in this run. */
  const sometimesUnshown = new Set<string>()

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'isogate-ohif-folder-'))
    state = mkdtempSync(join(tmpdir(), 'isogate-ohif-folder-state-'))
    files = spreadFiles(root)
    const sources = [...new Set(files.map((f) => f.source))].map((name) => ({
      name,
      mode: 'embedded' as const,
      folder: join(root, name),
      watch: false,
    }))
    // The same OHIF over Orthanc's DICOMweb plugin, for the files OHIF does not show: whether
    // it shows them from another server tells a viewer limit from a fault of the source.
    orthanc = await startOrthanc()
    const reference = {
      name: 'orthanc',
      mode: 'proxy' as const,
      kind: 'orthanc' as const,
      upstream: [orthanc.dicomWebRoot],
    }
    // And a folder that holds one file at a time, to show it alone as it is shown there.
    mkdirSync(join(root, 'alone'))
    const alone = {
      name: 'alone',
      mode: 'embedded' as const,
      folder: join(root, 'alone'),
      watch: false,
    }
    ;[gateway, browser] = await Promise.all([
      startGateway(
        validateConfig({
          listen: { host: '127.0.0.1', port: 0 },
          stateDir: state,
          sources: [...sources, reference, alone],
        }),
      ),
      launchChromium(),
    ])
    context = await newOhifContext(browser)
    page = await context.newPage()
    seen = watchPage(page)
  })
  after(async () => {
    await context?.close()
    await browser?.close()
    await gateway?.close()
    await orthanc?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
    if (state) rmSync(state, { recursive: true, force: true })
  })

  it('the sources serve every readable file with pixel data', async () => {
    for (const source of gateway.sources) {
      const qido = `${gateway.origin}${source.roots.qidoRoot}`
      for (const study of await dicomJson(`${qido}/studies`)) {
        const studyUid = text(study, '0020000D')
        for (const instance of await dicomJson(`${qido}/studies/${studyUid}/metadata`)) {
          if (!instance['7FE00010']) continue
          const sop = text(instance, '00080018')
          const file = files.find((f) => f.source === source.name && f.sop === sop)
          assert.ok(file, `${source.name} serves ${sop}, which no copied file has`)
          served.push({
            file,
            study: studyUid,
            series: text(instance, '0020000E'),
            sopClass: text(instance, '00080016'),
            frames: Number.parseInt(text(instance, '00280008') || '1', 10) || 1,
          })
        }
      }
    }
    const skipped = gateway.sources.flatMap(
      (s) => (s.status().details.skipped as Array<{ path: string }>) ?? [],
    )
    const servedNames = new Set(served.map((s) => s.file.name))
    const unaccounted = files
      .filter((f) => !servedNames.has(f.name) && !skipped.some((s) => s.path === f.name))
      .map((f) => f.name)
    // Files neither served with pixel data nor skipped are those without pixel data (SR, RT
    // plan, ECG).
    for (const name of unaccounted) {
      const file = files.find((f) => f.name === name)!
      assert.ok(!file.hasPixels, `${name} has pixel data but is neither served nor skipped`)
    }
    assert.ok(served.length >= 40, `${served.length} files with pixel data are served`)
  })

  it('OHIF shows every served image, frame by frame, except those listed', async () => {
    const bySource = new Map<string, ServedImage[]>()
    for (const image of served) {
      bySource.set(image.file.source, [...(bySource.get(image.file.source) ?? []), image])
    }
    for (const [source, images] of bySource) {
      const studies = [...new Set(images.map((i) => i.study))]
      const series = [...new Set(images.map((i) => i.series))]
      const url = viewerUrl(gateway.url, studies, { dataSource: source })
      // Display set UIDs are minted per page load: after a reload (below), the sets still to
      // show are looked up again by their instances in the new page's list.
      let loaded = await openViewer(page, url, series)
      for (const first of [...loaded]) {
        const set = loaded.find((d) => d.sops.join() === first.sops.join()) ?? first
        const inSet = images.filter((i) => i.series === set.SeriesInstanceUID)
        if (inSet.length === 0) continue
        if (set.handler !== STACK_HANDLER) {
          for (const image of inSet) {
            if (!outcomes.has(image.file.name)) {
              outcomes.set(image.file.name, `OHIF shows it with ${set.handler}, not as images`)
            }
          }
          continue
        }
        let current = set
        for (let from = 0; ;) {
          const shown = await showEachImage(page, current, from)
          for (const outcome of shown.outcomes) {
            const image = inSet.find((i) => i.file.sop === outcome.sop)
            assert.ok(image, `the viewport shows ${outcome.sop}, not served by ${source}`)
            const list = outcomes.get(image.file.name)
            outcomes.set(image.file.name, [...(Array.isArray(list) ? list : []), outcome])
          }
          from += shown.outcomes.length
          if (from >= shown.total) break
          // An image failed, and OHIF's viewport shows nothing after one: reload, go on.
          await screenshot(page, `folder-${source}-failed-${from}`)
          loaded = await openViewer(page, url, series)
          current = loaded.find((d) => d.sops.join() === set.sops.join())!
          assert.ok(current, 'the same display set after a reload')
        }
      }
      await screenshot(page, `folder-${source}`)
    }

    const notShown: Record<string, string> = {}
    for (const image of served) {
      const result = outcomes.get(image.file.name)
      const why = NOT_IMAGES[image.sopClass]
      if (why) {
        notShown[image.file.name] = why
        continue
      }
      if (result === undefined || typeof result === 'string') {
        notShown[image.file.name] = result ?? 'OHIF made no display set of it'
        continue
      }
      const frames = new Set(result.map((o) => o.frame))
      const failed = result.filter((o) => o.error !== undefined || !o.stats || isBlank(o.stats))
      if (frames.size !== image.frames) {
        notShown[image.file.name] = `${frames.size} of ${image.frames} frames reached the viewport`
      } else if (failed.length > 0) {
        const o = failed[0]!
        notShown[image.file.name] = o.error ?? `blank: ${JSON.stringify(o.stats)}`
      }
    }
    // Decoding in OHIF depends on what the page showed before (codec workers, caches): an
    // image that failed among others is shown again alone, in a fresh page, before it counts.
    for (const name of Object.keys(notShown)) {
      const image = served.find((s) => s.file.name === name)!
      if (NOT_IMAGES[image.sopClass]) continue
      // Up to three times: on a loaded 2-core machine a decode can miss the canvas check.
      let alone = false
      for (let attempt = 0; attempt < 3 && !alone; attempt++) alone = await showAlone(image)
      if (alone) delete notShown[name]
      else notShown[name] += ' (alone too, three times)'
    }
    const shown = served.length - Object.keys(notShown).length
    for (const name of Object.keys(notShown)) {
      if (SOMETIMES_SHOWN[name]) sometimesUnshown.add(name)
    }
    const report = Object.entries(notShown)
      .map(([name, why]) => `${name} (${ts(name)}): ${why}`)
      .join('\n')
    assert.deepEqual(
      Object.keys(notShown)
        .filter((name) => !SOMETIMES_SHOWN[name])
        .sort(),
      Object.keys(NOT_SHOWN)
        .concat(served.filter((s) => NOT_IMAGES[s.sopClass]).map((s) => s.file.name))
        .sort(),
      `${shown} of ${served.length} shown; not shown:\n${report}`,
    )
  })

  it('each image OHIF does not show is served with the file’s own frame bytes', async () => {
    const unshown = served.filter(
      (s) => NOT_SHOWN[s.file.name] || NOT_IMAGES[s.sopClass] || sometimesUnshown.has(s.file.name),
    )
    assert.ok(unshown.length > 0)
    for (const image of unshown) {
      const source = gateway.sources.find((s) => s.name === image.file.source)!
      const base =
        `${gateway.origin}${source.roots.wadoRoot}/studies/${image.study}` +
        `/series/${image.series}/instances/${image.file.sop}`
      for (let frame = 1; frame <= image.frames; frame++) {
        const response = await fetch(`${base}/frames/${frame}`, {
          headers: { accept: FRAMES_ACCEPT },
        })
        assert.equal(response.status, 200, `${image.file.name} frame ${frame}`)
        const parts = parseMultipart(
          response.headers.get('content-type') ?? '',
          Buffer.from(await response.arrayBuffer()),
        )
        assert.equal(parts.length, 1)
        const expected = frameFromFile(join(root, image.file.source, image.file.name), frame)
        assert.ok(
          parts[0]!.body.equals(expected),
          `${image.file.name} frame ${frame}: ${parts[0]!.body.length} bytes served, ` +
            `${expected.length} in the file`,
        )
        // Native frames go as explicit VR little endian, encapsulated ones as stored.
        const partTs = /transfer-syntax=([0-9.]+)/.exec(parts[0]!.headers['content-type'] ?? '')
        const stored = image.file.transferSyntax ?? ''
        const native = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']
        assert.equal(
          partTs?.[1],
          native.includes(stored) ? '1.2.840.10008.1.2.1' : stored,
          `${image.file.name}: transfer syntax of the part`,
        )
      }
    }
  })

  it('what OHIF does not show from the folder, it does not show from Orthanc either', async () => {
    const unshown = served.filter((s) => NOT_SHOWN[s.file.name])
    assert.ok(unshown.length > 0)
    const shownThere: string[] = []
    for (const image of unshown) {
      // One file at a time: pydicom's variants share UIDs, and Orthanc keeps one per UID.
      const id = await orthanc.upload(readFileSync(join(root, image.file.source, image.file.name)))
      try {
        if (await showsFrom('orthanc', image)) shownThere.push(image.file.name)
      } finally {
        await fetch(`${orthanc.url}/instances/${id}`, { method: 'DELETE' })
      }
    }
    assert.deepEqual(shownThere, [], 'OHIF shows these from Orthanc: a fault of the source')
  })

  /** Opens the image's study from a source; true when every frame shows. */
  async function showsFrom(source: string, image: ServedImage): Promise<boolean> {
    const url = viewerUrl(gateway.url, [image.study], { dataSource: source })
    const set = (await openViewer(page, url, [image.series])).find(
      (d) => d.SeriesInstanceUID === image.series,
    )
    assert.ok(set, `no display set for ${image.file.name} from ${source}`)
    const shown = await showEachImage(page, set)
    const fine = shown.outcomes.filter((o) => !o.error && o.stats && !isBlank(o.stats))
    return fine.length === image.frames
  }

  /** Shows one file from a folder holding it alone, in a fresh page. */
  async function showAlone(image: ServedImage): Promise<boolean> {
    const source = gateway.sources.find((s) => s.name === 'alone') as EmbeddedDataSource
    const copy = join(root, 'alone', image.file.name)
    copyFileSync(join(root, image.file.source, image.file.name), copy)
    await source.rescan()
    try {
      return await showsFrom('alone', image)
    } finally {
      rmSync(copy)
      await source.rescan()
    }
  }

  it('nothing was blocked by COEP, CORP or CORS', () => {
    assert.deepEqual(isolationTrouble(seen), [])
  })

  /** A file's transfer syntax, for messages. */
  function ts(name: string): string {
    return files.find((f) => f.name === name)?.transferSyntax ?? '?'
  }
})

/**
 * The embedded source: a folder of DICOM files (or the synthetic demo study) served as
 * DICOMweb by Isogate itself. This is the entry point the gateway calls.
 */
import { realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'

import type { EmbeddedSourceConfig } from '../../config/schema.js'
import { IsogateError } from '../../errors.js'
import type { DataSource, SourceContext, SourceStatus } from '../source.js'
import { Catalog } from './catalog.js'
import { FileReader } from './files.js'
import { progressSink } from './progress.js'
import { embeddedRoutes } from './routes.js'
import { indexPath, scan, type SkippedFile } from './scan.js'

/** How often a watched folder is re-scanned for new, changed and removed files. */
export const RESCAN_INTERVAL_MS = 10_000

/** Skipped files listed on the status page; the count is always complete. */
const SKIPPED_SHOWN = 200

export interface EmbeddedDataSource extends DataSource {
  /** Re-scans the folder now (also what the watcher does); resolves when the index is current. */
  rescan(): Promise<void>
}

/**
 * Indexes the folder (reusing the on-disk index for unchanged files), then returns the source.
 * Without `config.folder`, the demo study is generated into `<stateDir>/demo/` on first use.
 */
export async function createEmbeddedSource(
  config: EmbeddedSourceConfig,
  ctx: SourceContext,
): Promise<EmbeddedDataSource> {
  // The demo's generator (phantom, PDF, dcmjs's writer) is loaded only when the demo is used.
  const folder =
    config.folder ??
    (await (await import('../demo/generate.js')).ensureDemo(join(ctx.stateDir, 'demo')))
  let root: string
  try {
    root = await realpath(folder)
  } catch (cause) {
    throw new IsogateError('ISOGATE_E_DICOM_FOLDER', `cannot read the folder ${folder}`, {
      cause,
      details: { folder },
    })
  }
  if (!(await stat(root)).isDirectory()) {
    throw new IsogateError(
      'ISOGATE_E_DICOM_FOLDER',
      `${folder} is a file, not a folder; pass the folder that holds it`,
      { details: { folder } },
    )
  }

  // The gateway's logger for this source already names it.
  const logger = ctx.logger
  const file = indexPath(ctx.stateDir, root)
  const reader = new FileReader(64)
  let catalog = new Catalog([])
  let skipped: SkippedFile[] = []
  let lastError: string | undefined
  let scanning: Promise<void> | undefined
  let lastScan = 0

  const runScan = async (initial: boolean): Promise<void> => {
    const started = Date.now()
    const sink = initial ? progressSink(logger) : undefined
    const result = await scan({ root, indexFile: file, onProgress: sink?.update })
    sink?.finish()
    if (result.changed || initial) catalog = new Catalog(result.records)
    skipped = [...result.skipped, ...catalog.duplicates]
    lastScan = Date.now()
    const summary = {
      folder: root,
      studies: catalog.studies.size,
      instances: catalog.instanceCount,
      read: result.read,
      skipped: skipped.length,
      ms: lastScan - started,
    }
    if (initial || result.changed) logger.info(summary, 'indexed')
    if (initial && skipped.length > 0) {
      // `serve` says how many at start-up; the list is on the status page and in this line.
      logger.info(
        { skipped: skipped.length, files: skipped.slice(0, 20) },
        'some files are not served; see the status page for all reasons',
      )
    }
  }

  /** A scan asked for while one runs: that one may have listed the folder before the change. */
  let queued: Promise<void> | undefined
  const rescan = async (): Promise<void> => {
    if (scanning) {
      queued ??= scanning.then(() => {
        queued = undefined
        return rescan()
      })
      return await queued
    }
    scanning = runScan(false)
      .catch((error: unknown) => {
        lastError = error instanceof Error ? error.message : String(error)
        logger.warn({ err: error }, 're-scan failed')
      })
      .finally(() => (scanning = undefined))
    await scanning
  }

  await runScan(true)
  const timer = config.watch ? setInterval(() => void rescan(), RESCAN_INTERVAL_MS) : undefined
  timer?.unref()

  const plugin = embeddedRoutes({
    catalog: () => catalog,
    root,
    reader,
    base: () => `${ctx.publicOrigin()}${ctx.mountPath}`,
    onStale: () => void rescan(),
  })

  return {
    name: config.name,
    mode: 'embedded',
    plugin,
    roots: { qidoRoot: ctx.mountPath, wadoRoot: ctx.mountPath },
    ohifOptions: {
      qidoSupportsIncludeField: true,
      supportsWildcard: true,
      supportsFuzzyMatching: false,
      supportsReject: false,
      supportsStow: false,
      dicomUploadEnabled: false,
      imageRendering: 'wadors',
      thumbnailRendering: 'wadors',
      enableStudyLazyLoad: true,
      staticWado: false,
      // PDFs go through /rendered (a plain application/pdf reply OHIF shows in an <object>).
      singlepart: 'bulkdata,video,pdf',
      omitQuotationForMultipartRequest: true,
      acceptHeader: ['multipart/related; type=application/octet-stream; transfer-syntax=*'],
      bulkDataURI: { enabled: true, relativeResolution: 'series' },
    },
    status(): SourceStatus {
      return {
        name: config.name,
        mode: 'embedded',
        health: 'up',
        lastError,
        details: {
          folder: root,
          demo: config.folder === undefined,
          studies: catalog.studies.size,
          series: catalog.seriesCount(),
          instances: catalog.instanceCount,
          skippedCount: skipped.length,
          skipped: skipped.slice(0, SKIPPED_SHOWN),
          lastScan: new Date(lastScan).toISOString(),
          openFiles: reader.openFiles,
          watching: config.watch,
        },
      }
    },
    rescan,
    async close() {
      if (timer) clearInterval(timer)
      await scanning
      await reader.close()
    },
  }
}

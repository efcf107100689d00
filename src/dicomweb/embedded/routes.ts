/**
 * The embedded source's DICOMweb routes, relative to its mount: QIDO-RS at three levels,
 * WADO-RS metadata, frames, bulk data, instance retrieval and `rendered` for encapsulated
 * documents. Every route declares its response class so the gateway's hook adds the plan's
 * headers; error replies keep them too (the hook switches to the error set by status).
 */
import { Readable } from 'node:stream'

import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { IsogateError, type ErrorCode } from '../../errors.js'
import '../../http/response-class.js'
import { parseFrameList, type Range } from '../dicom/frames.js'
import type { DicomJson } from '../dicom/json.js'
import {
  INSTANCE_TAGS,
  SERIES_TAGS,
  STUDY_TAGS,
  qidoResult,
  type Catalog,
  type CatalogInstance,
  type CatalogSeries,
} from './catalog.js'
import { FileReader, StaleFile, type IndexedFile } from './files.js'
import {
  multipartBody,
  multipartType,
  negotiateFrames,
  newBoundary,
  parseAccept,
  type Part,
} from './multipart.js'
import { page, parseQidoQuery, type QidoQuery } from './qido.js'
import { absolutePath } from './scan.js'

export interface RouteContext {
  readonly catalog: () => Catalog
  readonly root: string
  readonly reader: FileReader
  /** Absolute URL of the mount, e.g. `https://host:8443/dicomweb/local`. */
  readonly base: () => string
  /** Called when a served file turned out to have changed: re-index soon. */
  readonly onStale: () => void
  /** Upper bound on results of a query without `limit`. */
  readonly maxResults?: number
}

const DICOM_JSON = 'application/dicom+json'
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1'

type Params = { study?: string; series?: string; instance?: string; frames?: string; '*'?: string }
type Req = FastifyRequest<{ Params: Params }>

function fail(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  const error = new IsogateError(code, message)
  return reply
    .code(error.status ?? 500)
    .type('application/json; charset=utf-8')
    .send(error.toJSON())
}

function search(request: FastifyRequest): string {
  const at = request.url.indexOf('?')
  return at < 0 ? '' : request.url.slice(at + 1)
}

/** The fastify plugin with every route of the source. */
export function embeddedRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const dicomweb = { config: { responseClass: 'dicomweb' as const } }
    const maxResults = ctx.maxResults ?? 1000

    const query = (request: Req, reply: FastifyReply): QidoQuery | undefined => {
      const parsed = parseQidoQuery(search(request))
      if (typeof parsed === 'string') {
        fail(reply, 'ISOGATE_E_DICOM_BAD_REQUEST', parsed)
        return undefined
      }
      return parsed
    }
    const firstMetadata = (series: CatalogSeries) => () =>
      JSON.parse(series.instances[0]!.record.metadata) as DicomJson

    const studiesHandler = async (request: Req, reply: FastifyReply) => {
      const q = query(request, reply)
      if (!q) return reply
      const catalog = ctx.catalog()
      const results = page(catalog.findStudies(q), q, maxResults).map((study) => {
        const first = study.series.values().next().value as CatalogSeries
        return qidoResult(
          STUDY_TAGS,
          study.attributes,
          q,
          firstMetadata(first),
          `${ctx.base()}/studies/${study.uid}`,
        )
      })
      return reply.type(DICOM_JSON).send(results)
    }

    const seriesHandler = async (request: Req, reply: FastifyReply) => {
      const q = query(request, reply)
      if (!q) return reply
      const catalog = ctx.catalog()
      const { study } = request.params
      if (study && !catalog.studies.has(study)) return reply.type(DICOM_JSON).send([])
      const results = page(catalog.findSeries(q, study), q, maxResults).map((series) => {
        const studyAttributes = catalog.studies.get(series.study)!.attributes
        return qidoResult(
          SERIES_TAGS,
          { ...pickStudyUid(studyAttributes), ...series.attributes },
          q,
          firstMetadata(series),
          `${ctx.base()}/studies/${series.study}/series/${series.uid}`,
        )
      })
      return reply.type(DICOM_JSON).send(results)
    }

    const instancesHandler = async (request: Req, reply: FastifyReply) => {
      const q = query(request, reply)
      if (!q) return reply
      const { study, series } = request.params
      const found = ctx.catalog().findInstances(q, study, series)
      const results = page(found, q, maxResults).map((instance) => {
        const r = instance.record
        return qidoResult(
          INSTANCE_TAGS,
          instance.attributes,
          q,
          () => JSON.parse(r.metadata) as DicomJson,
          `${ctx.base()}/studies/${r.study}/series/${r.series}/instances/${r.sop}`,
        )
      })
      return reply.type(DICOM_JSON).send(results)
    }

    app.get('/studies', dicomweb, studiesHandler)
    app.get('/series', dicomweb, seriesHandler)
    app.get('/instances', dicomweb, instancesHandler)
    app.get('/studies/:study/series', dicomweb, seriesHandler)
    app.get('/studies/:study/instances', dicomweb, instancesHandler)
    app.get('/studies/:study/series/:series/instances', dicomweb, instancesHandler)

    /** Instances a WADO-RS path names; replies 404 itself and returns undefined when none. */
    const select = (request: Req, reply: FastifyReply): CatalogInstance[] | undefined => {
      const { study, series, instance } = request.params
      const catalog = ctx.catalog()
      const s = study ? catalog.studies.get(study) : undefined
      let out: CatalogInstance[] = []
      if (s && series === undefined) out = [...s.series.values()].flatMap((x) => x.instances)
      else if (s && series !== undefined) {
        const ser = s.series.get(series)
        out = ser
          ? instance
            ? ser.instances.filter((i) => i.record.sop === instance)
            : ser.instances
          : []
      }
      if (out.length === 0) {
        fail(
          reply,
          'ISOGATE_E_DICOM_NOT_FOUND',
          `no ${instance ? 'instance' : series ? 'series' : 'study'} ` +
            `${instance ?? series ?? study} here`,
        )
        return undefined
      }
      return out
    }

    const metadataHandler = async (request: Req, reply: FastifyReply) => {
      const instances = select(request, reply)
      if (!instances) return reply
      const base = ctx.base()
      async function* body(): AsyncGenerator<string> {
        yield '['
        let first = true
        for (const { record: r } of instances!) {
          const instanceUrl = `${base}/studies/${r.study}/series/${r.series}/instances/${r.sop}`
          const prefix = `"BulkDataURI":"${instanceUrl}/`
          yield (first ? '' : ',') + r.metadata.replaceAll('"BulkDataURI":"', prefix)
          first = false
        }
        yield ']'
      }
      return reply.type(DICOM_JSON).send(Readable.from(body()))
    }
    app.get('/studies/:study/metadata', dicomweb, metadataHandler)
    app.get('/studies/:study/series/:series/metadata', dicomweb, metadataHandler)
    app.get(
      '/studies/:study/series/:series/instances/:instance/metadata',
      dicomweb,
      metadataHandler,
    )

    /** Checks files before streaming, so a changed file gives a clean 410 and not bad bytes. */
    const fresh = async (reply: FastifyReply, instances: CatalogInstance[]): Promise<boolean> => {
      try {
        for (const { record } of instances) {
          await ctx.reader.check(absolutePath(ctx.root, record), record.size, record.mtimeMs)
        }
        return true
      } catch (error) {
        if (!(error instanceof StaleFile)) throw error
        ctx.onStale()
        fail(reply, 'ISOGATE_E_DICOM_GONE', 'a file of this request changed after indexing')
        return false
      }
    }

    const stream = (reply: FastifyReply, contentType: string, body: AsyncIterable<Buffer>) =>
      reply.type(contentType).send(Readable.from(body, { objectMode: false }))

    app.get(
      '/studies/:study/series/:series/instances/:instance/frames/:frames',
      dicomweb,
      async (request: Req, reply) => {
        const instances = select(request, reply)
        if (!instances) return reply
        const { record } = instances[0]!
        const layout = record.frames
        if (!layout) {
          const why = record.framesProblem ?? 'the instance has no pixel data'
          return fail(reply, 'ISOGATE_E_DICOM_NOT_FOUND', `no frames to serve: ${why}`)
        }
        const numbers = parseFrameList(request.params.frames ?? '', record.numberOfFrames)
        if (typeof numbers === 'string') return fail(reply, 'ISOGATE_E_DICOM_BAD_REQUEST', numbers)
        const offer = negotiateFrames(request.headers.accept, record.transferSyntax)
        if (typeof offer === 'string') return fail(reply, 'ISOGATE_E_DICOM_NOT_ACCEPTABLE', offer)
        if (!(await fresh(reply, instances))) return reply
        const file = indexedFile(ctx.root, record)
        const swap = layout.kind === 'native' ? layout.swap : 0
        const ranges = (n: number): readonly Range[] =>
          layout.kind === 'native'
            ? [[layout.offset + (n - 1) * layout.frameLength, layout.frameLength]]
            : layout.frames[n - 1]!
        const partType = `${offer.partType}; transfer-syntax=${offer.transferSyntax}`
        const parts: Part[] = numbers.map((n) => ({
          contentType: partType,
          body: ctx.reader.read(file, ranges(n), swap),
        }))
        const boundary = newBoundary()
        const type = multipartType(boundary, offer.partType, offer.transferSyntax)
        return stream(reply, type, multipartBody(boundary, parts))
      },
    )

    app.get(
      '/studies/:study/series/:series/instances/:instance/bulk/*',
      dicomweb,
      async (request: Req, reply) => {
        const instances = select(request, reply)
        if (!instances) return reply
        const { record } = instances[0]!
        const key = (request.params['*'] ?? '').toUpperCase()
        const range = record.bulk[key]
        if (!range) return fail(reply, 'ISOGATE_E_DICOM_NOT_FOUND', `no bulk data ${key}`)
        if (!(await fresh(reply, instances))) return reply
        const document = key === '00420011' ? documentType(record.metadata) : undefined
        const ranges = [document ? trimmed(range, record.metadata) : range]
        const swap = key === '7FE00010' && record.frames?.kind === 'native' ? record.frames.swap : 0
        const file = indexedFile(ctx.root, record)
        const multipart = parseAccept(request.headers.accept).find(
          (r) => r.type === 'multipart/related',
        )
        const partType = document ?? 'application/octet-stream'
        if (!multipart) return stream(reply, partType, ctx.reader.read(file, ranges, swap))
        const boundary = newBoundary()
        const outer = multipart.params.type ?? 'application/octet-stream'
        return stream(
          reply,
          multipartType(boundary, outer),
          multipartBody(boundary, [
            { contentType: partType, body: ctx.reader.read(file, ranges, swap) },
          ]),
        )
      },
    )

    const retrieveHandler = async (request: Req, reply: FastifyReply) => {
      const instances = select(request, reply)
      if (!instances) return reply
      const accept = parseAccept(request.headers.accept)
      const ok = accept.some(
        (r) =>
          r.type === '*/*' ||
          (r.type === 'multipart/related' &&
            (r.params.type ?? 'application/dicom') === 'application/dicom' &&
            ['*', undefined].includes(r.params['transfer-syntax'])),
      )
      if (!ok) {
        return fail(
          reply,
          'ISOGATE_E_DICOM_NOT_ACCEPTABLE',
          'instances are sent only as multipart/related; type="application/dicom" in their ' +
            'stored transfer syntax (transfer-syntax=* or none)',
        )
      }
      if (!(await fresh(reply, instances))) return reply
      const boundary = newBoundary()
      const parts = instances.map(({ record }) => ({
        contentType: `application/dicom; transfer-syntax=${record.transferSyntax}`,
        body: ctx.reader.read(indexedFile(ctx.root, record), [[0, record.size]]),
      }))
      return stream(
        reply,
        multipartType(boundary, 'application/dicom'),
        multipartBody(boundary, parts),
      )
    }
    app.get('/studies/:study', dicomweb, retrieveHandler)
    app.get('/studies/:study/series/:series', dicomweb, retrieveHandler)
    app.get('/studies/:study/series/:series/instances/:instance', dicomweb, retrieveHandler)

    app.get(
      '/studies/:study/series/:series/instances/:instance/rendered',
      { config: { responseClass: 'rendered' as const } },
      async (request: Req, reply) => {
        const instances = select(request, reply)
        if (!instances) return reply
        const { record } = instances[0]!
        const sopClass = (JSON.parse(record.metadata) as DicomJson)['00080016']?.Value?.[0]
        const range = record.bulk['00420011']
        const type = documentType(record.metadata)
        if (sopClass !== ENCAPSULATED_PDF || !range || type !== 'application/pdf') {
          return fail(
            reply,
            'ISOGATE_E_DICOM_NOT_ACCEPTABLE',
            'this source renders only encapsulated PDF documents; images are served as frames',
          )
        }
        const wanted = parseAccept(request.headers.accept).some((r) =>
          ['*/*', 'application/*', 'application/pdf'].includes(r.type),
        )
        if (!wanted) {
          return fail(reply, 'ISOGATE_E_DICOM_NOT_ACCEPTABLE', 'this document is application/pdf')
        }
        if (!(await fresh(reply, instances))) return reply
        return stream(
          reply,
          'application/pdf',
          ctx.reader.read(indexedFile(ctx.root, record), [trimmed(range, record.metadata)]),
        )
      },
    )
  }
}

/** The file of an instance as it was indexed (the reader checks it is still that file). */
function indexedFile(root: string, record: CatalogInstance['record']): IndexedFile {
  return { path: absolutePath(root, record), size: record.size, mtimeMs: record.mtimeMs }
}

function pickStudyUid(attributes: DicomJson): DicomJson {
  return attributes['0020000D'] ? { '0020000D': attributes['0020000D'] } : {}
}

/** MIME Type of Encapsulated Document (0042,0012), when the instance has one. */
function documentType(metadata: string): string | undefined {
  const value = (JSON.parse(metadata) as DicomJson)['00420012']?.Value?.[0]
  return typeof value === 'string' && /^[a-z]+\/[a-z0-9.+-]+$/i.test(value) ? value : undefined
}

/** The document's bytes without the pad byte, using Encapsulated Document Length (0042,0015). */
function trimmed(range: Range, metadata: string): Range {
  const length = (JSON.parse(metadata) as DicomJson)['00420015']?.Value?.[0]
  return typeof length === 'number' && length > 0 && length <= range[1] ? [range[0], length] : range
}

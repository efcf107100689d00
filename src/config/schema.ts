/**
 * The one config schema: the file and the command-line flags both end up here, and everything
 * downstream reads the validated, frozen `IsogateConfig`. The user states intent (where the
 * viewer is, which sources, who may embed), never header values.
 */
import { z } from 'zod'

import { ISOLATION_MODES } from '../policy/plan.js'

const SOURCE_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/

const origin = z.string().refine(
  (value) => {
    try {
      const url = new URL(value)
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value
    } catch {
      return false
    }
  },
  { message: 'must be an origin such as https://portal.example.org (scheme, host, port; no path)' },
)

const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value)
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.hash
    } catch {
      return false
    }
  },
  { message: 'must be an http:// or https:// URL without credentials or #fragment' },
)

// `.` and `..` segments are refused: a browser would resolve them away, and the prefix the
// gateway matches would then never be the one requested.
const basePath = z.string().regex(/^\/(?:(?!\.\.?\/)[A-Za-z0-9._~-]+\/)*$/, {
  message: 'must start and end with / and hold plain path segments (no . or ..), e.g. /viewer/',
})

/** Fixes for known faults of one upstream kind, each on by default for that kind. */
const repairs = z
  .object({
    /** Split OHIF's `includefield=a%2Cb` into repeated parameters (Orthanc ignores the comma). */
    splitIncludefield: z.boolean().optional(),
    /** Drop a value-less ModalitiesInStudy from QIDO study replies (OHIF's list breaks on it). */
    emptyModalities: z.boolean().optional(),
  })
  .strict()

const embeddedSource = z
  .object({
    name: z.string().regex(SOURCE_NAME, { message: 'must be lower-case letters, digits, -' }),
    mode: z.literal('embedded'),
    /** A folder of DICOM files; absent means the bundled synthetic demo study. */
    folder: z.string().min(1).optional(),
    watch: z.boolean().default(true),
  })
  .strict()

const proxySource = z
  .object({
    name: z.string().regex(SOURCE_NAME, { message: 'must be lower-case letters, digits, -' }),
    mode: z.literal('proxy'),
    /** Upstream DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web */
    upstream: z.array(httpUrl).min(1),
    kind: z.enum(['orthanc', 'dcm4chee', 'generic']).default('generic'),
    repairs: repairs.default({}),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Period of the health check on each upstream (GET <root>/studies?limit=1); 5 s if unset. */
    healthCheckMs: z.number().int().min(200).max(600_000).optional(),
    /** Methods beyond GET/HEAD; none by default, so a proxied source is read-only. */
    writeMethods: z.array(z.enum(['POST', 'PUT', 'DELETE'])).default([]),
  })
  .strict()

const frontSource = z
  .object({
    name: z.string().regex(SOURCE_NAME, { message: 'must be lower-case letters, digits, -' }),
    mode: z.literal('front'),
    upstream: z.array(httpUrl).min(1),
    kind: z.enum(['orthanc', 'dcm4chee', 'generic']).default('generic'),
    repairs: repairs.default({}),
    allowOrigins: z.array(z.union([origin, z.literal('*')])).min(1),
    credentials: z.boolean().default(false),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Period of the health check on each upstream (GET <root>/studies?limit=1); 5 s if unset. */
    healthCheckMs: z.number().int().min(200).max(600_000).optional(),
    writeMethods: z.array(z.enum(['POST', 'PUT', 'DELETE'])).default([]),
  })
  .strict()
  .refine((s) => !(s.credentials && s.allowOrigins.includes('*')), {
    message: 'credentials cannot be combined with allowOrigins "*"; list exact origins',
    path: ['credentials'],
  })

const directSource = z
  .object({
    name: z.string().regex(SOURCE_NAME, { message: 'must be lower-case letters, digits, -' }),
    mode: z.literal('direct'),
    url: httpUrl,
  })
  .strict()

export const sourceSchema = z.discriminatedUnion('mode', [
  embeddedSource,
  proxySource,
  frontSource,
  directSource,
])

const tls = z.union(
  [
    z.literal('off'),
    z.literal('auto'),
    z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict(),
  ],
  { message: 'must be "off", "auto", or { "cert": "cert.pem", "key": "key.pem" } (both files)' },
)

export const configSchema = z
  .object({
    viewer: z
      .object({
        /** A folder holding an OHIF build; absent means the bundled @ohif/app. */
        root: z.string().min(1).optional(),
        basePath: basePath.default('/'),
      })
      .strict()
      .default({ basePath: '/' }),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z
          .number({ message: 'must be a whole number from 0 to 65535 (0 picks a free port)' })
          .int({ message: 'must be a whole number from 0 to 65535 (0 picks a free port)' })
          .min(0, { message: 'must be from 0 to 65535 (0 picks a free port)' })
          .max(65535, { message: 'must be from 0 to 65535 (0 picks a free port)' })
          .default(8080),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    /** The origin users type, when it differs from where Isogate listens (behind a proxy). */
    publicUrl: httpUrl.optional(),
    tls: tls.default('off'),
    isolation: z
      .enum(ISOLATION_MODES as [string, ...string[]], {
        message: `must be one of ${ISOLATION_MODES.join(', ')}`,
      })
      .default('require-corp'),
    embedding: z
      .object({
        /** Origins allowed to frame the viewer besides its own. */
        origins: z.array(origin).default([]),
        /** Send Document-Isolation-Policy (Chromium) so a framed viewer isolates on its own. */
        documentIsolationPolicy: z.boolean().default(false),
      })
      .strict()
      .default({ origins: [], documentIsolationPolicy: false }),
    sources: z.array(sourceSchema).default([]),
    defaultSource: z.string().optional(),
    /** Where certificates and the embedded index are kept. */
    stateDir: z.string().min(1).optional(),
    status: z
      .object({
        /** Serve /__isogate/ to non-loopback clients too. */
        allowRemote: z.boolean().default(false),
      })
      .strict()
      .default({ allowRemote: false }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>()
    config.sources.forEach((source, index) => {
      if (seen.has(source.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', index, 'name'],
          message: `duplicate source name "${source.name}"; each source needs its own name`,
        })
      }
      seen.add(source.name)
    })
    if (config.defaultSource !== undefined && !seen.has(config.defaultSource)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultSource'],
        message: `names no source; known: ${[...seen].join(', ') || '(none)'}`,
      })
    }
  })

export type IsogateConfigInput = z.input<typeof configSchema>
export type IsogateConfig = z.output<typeof configSchema>
export type SourceConfig = z.output<typeof sourceSchema>
export type ProxySourceConfig = z.output<typeof proxySource>
export type FrontSourceConfig = z.output<typeof frontSource>
export type EmbeddedSourceConfig = z.output<typeof embeddedSource>

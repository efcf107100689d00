/**
 * The schema of `/__isogate/status.json`: one zod schema, from which the TypeScript type, the
 * JSON Schema served at `/__isogate/status.schema.json` and the check in `isogate status` all
 * come. Fields are only ever added within one `schema` version; docs/status.md describes them.
 */
import { z } from 'zod'

/** Bumped only when a field changes meaning or goes away. */
export const STATUS_SCHEMA_VERSION = 'isogate-status/1'

const header = z.object({ name: z.string(), value: z.string() })

const report = z.object({
  id: z.number().int(),
  kind: z.enum(['coep', 'coop', 'csp']),
  detail: z
    .string()
    .describe('coep: corp | navigation | worker initialization; coop: type; csp: directive'),
  disposition: z.enum(['enforce', 'reporting']),
  documentUrl: z.string().describe('the page that reported, without its query'),
  blockedUrl: z.string().optional().describe('what was (or would be) blocked, without its query'),
  destination: z.string().optional(),
  userAgent: z.string().optional(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  count: z.number().int().describe('times this same violation was reported'),
  fix: z.string(),
})

const trust = z.object({
  platform: z.string(),
  covers: z.string(),
  steps: z.array(z.string()),
})

export const statusSchema = z
  .object({
    schema: z.literal(STATUS_SCHEMA_VERSION),
    isogate: z.object({ version: z.string() }),
    generatedAt: z.string(),
    startedAt: z.string(),
    uptimeSeconds: z.number().int(),
    viewer: z
      .object({
        url: z.string(),
        basePath: z.string(),
        version: z.string().optional(),
        bundled: z.boolean(),
      })
      .nullable()
      .describe('null when the gateway serves sources only'),
    origin: z.string().describe('scheme://host:port the gateway listens on'),
    publicUrl: z.string().optional(),
    isolation: z.object({
      mode: z.enum(['require-corp', 'credentialless', 'off', 'report-only']),
      isolated: z.boolean().describe('whether documents are served so browsers isolate them'),
      summary: z.string(),
      reportingEndpoint: z.string().optional(),
    }),
    plan: z.object({
      classes: z.record(z.string(), z.array(header)).describe('headers per response class'),
      hashedAssetCache: z.string(),
      assetCache: z.string(),
    }),
    sources: z.array(
      z.object({
        name: z.string(),
        mode: z.enum(['embedded', 'proxy', 'front', 'direct']),
        health: z.enum(['up', 'down', 'starting', 'unknown']),
        lastError: z.string().optional(),
        details: z.record(z.string(), z.unknown()).describe('facts the source exposes'),
      }),
    ),
    ready: z.boolean().describe('every source has started'),
    tls: z
      .object({
        certPath: z.string(),
        generated: z.boolean(),
        subject: z.string(),
        issuer: z.string(),
        selfSigned: z.boolean(),
        subjectAltNames: z.array(z.string()),
        validFrom: z.string(),
        validTo: z.string(),
        daysLeft: z.number().int(),
        spkiSha256: z.string(),
        fingerprintSha256: z.string(),
        trust: z.array(trust),
      })
      .nullable()
      .describe('null over plain http'),
    reports: z.object({
      capacity: z.number().int(),
      counters: z.object({
        received: z.number().int(),
        ignored: z.number().int(),
        malformed: z.number().int(),
        tooLarge: z.number().int(),
        rateLimited: z.number().int(),
        truncated: z.number().int(),
      }),
      items: z.array(report).describe('most recently seen first'),
    }),
    status: z.object({ allowRemote: z.boolean() }),
  })
  .strict()

export type IsogateStatus = z.infer<typeof statusSchema>

/** The JSON Schema served beside status.json, for tools that read it. */
export function statusJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(statusSchema, { io: 'output', unrepresentable: 'any' }),
    title: 'Isogate status (/__isogate/status.json)',
  }
}

/**
 * Reading the config: a JSON or YAML file, overridden by flags, validated once by the schema,
 * then frozen. Every invalid field is reported on its own line naming the field, what was wrong
 * and what is allowed, in one ISOGATE_E_CONFIG_INVALID.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { extname, isAbsolute, join, resolve } from 'node:path'

import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'

import { IsogateError } from '../errors.js'
import type { PlanIntent } from '../policy/plan.js'
import { configSchema, type IsogateConfig, type IsogateConfigInput } from './schema.js'
import { configJsonSchema } from './json-schema.js'

/** Reads and parses a config file without validating it. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new IsogateError('ISOGATE_E_CONFIG_FILE', `cannot read config file ${path}`, { cause })
  }

  let value: unknown
  try {
    const ext = extname(path).toLowerCase()
    value = ext === '.yaml' || ext === '.yml' ? parseYaml(text) : JSON.parse(text)
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause)
    throw new IsogateError(
      'ISOGATE_E_CONFIG_FILE',
      `config file ${path} does not parse: ${reason}`,
      {
        cause,
      },
    )
  }

  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new IsogateError('ISOGATE_E_CONFIG_FILE', `config file ${path} must hold an object`)
  }
  return resolvePaths(value as Record<string, unknown>, resolve(path, '..'))
}

/** Folder paths in a config file are relative to the file, not to the working directory. */
function resolvePaths(raw: Record<string, unknown>, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw }
  const fix = (p: unknown) => (typeof p === 'string' && !isAbsolute(p) ? join(base, p) : p)

  const viewer = raw.viewer
  if (viewer && typeof viewer === 'object' && 'root' in viewer) {
    out.viewer = { ...viewer, root: fix((viewer as { root: unknown }).root) }
  }
  if (Array.isArray(raw.sources)) {
    out.sources = raw.sources.map((s: unknown) =>
      s && typeof s === 'object' && 'folder' in s
        ? { ...s, folder: fix((s as { folder: unknown }).folder) }
        : s,
    )
  }
  const tls = raw.tls
  if (tls && typeof tls === 'object' && 'cert' in tls && 'key' in tls) {
    const pair = tls as { cert: unknown; key: unknown }
    out.tls = { cert: fix(pair.cert), key: fix(pair.key) }
  }
  if (typeof raw.stateDir === 'string') out.stateDir = fix(raw.stateDir)
  return out
}

/** One line per problem: `field: what was wrong` (and, for a misspelt key, the known ones). */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(config)'
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(issue.path)
      const list = known.length > 0 ? `; known here: ${known.join(', ')}` : ''
      return `${field}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}${list}`
    }
    return `${field}: ${issue.message}`
  })
}

/** The keys an object of the config accepts at a path (from its JSON Schema; [] if unsure). */
function knownKeys(path: readonly PropertyKey[]): string[] {
  // Built only when a misspelt key is reported.
  let node = configJsonSchema() as JsonSchemaNode | undefined
  for (const step of path) {
    if (node === undefined) return []
    if (typeof step === 'number') node = node.items
    else node = node.properties?.[String(step)]
  }
  // A source is one of several shapes, told apart by `mode`: no single list applies.
  return node?.properties ? Object.keys(node.properties) : []
}

interface JsonSchemaNode {
  readonly properties?: Record<string, JsonSchemaNode>
  readonly items?: JsonSchemaNode
}


/** Validates raw input and freezes the result; throws ISOGATE_E_CONFIG_INVALID. */
export function validateConfig(raw: unknown): IsogateConfig {
  const result = configSchema.safeParse(raw)
  if (!result.success) {
    const lines = formatIssues(result.error.issues)
    throw new IsogateError('ISOGATE_E_CONFIG_INVALID', lines.join('\n'), {
      details: { issues: lines },
    })
  }
  return deepFreeze(result.data)
}

/** Merges flags over the file: a flag that was given wins, field by field. */
export function mergeConfig(
  file: Record<string, unknown>,
  flags: IsogateConfigInput,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...file }
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue
    const current = merged[key]
    const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
    if (key === 'sources' && Array.isArray(value)) {
      // Flag sources replace file sources of the same name and add the rest.
      const fileSources = Array.isArray(current) ? (current as Array<{ name?: unknown }>) : []
      const names = new Set(value.map((s) => s.name))
      merged.sources = [...fileSources.filter((s) => !names.has(s.name as string)), ...value]
    } else if (isObject(value) && isObject(current)) {
      merged[key] = { ...(current as object), ...(value as object) }
    } else {
      merged[key] = value
    }
  }
  return merged
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/** The state folder: certificates, the embedded index, the generated demo. */
export function stateDirOf(config: IsogateConfig): string {
  if (config.stateDir) return resolve(config.stateDir)
  if (process.env.ISOGATE_STATE_DIR) return resolve(process.env.ISOGATE_STATE_DIR)
  const xdg = process.env.XDG_STATE_HOME
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state'), 'isogate')
}

/** The policy's view of a config: what the header plan is computed from. */
export function intentOf(config: IsogateConfig, reportingEndpoint?: string): PlanIntent {
  return {
    isolation: config.isolation as PlanIntent['isolation'],
    embedders: config.embedding.origins,
    documentIsolationPolicy: config.embedding.documentIsolationPolicy,
    reportingEndpoint,
    dicomwebCrossOrigin: config.sources.some((s) => s.mode === 'front'),
  }
}

/** Where a source is mounted on the viewer's origin, e.g. `/dicomweb/pacs`. */
export function sourceMountPath(basePath: string, name: string): string {
  return `${basePath}dicomweb/${name}`
}

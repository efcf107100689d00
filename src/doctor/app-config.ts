/**
 * Reading a viewer's `app-config.js` without running it: the script is parsed with acorn and
 * the object literal assigned to `window.config` is read as data. Functions and computed values
 * are kept as markers, so a remote script never executes on the doctor's machine.
 */
import { parse } from 'acorn'

/** Marker for values that are code, not data (a `transform(url)` function, a call). */
export const CODE = '[code]'

export interface AppConfigRead {
  /** The literal `window.config`, or null when none was found. */
  readonly config: Record<string, unknown> | null
  /** Why it could not be read, when it could not. */
  readonly problem?: string
}

interface Node {
  type: string
  [key: string]: unknown
}

/**
 * Reads `window.config = {...}` (also `window.config = config` after `const config = {...}`),
 * following the assignments in source order: a later `window.config = Object.assign(base,
 * overrides)` (as Isogate and other servers append to a build's file) merges what it can read.
 */
export function readAppConfig(source: string): AppConfigRead {
  let program: Node
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script' }) as unknown as Node
  } catch (error) {
    return { config: null, problem: `app-config.js does not parse: ${(error as Error).message}` }
  }
  // Values of variables as declared, and of window.config as assigned, in source order.
  const declared = new Map<string, Value>()
  let current: Value = undefined
  let assignedFunction = false
  walk(program, (node) => {
    if (node.type === 'VariableDeclarator') {
      const id = node.id as Node
      if (id.type === 'Identifier' && node.init) {
        declared.set(id.name as string, valueOf(node.init as Node, declared, current))
      }
    }
    if (node.type === 'AssignmentExpression' && isWindowConfig(node.left as Node)) {
      const value = valueOf(node.right as Node, declared, current)
      if (value === FUNCTION) assignedFunction = true
      // A function assigned in one branch does not undo an object assigned in another.
      if (value !== undefined && (value !== FUNCTION || !isObject(current))) current = value
    }
  })
  if (isObject(current)) return { config: current }
  if (current === FUNCTION || assignedFunction) {
    return {
      config: null,
      problem: 'window.config is a function; its result is only known at run time',
    }
  }
  return { config: null, problem: 'no `window.config = {...}` object literal found' }
}

/** What an expression evaluates to, as far as reading (never running) it can tell. */
type Value = Record<string, unknown> | typeof FUNCTION | undefined

const FUNCTION = Symbol('function')

function isObject(value: Value): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function valueOf(node: Node, declared: Map<string, Value>, current: Value): Value {
  switch (node.type) {
    case 'ObjectExpression':
      return literal(node) as Record<string, unknown>
    case 'ArrowFunctionExpression':
    case 'FunctionExpression':
      return FUNCTION
    case 'Identifier':
      return declared.get(node.name as string)
    case 'MemberExpression':
      return isWindowConfig(node) ? current : undefined
    case 'LogicalExpression': {
      const left = valueOf(node.left as Node, declared, current)
      return left ?? valueOf(node.right as Node, declared, current)
    }
    case 'CallExpression': {
      // Object.assign(target, ...sources): a shallow merge, in order.
      const callee = node.callee as Node
      const object = callee.object as Node | undefined
      const property = callee.property as Node | undefined
      const isAssign =
        callee.type === 'MemberExpression' &&
        object?.name === 'Object' &&
        property?.name === 'assign'
      if (!isAssign) return undefined
      const parts = (node.arguments as Node[]).map((a) => valueOf(a, declared, current))
      if (!parts.some(isObject)) return undefined
      return Object.assign({}, ...parts.filter(isObject)) as Record<string, unknown>
    }
    default:
      return undefined
  }
}

function isWindowConfig(node: Node): boolean {
  if (node.type !== 'MemberExpression' || node.computed) return false
  const object = node.object as Node
  const property = node.property as Node
  return (
    property.type === 'Identifier' &&
    property.name === 'config' &&
    object.type === 'Identifier' &&
    (object.name === 'window' || object.name === 'self' || object.name === 'globalThis')
  )
}

function walk(node: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit)
    return
  }
  if (!node || typeof node !== 'object' || typeof (node as Node).type !== 'string') return
  visit(node as Node)
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'type' && value && typeof value === 'object') walk(value, visit)
  }
}

/** The data value of a literal expression; code becomes the CODE marker. */
function literal(node: Node): unknown {
  switch (node.type) {
    case 'Literal':
      return node.value
    case 'TemplateLiteral': {
      const quasis = node.quasis as Node[]
      if ((node.expressions as Node[]).length > 0) return CODE
      return quasis.map((q) => (q.value as { cooked: string }).cooked).join('')
    }
    case 'UnaryExpression': {
      const value = literal(node.argument as Node)
      if (node.operator === '-' && typeof value === 'number') return -value
      if (node.operator === '!' && value !== CODE) return !value
      return CODE
    }
    case 'Identifier':
      return node.name === 'undefined' ? undefined : CODE
    case 'ArrayExpression':
      return (node.elements as Array<Node | null>).map((e) => (e ? literal(e) : null))
    case 'ObjectExpression': {
      const out: Record<string, unknown> = {}
      for (const property of node.properties as Node[]) {
        if (property.type !== 'Property' || property.computed) continue
        const key = property.key as Node
        const name = key.type === 'Identifier' ? (key.name as string) : String(key.value)
        out[name] = property.method ? CODE : literal(property.value as Node)
      }
      return out
    }
    default:
      return CODE
  }
}

/** One OHIF DICOMweb data source, as configured. */
export interface ConfiguredSource {
  readonly sourceName: string
  readonly namespace: string
  readonly qidoRoot: string | undefined
  readonly wadoRoot: string | undefined
  readonly configuration: Record<string, unknown>
}

/** The DICOMweb data sources of a config (other kinds, such as dicomlocal, are skipped). */
export function dicomwebSources(config: Record<string, unknown>): ConfiguredSource[] {
  const list = Array.isArray(config.dataSources) ? config.dataSources : []
  const out: ConfiguredSource[] = []
  for (const entry of list) {
    if (!entry || typeof entry !== 'object') continue
    const e = entry as Record<string, unknown>
    const namespace = typeof e.namespace === 'string' ? e.namespace : ''
    if (!namespace.endsWith('dataSourcesModule.dicomweb')) continue
    const configuration = (e.configuration ?? {}) as Record<string, unknown>
    out.push({
      sourceName: String(e.sourceName ?? configuration.name ?? 'dicomweb'),
      namespace,
      qidoRoot: typeof configuration.qidoRoot === 'string' ? configuration.qidoRoot : undefined,
      wadoRoot: typeof configuration.wadoRoot === 'string' ? configuration.wadoRoot : undefined,
      configuration,
    })
  }
  return out
}

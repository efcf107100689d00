/**
 * Bad configuration through the real command: `node bin/isogate.js serve --config FILE` over a
 * list of broken files (malformed JSON and YAML, unknown keys, a wrong type in each field, bad
 * URLs, ports, isolation modes, sources). Each must end with exit code 2 before anything
 * listens, and print one line per invalid field that names the field and says what is allowed,
 * then the error code with its hint; never a stack trace.
 *
 * `npx tsc -p tsconfig.build.json` first: the command runs over dist/.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

const ROOT = new URL('../../', import.meta.url).pathname
const BIN = join(ROOT, 'bin', 'isogate.js')
/** Longest a refusal may take; a config that is accepted would start serving instead. */
const DEADLINE_MS = 20_000

interface Case {
  readonly name: string
  /** The file's text, or an object written as JSON (with a free port and a private state). */
  readonly file: string | Record<string, unknown>
  readonly ext?: 'json' | 'yaml'
  /** Per invalid field: what its line must name, and what it must say is allowed. */
  readonly lines: ReadonlyArray<readonly [field: string | RegExp, fix: RegExp]>
  readonly code: 'ISOGATE_E_CONFIG_INVALID' | 'ISOGATE_E_CONFIG_FILE'
}

const UP = 'http://127.0.0.1:8042/dicom-web'
const proxy = (extra: Record<string, unknown>) => ({
  sources: [{ name: 'pacs', mode: 'proxy', upstream: [UP], ...extra }],
})
const front = (extra: Record<string, unknown>) => ({
  sources: [{ name: 'pacs', mode: 'front', upstream: [UP], allowOrigins: ['*'], ...extra }],
})
const INVALID = 'ISOGATE_E_CONFIG_INVALID' as const
const FILE = 'ISOGATE_E_CONFIG_FILE' as const
const TYPE = (type: string) => new RegExp(`expected ${type}`)

const CASES: readonly Case[] = [
  // The file itself.
  { name: 'malformed JSON', file: '{ "isolation": ', lines: [[/bad\.json/, /parse/]], code: FILE },
  {
    name: 'trailing comma',
    file: '{ "isolation": "off", }',
    lines: [[/bad\.json/, /parse.*position/]],
    code: FILE,
  },
  {
    name: 'malformed YAML',
    file: 'isolation: [\n',
    ext: 'yaml',
    lines: [[/bad\.yaml/, /parse.*line/]],
    code: FILE,
  },
  { name: 'not an object', file: '[]', lines: [[/bad\.json/, /must hold an object/]], code: FILE },
  { name: 'empty file', file: '', lines: [[/bad\.json/, /parse/]], code: FILE },
  // Unknown keys, at the top and nested.
  {
    name: 'unknown key',
    file: { isolaton: 'off' },
    lines: [[/isolaton/, /unknown key.*known here: .*isolation/]],
    code: INVALID,
  },
  {
    name: 'unknown nested key',
    file: { listen: { port: 0, prot: 1 } },
    lines: [[/listen.*prot/, /unknown key.*known here: host, port/]],
    code: INVALID,
  },
  {
    name: 'unknown source key',
    file: { sources: [{ name: 'a', mode: 'embedded', foldr: 'x' }] },
    lines: [[/sources\.0.*foldr/, /unknown key/]],
    code: INVALID,
  },
  // Bad ports.
  {
    name: 'port too big',
    file: { listen: { port: 70000 } },
    lines: [['listen.port', /65535/]],
    code: INVALID,
  },
  {
    name: 'port negative',
    file: { listen: { port: -1 } },
    lines: [['listen.port', /from 0 to 65535/]],
    code: INVALID,
  },
  {
    name: 'port fraction',
    file: { listen: { port: 80.5 } },
    lines: [['listen.port', /whole number/]],
    code: INVALID,
  },
  {
    name: 'port as a string',
    file: { listen: { port: '8080' } },
    lines: [['listen.port', /whole number from 0 to 65535/]],
    code: INVALID,
  },
  // Bad isolation.
  {
    name: 'isolation unknown',
    file: { isolation: 'strict' },
    lines: [['isolation', /require-corp, credentialless, off, report-only/]],
    code: INVALID,
  },
  {
    name: 'isolation in capitals',
    file: { isolation: 'REQUIRE-CORP' },
    lines: [['isolation', /require-corp/]],
    code: INVALID,
  },
  {
    name: 'isolation a number',
    file: { isolation: 1 },
    lines: [['isolation', /require-corp/]],
    code: INVALID,
  },
  // A wrong type in each other field.
  {
    name: 'host a number',
    file: { listen: { host: 5 } },
    lines: [['listen.host', TYPE('string')]],
    code: INVALID,
  },
  {
    name: 'host empty',
    file: { listen: { host: '' } },
    lines: [['listen.host', />=1 char/]],
    code: INVALID,
  },
  { name: 'tls a word', file: { tls: 'on' }, lines: [['tls', /off|auto|cert/]], code: INVALID },
  {
    name: 'tls without a key',
    file: { tls: { cert: 'c.pem' } },
    lines: [['tls', /key|off|auto/]],
    code: INVALID,
  },
  {
    name: 'base path without slashes',
    file: { viewer: { basePath: 'viewer' } },
    lines: [['viewer.basePath', /start and end with \//]],
    code: INVALID,
  },
  {
    name: 'viewer root a number',
    file: { viewer: { root: 3 } },
    lines: [['viewer.root', TYPE('string')]],
    code: INVALID,
  },
  {
    name: 'origins a string',
    file: { embedding: { origins: 'https://a.example' } },
    lines: [['embedding.origins', TYPE('array')]],
    code: INVALID,
  },
  {
    name: 'DIP a string',
    file: { embedding: { documentIsolationPolicy: 'yes' } },
    lines: [['embedding.documentIsolationPolicy', TYPE('boolean')]],
    code: INVALID,
  },
  {
    name: 'sources an object',
    file: { sources: {} },
    lines: [['sources', TYPE('array')]],
    code: INVALID,
  },
  {
    name: 'watch a string',
    file: { sources: [{ name: 'a', mode: 'embedded', watch: 'no' }] },
    lines: [['sources.0.watch', TYPE('boolean')]],
    code: INVALID,
  },
  {
    name: 'allowRemote a string',
    file: { status: { allowRemote: 'yes' } },
    lines: [['status.allowRemote', TYPE('boolean')]],
    code: INVALID,
  },
  {
    name: 'stateDir a number',
    file: { stateDir: 3 },
    lines: [['stateDir', TYPE('string')]],
    code: INVALID,
  },
  // Bad URLs and origins.
  {
    name: 'public URL not a URL',
    file: { publicUrl: 'not a url' },
    lines: [['publicUrl', /http/]],
    code: INVALID,
  },
  {
    name: 'public URL with a fragment',
    file: { publicUrl: 'https://viewer.example/#x' },
    lines: [['publicUrl', /fragment/]],
    code: INVALID,
  },
  {
    name: 'upstream ftp',
    file: proxy({ upstream: ['ftp://127.0.0.1/dicom-web'] }),
    lines: [['sources.0.upstream.0', /http:\/\/ or https:\/\//]],
    code: INVALID,
  },
  {
    name: 'upstream with credentials',
    file: proxy({ upstream: ['http://user:secret@127.0.0.1:8042/dicom-web'] }),
    lines: [['sources.0.upstream.0', /without credentials/]],
    code: INVALID,
  },
  {
    name: 'upstream empty',
    file: proxy({ upstream: [] }),
    lines: [['sources.0.upstream', />=1 item/]],
    code: INVALID,
  },
  {
    name: 'direct URL not a URL',
    file: { sources: [{ name: 'r', mode: 'direct', url: 'dicom-web' }] },
    lines: [['sources.0.url', /http/]],
    code: INVALID,
  },
  {
    name: 'embedder origin with a path',
    file: { embedding: { origins: ['https://portal.example/path'] } },
    lines: [['embedding.origins.0', /origin such as/]],
    code: INVALID,
  },
  // Sources.
  {
    name: 'source mode unknown',
    file: { sources: [{ name: 'a', mode: 'pull' }] },
    lines: [['sources.0.mode', /'embedded' \| 'proxy' \| 'front' \| 'direct'/]],
    code: INVALID,
  },
  {
    name: 'source name with capitals',
    file: { sources: [{ name: 'My PACS', mode: 'embedded' }] },
    lines: [['sources.0.name', /lower-case/]],
    code: INVALID,
  },
  {
    name: 'kind unknown',
    file: proxy({ kind: 'pacs' }),
    lines: [['sources.0.kind', /orthanc/]],
    code: INVALID,
  },
  {
    name: 'timeout too short',
    file: proxy({ timeoutMs: 5 }),
    lines: [['sources.0.timeoutMs', />=100/]],
    code: INVALID,
  },
  {
    name: 'write method unknown',
    file: proxy({ writeMethods: ['PATCH'] }),
    lines: [['sources.0.writeMethods.0', /POST/]],
    code: INVALID,
  },
  {
    name: 'credentials with any origin',
    file: front({ credentials: true }),
    lines: [['sources.0.credentials', /list exact origins/]],
    code: INVALID,
  },
  {
    name: 'duplicate source names',
    file: {
      sources: [
        { name: 'a', mode: 'embedded' },
        { name: 'a', mode: 'embedded' },
      ],
    },
    lines: [['sources.1.name', /each source needs its own name/]],
    code: INVALID,
  },
  {
    name: 'default source unknown',
    file: { defaultSource: 'x' },
    lines: [['defaultSource', /known/]],
    code: INVALID,
  },
  // Several invalid fields at once: one line each.
  {
    name: 'three invalid fields',
    file: { isolation: 'strict', listen: { port: 70000 }, publicUrl: 'nope' },
    lines: [
      ['isolation', /require-corp/],
      ['listen.port', /65535/],
      ['publicUrl', /http/],
    ],
    code: INVALID,
  },
]

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function serve(configPath: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    // An accepted config would listen and stay up: stop it, and let the assertions say so.
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), DEADLINE_MS)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('bad configuration through `isogate serve --config`', { timeout: 240_000 }, () => {
  let work: string
  before(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
      throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` first')
    }
    work = mkdtempSync(join(tmpdir(), 'isogate-config-errors-'))
  })
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('exits 2 with one line per invalid field naming it and what is allowed', async (t) => {
    const failures: string[] = []
    let next = 0
    const check = async (c: Case, index: number) => {
      const dir = join(work, `case-${index}`)
      mkdirSync(dir)
      const path = join(dir, `bad.${c.ext ?? 'json'}`)
      // A free port and a private state folder, so that a config accepted by mistake listens
      // only where the test says and writes nothing outside it.
      const text =
        typeof c.file === 'string'
          ? c.file
          : JSON.stringify({
              ...c.file,
              listen: { port: 0, ...(c.file.listen as object) },
              stateDir: 'stateDir' in c.file ? c.file.stateDir : join(dir, 'state'),
            })
      writeFileSync(path, text)
      const run = await serve(path)
      const lines = run.stderr.split('\n').filter((l) => l !== '')
      const problems: string[] = []
      if (run.code !== 2) problems.push(`exit ${run.code}`)
      if (run.stdout !== '') problems.push(`printed ${JSON.stringify(run.stdout.slice(0, 120))}`)
      if (/^\s+at /m.test(run.stderr)) problems.push('a stack trace')
      const fieldLines = lines.filter((l) => l.startsWith('isogate: '))
      if (fieldLines.length !== c.lines.length) {
        problems.push(`${fieldLines.length} field lines, expected ${c.lines.length}`)
      }
      for (const [field, fix] of c.lines) {
        const line = fieldLines.find((l) =>
          typeof field === 'string' ? l.startsWith(`isogate: ${field}: `) : field.test(l),
        )
        if (!line) problems.push(`no line names ${String(field)}`)
        else if (!fix.test(line)) problems.push(`${JSON.stringify(line)} does not say ${fix}`)
      }
      if (!lines.some((l) => l.trim().startsWith(`${c.code}: `))) problems.push(`no ${c.code}`)
      if (problems.length > 0) {
        failures.push(`${c.name}: ${problems.join('; ')}\n    ${lines.join('\n    ')}`)
      }
    }
    // Four at a time: each run is a fresh Node process loading the CLI.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < CASES.length) {
          const index = next++
          await check(CASES[index] as Case, index)
        }
      }),
    )
    t.diagnostic(
      `bad configs: ${CASES.length}, refused as required: ${CASES.length - failures.length}`,
    )
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`)
  })
})

/**
 * The doctor's human output: findings grouped by part, one line each with its fix, colour only
 * on a terminal. `--json` prints the DoctorReport itself (docs/doctor-json.md).
 */
import type { Finding, Part } from '../policy/rules/index.js'
import type { DoctorReport } from './diagnose.js'

const PARTS: ReadonlyArray<readonly [Part, string]> = [
  ['context', 'Context'],
  ['isolation', 'Isolation'],
  ['sources', 'Data sources'],
  ['embedding', 'Embedding'],
]

const MARK = { error: '✗', warning: '!', info: '·' } as const

export interface TextOptions {
  readonly colour: boolean
  /** Include informational findings. */
  readonly verbose?: boolean
}

/** Renders a report as text. */
export function renderText(report: DoctorReport, options: TextOptions): string {
  const paint = (code: number, text: string) =>
    options.colour ? `\x1b[${code}m${text}\x1b[0m` : text
  const tone = (f: Finding) => (f.severity === 'error' ? 31 : f.severity === 'warning' ? 33 : 2)
  const lines: string[] = []
  const v = report.verdict
  // A shim isolates only the loads it controls: the verdict must not read like header isolation.
  const viaShim = v.isolatedBy === 'service-worker'
  lines.push(`isogate doctor ${report.finalUrl}`)
  // No source probed is not the same as every source reached.
  const reach =
    report.sources.length === 0
      ? paint(33, 'none checked')
      : v.sourcesReachable
        ? paint(32, 'yes')
        : paint(31, 'no')
  const isolated = v.isolated ? (viaShim ? 'yes, through a service worker' : 'yes') : null
  lines.push(
    `  isolated: ${isolated ? paint(32, isolated) : paint(31, 'no')}` +
      `   sources reachable: ${reach}` +
      `   secure context: ${report.document.secureContext ? 'yes' : 'no'}` +
      (report.viewer.ohif ? `   OHIF ${report.viewer.version ?? '?'}` : ''),
  )
  for (const [part, title] of PARTS) {
    const shown = report.findings.filter(
      (f) => f.part === part && (options.verbose || f.severity !== 'info' || keepInfo(f)),
    )
    if (shown.length === 0) continue
    lines.push('', paint(1, title))
    for (const f of shown) {
      const where = f.evidence.header
        ? `${f.evidence.header}: ${JSON.stringify(f.evidence.value)} at ${f.evidence.url}`
        : f.evidence.url
      lines.push(`  ${paint(tone(f), `${MARK[f.severity]} ${f.code}`)} ${f.message} [${where}]`)
      lines.push(`      fix: ${f.fix}`)
    }
  }
  const fix = report.server.fix
  if (fix && (fix.files.length > 0 || fix.notes.length > 0)) {
    lines.push('', paint(1, `Fix for ${fix.target ?? 'this server'}`))
    for (const file of fix.files) {
      lines.push(`  --- ${file.path}`)
      for (const line of file.content.split('\n')) lines.push(`  ${line}`)
    }
    for (const note of fix.notes) lines.push(`  note: ${note}`)
  }
  lines.push(
    '',
    v.exitCode === 0
      ? paint(
          32,
          viaShim
            ? 'OK: the viewer will be isolated on loads the service worker controls (not the ' +
                'first visit; see SW_NOT_CONTROLLING) and reach its sources'
            : report.sources.length === 0
              ? 'OK: the viewer will be isolated (no data source was found to check)'
              : 'OK: the viewer will be isolated and reach its sources',
        )
      : paint(31, 'NOT OK: see the findings marked ✗'),
  )
  return `${lines.join('\n')}\n`
}

/** Notes worth showing without --verbose. */
function keepInfo(f: Finding): boolean {
  return [
    'VIEWER_DETECTED',
    'SAB_CONFIG',
    'REDIRECTED',
    'SERVER_DETECTED',
    'DIP_ISOLATED',
    'PREFLIGHT_REQUIRED',
  ].includes(f.code)
}

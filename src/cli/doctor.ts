/**
 * The `isogate doctor URL` command. Exit codes: 0 the viewer will be isolated and reach its
 * sources, 1 it will not (the findings say why), 2 the doctor could not run (bad URL,
 * unreachable host, no browser for --browser).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import { Option, type Command } from 'commander'

import { isIsogateError } from '../errors.js'
import type { Browser } from '../policy/rules/index.js'
import { diagnose } from '../doctor/diagnose.js'
import { renderText } from '../doctor/report.js'
import { colourWanted } from './colour.js'

interface DoctorFlags {
  embeddedIn?: string[]
  allowUnisolated?: boolean
  json?: boolean
  browser?: boolean
  target?: Browser
  insecure?: boolean
  timeout?: string
  verbose?: boolean
  screenshot?: string
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'say whether a deployed viewer will be cross-origin isolated and reach its sources',
    )
    .argument('<url>', 'the viewer URL, e.g. https://viewer.example.org/')
    .option(
      '--embedded-in <parent>',
      'a page that frames the viewer (repeat, outermost first)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--allow-unisolated', 'the viewer need not be isolated: report it as a warning')
    .option('--json', 'print the report as JSON (schema: docs/doctor-json.md)')
    .option('--browser', 'also load the URL in Chromium and compare with the prediction')
    .addOption(
      new Option('--target <browser>', 'browser to predict for')
        .choices(['chromium', 'firefox', 'safari'])
        .default('chromium'),
    )
    .option('--insecure', 'accept self-signed certificates')
    .option('--timeout <ms>', 'per-request timeout in milliseconds', '10000')
    .option('--screenshot <file>', 'with --browser: where to write the screenshot')
    .option('-v, --verbose', 'show informational findings too')
    .addHelpText(
      'after',
      `
Exit codes: 0 isolated and sources reachable, 1 not, 2 the doctor could not run.

Examples:
  isogate doctor https://viewer.example.org/
  isogate doctor http://localhost:3000/ --embedded-in http://localhost:4200/
  isogate doctor https://viewer.example.org/ --allow-unisolated --json`,
    )
    .action(async (url: string, flags: DoctorFlags) => {
      process.exitCode = await runDoctor(url, flags)
    })
}

async function runDoctor(url: string, flags: DoctorFlags): Promise<number> {
  try {
    const report = await diagnose({
      url,
      embeddedIn: flags.embeddedIn ?? [],
      allowUnisolated: flags.allowUnisolated === true,
      browser: flags.target ?? 'chromium',
      insecure: flags.insecure === true,
      timeoutMs: Number.parseInt(flags.timeout ?? '10000', 10) || 10_000,
    })
    let witness: unknown = null
    let disagreements = 0
    if (flags.browser) {
      const { witness: runWitness } = await import('../doctor/browser.js')
      const seen = await runWitness(report, {
        insecure: flags.insecure === true,
        screenshot: flags.screenshot ?? defaultScreenshot(),
        chromiumArgs: (process.env.ISOGATE_CHROMIUM_ARGS ?? '').split('\n').filter(Boolean),
      })
      witness = seen
      disagreements = seen.disagreements.length
    }
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify(witness ? { ...report, browser: witness } : report, null, 2)}\n`,
      )
    } else {
      process.stdout.write(
        renderText(report, {
          colour: colourWanted(process.stdout),
          verbose: flags.verbose === true,
        }),
      )
      if (witness) {
        const { renderWitness } = await import('../doctor/browser.js')
        process.stdout.write(renderWitness(witness as Parameters<typeof renderWitness>[0]))
      }
    }
    return report.verdict.exitCode === 0 && disagreements === 0 ? 0 : 1
  } catch (error) {
    if (!isIsogateError(error)) throw error
    process.stderr.write(`isogate: ${error.message}\n  ${error.code}: ${error.hint}\n`)
    return 2
  }
}

function defaultScreenshot(): string {
  const dir = join(process.cwd(), 'isogate-doctor')
  mkdirSync(dir, { recursive: true })
  return join(dir, 'screenshot.png')
}

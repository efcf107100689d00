/**
 * What a bench run leaves behind: a markdown table (stdout and docs), `latest.json` with the
 * machine it ran on, and an SVG bar chart of the ratios, written as plain SVG text.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { dirname } from 'node:path'

import type { Figure } from './figures.js'

export interface Machine {
  readonly cores: number
  readonly cpu: string
  readonly memoryBytes: number
  readonly freeMemoryBytes: number
  /** 1, 5 and 15 minute load averages when the final figures were taken. */
  readonly loadAverage: readonly number[]
  readonly versions: Record<string, string>
}

export interface BenchResult {
  readonly startedAt: string
  readonly durationMs: number
  readonly options: Record<string, unknown>
  readonly machine: Machine
  readonly figures: readonly Figure[]
}

/**
 * A tool's version from its output. nginx prints `-v` on stderr and wrk exits non-zero after
 * printing its banner on stdout, so both streams are read whatever the exit code.
 */
function version(command: string, args: string[], pattern: RegExp): string {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 })
  const text = `${run.stdout ?? ''}\n${run.stderr ?? ''}`
  return pattern.exec(text)?.[1] ?? 'unknown'
}

export function describeMachine(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
    versions: {
      node: process.version,
      nginx: version('nginx', ['-v'], /nginx\/(\S+)/),
      orthanc: version('/usr/sbin/Orthanc', ['--version'], /Orthanc (\S+)/),
      wrk: version('/usr/bin/wrk', ['-v'], /wrk (?:debian\/)?(\S+)/),
      chromium: version('/usr/bin/chromium', ['--version'], /Chromium (\S+)/),
      isogate: '0.1.0',
    },
  }
}

const fmt = (n: number | null, digits = 3): string =>
  n === null ? '—' : Math.abs(n) >= 1000 ? n.toFixed(0) : Number(n.toPrecision(digits)).toString()

function spreadText(f: Figure): string {
  const side = (r: readonly [number, number] | null) => (r ? `${fmt(r[0])}–${fmt(r[1])}` : '')
  const parts = [side(f.spread.isogate)]
  if (f.spread.reference) parts.push(side(f.spread.reference))
  return parts.filter(Boolean).join(' / ') || '—'
}

/** The results as a markdown table. */
export function markdownTable(figures: readonly Figure[]): string {
  const rows = [
    '| figure | Isogate | reference | unit | ratio | target | met | runs | spread Isogate / ref |',
    '|---|---|---|---|---|---|---|---|---|',
  ]
  for (const f of figures) {
    const met = f.met === null ? 'n/a' : f.met ? 'yes' : '**no**'
    const reference = f.reference === null ? '—' : `${fmt(f.reference)} (${f.referenceName})`
    const ratio =
      f.ratio === null ? '—' : `${fmt(f.ratio)}×${f.reference === null ? ' of target' : ''}`
    rows.push(
      `| ${f.name} | ${fmt(f.isogate)} | ${reference} | ${f.unit} | ${ratio} | ` +
        `${f.target.text} | ` +
        `${met} | ${f.runs} | ${spreadText(f)} |`,
    )
  }
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.name}: ${f.note}`)
  return [...rows, ...(notes.length ? ['', ...notes] : [])].join('\n')
}

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/**
 * A horizontal bar per figure on a log scale centred on 1× (Isogate = reference), with the
 * target marked; green when met, red when not, grey when not measured.
 */
export function ratioChart(figures: readonly Figure[], title: string): string {
  const width = 900
  const labelWidth = 330
  const rowHeight = 26
  const top = 50
  const plotWidth = width - labelWidth - 90
  const height = top + figures.length * rowHeight + 40
  const min = 0.05
  const max = 20
  const x = (v: number) =>
    labelWidth +
    (plotWidth * (Math.log10(Math.min(max, Math.max(min, v))) - Math.log10(min))) /
      (Math.log10(max) - Math.log10(min))
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="40" fill="#555">ratio Isogate ÷ reference (log scale); ` +
      `| marks the target; green met, red missed</text>`,
  ]
  for (const tick of [0.1, 0.25, 0.5, 1, 2, 5, 10]) {
    const tx = x(tick).toFixed(1)
    const bottom = top + figures.length * rowHeight
    const stroke = tick === 1 ? '#333' : '#ddd'
    out.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${bottom}" stroke="${stroke}"/>`)
    out.push(`<text x="${tx}" y="${bottom + 16}" text-anchor="middle" fill="#555">${tick}×</text>`)
  }
  figures.forEach((f, i) => {
    const y = top + i * rowHeight
    out.push(`<text x="10" y="${y + 16}">${escape(f.name)}</text>`)
    if (f.ratio === null) {
      out.push(`<text x="${x(1) + 6}" y="${y + 16}" fill="#888">not measured</text>`)
      return
    }
    const colour = f.met === null ? '#999' : f.met ? '#2e8b57' : '#c0392b'
    const a = Math.min(x(1), x(f.ratio))
    const b = Math.max(x(1), x(f.ratio))
    out.push(
      `<rect x="${a.toFixed(1)}" y="${y + 5}" width="${Math.max(1, b - a).toFixed(1)}" ` +
        `height="15" fill="${colour}"/>`,
    )
    // Absolute figures are drawn as value ÷ target, so their target sits at 1×.
    const tx = x(f.reference === null ? 1 : f.target.value).toFixed(1)
    {
      out.push(
        `<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + 23}" stroke="#000" stroke-width="2"/>`,
      )
    }
    out.push(`<text x="${(b + 6).toFixed(1)}" y="${y + 17}">${fmt(f.ratio)}×</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

export function writeResults(result: BenchResult, jsonPath: string, svgPath: string): void {
  mkdirSync(dirname(jsonPath), { recursive: true })
  writeFileSync(jsonPath, JSON.stringify(result, null, 2) + '\n')
  const load = result.machine.loadAverage.join(', ')
  writeFileSync(
    svgPath,
    ratioChart(
      result.figures,
      `Isogate bench ${result.startedAt.slice(0, 16)}: ` +
        `${result.machine.cores} cores, load ${load}`,
    ),
  )
}

/**
 * Times static diagnosis (no browser) of a local target: the bundled OHIF build behind a
 * loopback static server with isolation headers and a same-origin DICOMweb source. Prints the
 * median and spread over repeated runs, with and without the version scan through lazy chunks.
 * Run: node --import tsx bench/doctor-static.ts [runs]
 */
import { diagnose } from '../src/doctor/diagnose.js'
import { appConfigFor, ohifRouter, startSite } from '../test/e2e/doctor-site.js'

const runs = Number.parseInt(process.argv[2] ?? '15', 10)
const ISO = [
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Embedder-Policy', 'require-corp'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
] as const
const ui = (v: string) => ({ vr: 'UI', Value: [v] })
const json = (body: unknown) => ({
  headers: [['Content-Type', 'application/dicom+json']] as const,
  body: JSON.stringify(body),
})

const site = await startSite(
  ohifRouter({
    headers: () => ISO,
    appConfig: appConfigFor('/dicom-web', { omitQuotationForMultipartRequest: true }),
    extra: (_req, url) => {
      const p = url.pathname
      if (p === '/dicom-web/studies') return json([{ '0020000D': ui('1.2.3'), '00081030': {} }])
      if (p.endsWith('/1.2.3/series')) return json([{ '0020000E': ui('1.2.3.4') }])
      if (p.endsWith('/metadata') && p.includes('1.2.3.4')) return json([{ '00080018': ui('5') }])
      if (p.endsWith('/frames/1')) return { headers: ISO, body: 'frame' }
      return p.startsWith('/dicom-web/') ? { status: 404, body: '' } : undefined
    },
  }),
)

async function time(label: string, scanChunks: boolean): Promise<void> {
  const samples: number[] = []
  for (let i = 0; i < runs + 2; i++) {
    const start = performance.now()
    const report = await diagnose({ url: `${site.origin}/`, scanChunks })
    const ms = performance.now() - start
    if (i >= 2) samples.push(ms) // the first two warm the JIT and the file cache
    if (report.verdict.exitCode !== 0)
      throw new Error(`unexpected verdict ${JSON.stringify(report.verdict)}`)
  }
  samples.sort((a, b) => a - b)
  const pick = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!
  console.log(
    `${label}: median ${pick(0.5).toFixed(0)} ms, min ${pick(0).toFixed(0)} ms, ` +
      `p90 ${pick(0.9).toFixed(0)} ms over ${samples.length} runs`,
  )
}

try {
  await time('static diagnosis, version scan on ', true)
  await time('static diagnosis, version scan off', false)
} finally {
  await site.close()
}

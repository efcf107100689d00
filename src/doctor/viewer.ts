/**
 * What the doctor learns about the viewer from its files: whether it is OHIF, which version,
 * where its app-config, workers and wasm are, and what that version loses without isolation
 * (ohif-notes §0, §d). Pure: it reads text the probe fetched.
 */

export interface ViewerBuild {
  readonly ohif: boolean
  /** Script URLs of index.html, absolute. */
  readonly scripts: readonly string[]
  readonly appConfigUrl: string | undefined
  /** The webpack app bundle (`app.bundle.<hash>.js`), when there is one. */
  readonly appBundleUrl: string | undefined
  /** `<meta http-equiv="Content-Security-Policy">` contents. */
  readonly metaCsp: readonly string[]
  /** `<iframe>` elements of the page: src (absolute) and attributes. */
  readonly iframes: readonly IframeTag[]
}

export interface IframeTag {
  readonly src: string
  readonly allow: string | undefined
  readonly credentialless: boolean
  readonly sandbox: string | undefined
}

/** One attribute of a start tag: its value, `''` when bare, undefined when absent. */
export function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}(?:\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+)))?`, 'i').exec(tag)
  if (!m) return undefined
  return m[1] ?? m[2] ?? m[3] ?? ''
}

/** Reads index.html: scripts, the app-config and app bundle, meta CSP, iframes. */
export function readIndexHtml(html: string, pageUrl: string): ViewerBuild {
  const scripts: string[] = []
  for (const m of html.matchAll(/<script\b[^>]*>/gi)) {
    const src = attr(m[0], 'src')
    if (src) scripts.push(new URL(src, pageUrl).toString())
  }
  const metaCsp: string[] = []
  for (const m of html.matchAll(/<meta\b[^>]*>/gi)) {
    if (attr(m[0], 'http-equiv')?.toLowerCase() === 'content-security-policy') {
      metaCsp.push(attr(m[0], 'content') ?? '')
    }
  }
  const iframes: IframeTag[] = []
  for (const m of html.matchAll(/<iframe\b[^>]*>/gi)) {
    const src = attr(m[0], 'src')
    iframes.push({
      src: src ? new URL(src, pageUrl).toString() : 'about:srcdoc',
      allow: attr(m[0], 'allow'),
      credentialless: attr(m[0], 'credentialless') !== undefined,
      sandbox: attr(m[0], 'sandbox'),
    })
  }
  const appConfigUrl = scripts.find((s) => /\/app-config\.js(\?|$)/.test(s))
  const appBundleUrl = scripts.find((s) => /\/app\.bundle\.[0-9a-f]+\.js(\?|$)/.test(s))
  const ohif =
    /OHIF Viewer|@ohif\/app/i.test(html) ||
    (appConfigUrl !== undefined && appBundleUrl !== undefined)
  return { ohif, scripts, appConfigUrl, appBundleUrl, metaCsp, iframes }
}

export interface BundleFacts {
  /** `const versionNumber = "3.13.2"` (the About dialog), when in this file. */
  readonly version: string | undefined
  /** Lazy chunks, by file name, relative to the public path; most widely used first. */
  readonly chunks: readonly string[]
  /** Chunks webpack names as workers (histogram-worker, compute, ...). */
  readonly workers: readonly string[]
  /** `<hash>.wasm` and codec wasm files the bundle names. */
  readonly wasm: readonly string[]
  /** webpack's public path (`__webpack_require__.p`). */
  readonly publicPath: string | undefined
}

/** The version string an OHIF build bakes into its About dialog. */
export function findVersion(text: string): string | undefined {
  return /\bversionNumber\s*=\s*["'](\d+\.\d+\.\d+[^"']*)["']/.exec(text)?.[1]
}

/** Reads the webpack runtime of an app bundle: chunk names, worker chunks, wasm names. */
export function readBundle(text: string): BundleFacts {
  const publicPath = /__webpack_require__\.p\s*=\s*"([^"]*)"/.exec(text)?.[1]
  const chunks: string[] = []
  const workers: string[] = []
  const ids = new Map<string, string>()
  const u =
    /__webpack_require__\.u\s*=\s*\(chunkId\)\s*=>\s*\{[\s\S]{0,400}?return\s*""\s*\+\s*\(\{([^}]*)\}\[chunkId\]\s*\|\|\s*chunkId\)\s*\+\s*"([^"]*)"\s*\+\s*\{([^}]*)\}/.exec(
      text,
    )
  if (u) {
    const names = new Map<string, string>()
    for (const m of (u[1] ?? '').matchAll(/(\d+):\s*"([^"]+)"/g)) names.set(m[1] ?? '', m[2] ?? '')
    for (const m of (u[3] ?? '').matchAll(/(\d+):\s*"([^"]+)"/g)) {
      const id = m[1] ?? ''
      const file = `${names.get(id) ?? id}${u[2]}${m[2]}.js`
      chunks.push(file)
      ids.set(file, id)
      if (/worker|compute|interpolation|polySeg/i.test(names.get(id) ?? '')) workers.push(file)
    }
  }
  const wasm = [...new Set([...text.matchAll(/"([\w-]+\.wasm)"/g)].map((m) => m[1] ?? ''))]
  // Shared chunks (extensions, the app's own UI) are loaded from many places; the About dialog
  // with the version sits in one of them, so they are looked through first.
  const uses = new Map<string, number>()
  for (const m of text.matchAll(/__webpack_require__\.e\((\d+)\)/g)) {
    uses.set(m[1] ?? '', (uses.get(m[1] ?? '') ?? 0) + 1)
  }
  const idOf = (file: string) => ids.get(file) ?? ''
  chunks.sort((a, b) => (uses.get(idOf(b)) ?? 0) - (uses.get(idOf(a)) ?? 0))
  return { version: findVersion(text), chunks, workers, wasm, publicPath }
}

/** Compares dotted versions; pre-release tags are ignored. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split(/[.-]/).map((n) => Number.parseInt(n, 10) || 0)
  const b = minimum.split('.').map((n) => Number.parseInt(n, 10) || 0)
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

/**
 * What an OHIF version loses without cross-origin isolation (ohif-notes §0, §d). Up to 3.8,
 * volumes and MPR need SharedArrayBuffer; from 3.9 (Cornerstone3D 2.x) isolation only speeds
 * up threaded wasm (AI/segmentation helpers, codecs), so it is a warning there.
 */
export function isolationImpact(version: string | undefined): {
  readonly required: boolean
  readonly text: string
} {
  if (version === undefined) {
    return {
      required: true,
      text:
        'version unknown: OHIF up to 3.8 loses volume rendering and MPR without isolation; ' +
        'OHIF 3.9+ runs its threaded wasm (AI tools, codecs) single-threaded',
    }
  }
  if (versionAtLeast(version, '3.9.0')) {
    return {
      required: false,
      text:
        `OHIF ${version} works without isolation, but its threaded wasm (onnxruntime AI ` +
        'helpers, codecs) runs single-threaded and slower',
    }
  }
  return {
    required: true,
    text:
      `OHIF ${version} needs isolation for volume rendering and MPR (SharedArrayBuffer); ` +
      'without it only stack viewports work',
  }
}

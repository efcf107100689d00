/**
 * The doctor's HTTP client: one request as a browser would send it, redirects followed by hand
 * so that each hop is reported, header field lines kept apart (two COEP lines are not one), and
 * bodies capped so a 200 MB bundle never lands in memory by accident.
 */
import { Agent, request, type Dispatcher } from 'undici'

import { IsogateError } from '../errors.js'
import { headerLines, type HeaderLines } from '../policy/rules/index.js'

export interface Hop {
  readonly url: string
  readonly status: number
  readonly location: string
}

export interface ProbeResult {
  /** The URL asked for. */
  readonly url: string
  /** The URL that answered last (after redirects). */
  readonly finalUrl: string
  readonly status: number
  readonly headers: HeaderLines
  readonly redirects: readonly Hop[]
  /** Body as text when asked for, cut at `maxBody` bytes. */
  readonly body: string
  readonly truncated: boolean
}

export interface ProbeOptions {
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  /** Follow redirects (the default); a preflight never does. */
  readonly follow?: boolean
  /** Bytes of body to keep; 0 drops the body. */
  readonly maxBody?: number
  readonly timeoutMs?: number
}

export interface HttpClient {
  probe(url: string, options?: ProbeOptions): Promise<ProbeResult>
  close(): Promise<void>
}

/** A client with its own connection pool; `insecure` skips certificate checks (self-signed). */
export function createHttpClient(
  options: { insecure?: boolean; timeoutMs?: number } = {},
): HttpClient {
  const dispatcher: Dispatcher = new Agent({
    connect: { rejectUnauthorized: !options.insecure },
    connections: 8,
  })
  const defaultTimeout = options.timeoutMs ?? 10_000
  return {
    probe: (url, probeOptions = {}) =>
      probeUrl(dispatcher, url, { timeoutMs: defaultTimeout, ...probeOptions }),
    close: () => dispatcher.close(),
  }
}

async function probeUrl(
  dispatcher: Dispatcher,
  url: string,
  options: ProbeOptions,
): Promise<ProbeResult> {
  const redirects: Hop[] = []
  let current = url
  let method = options.method ?? 'GET'
  for (let hop = 0; hop <= 20; hop++) {
    let response: Dispatcher.ResponseData
    try {
      response = await request(current, {
        dispatcher,
        method: method as Dispatcher.HttpMethod,
        headers: { 'user-agent': 'isogate-doctor', ...options.headers },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      })
    } catch (error) {
      throw new IsogateError('ISOGATE_E_DOCTOR_UNREACHABLE', `${current}: ${describe(error)}`, {
        cause: error,
        details: { url: current },
      })
    }
    const headers = toLines(response.headers)
    const location = headers['location']?.[0]
    if (
      options.follow !== false &&
      location &&
      response.statusCode >= 300 &&
      response.statusCode < 400
    ) {
      await response.body.dump()
      const next = new URL(location, current).toString()
      redirects.push({ url: current, status: response.statusCode, location: next })
      if (response.statusCode === 303) method = 'GET'
      current = next
      continue
    }
    const { body, truncated } = await readCapped(response, options.maxBody ?? 0)
    return {
      url,
      finalUrl: current,
      status: response.statusCode,
      headers,
      redirects,
      body,
      truncated,
    }
  }
  throw new IsogateError('ISOGATE_E_DOCTOR_UNREACHABLE', `${url}: more than 20 redirects`)
}

function toLines(headers: Record<string, string | string[] | undefined>): HeaderLines {
  const pairs: Array<[string, string]> = []
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    for (const line of Array.isArray(value) ? value : [value]) pairs.push([name, line])
  }
  return headerLines(pairs)
}

async function readCapped(
  response: Dispatcher.ResponseData,
  maxBody: number,
): Promise<{ body: string; truncated: boolean }> {
  if (maxBody <= 0) {
    await response.body.dump()
    return { body: '', truncated: false }
  }
  const chunks: Buffer[] = []
  let size = 0
  let truncated = false
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer
    chunks.push(buffer)
    size += buffer.length
    if (size >= maxBody) {
      truncated = true
      response.body.destroy()
      break
    }
  }
  return { body: Buffer.concat(chunks).subarray(0, maxBody).toString('utf8'), truncated }
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string } }
  return [e.code ?? e.cause?.code, e.message].filter(Boolean).join(' ')
}

/**
 * One Isogate gateway in its own process, so that the load tool, Chromium and the harness never
 * share its event loop: reads a config (JSON) from argv, starts the gateway, prints one JSON line
 * with its URL, and stays up until SIGTERM.
 *
 *   node --import tsx bench/isogate-child.ts '<config json>'
 */
import { validateConfig } from '../src/config/load.js'
import { startGateway } from '../src/gateway/start.js'

const config = validateConfig(JSON.parse(process.argv[2] ?? '{}'))
const started = Date.now()
const gateway = await startGateway(config)
process.stdout.write(
  JSON.stringify({ url: gateway.url, origin: gateway.origin, startMs: Date.now() - started }) +
    '\n',
)

let closing = false
const stop = () => {
  if (closing) return
  closing = true
  void gateway.close().finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

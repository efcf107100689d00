/**
 * The config's JSON Schema, derived from the zod schema so that editors validate
 * `isogate.config.json` with exactly the rules `serve` applies. Written to
 * schema/isogate.config.schema.json by `npm run build`.
 */
import { z } from 'zod'

import { configSchema } from './schema.js'

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://isogate.dev/schema/isogate.config.schema.json',
    title: 'Isogate configuration',
  }
}

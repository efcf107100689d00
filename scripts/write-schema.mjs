#!/usr/bin/env node
// Writes the config's JSON Schema (from the compiled zod schema) for editors.
import { mkdirSync, writeFileSync } from 'node:fs'

const { configJsonSchema } = await import('../dist/config/json-schema.js')
mkdirSync(new URL('../schema/', import.meta.url), { recursive: true })
const target = new URL('../schema/isogate.config.schema.json', import.meta.url)
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`)

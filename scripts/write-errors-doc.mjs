#!/usr/bin/env node
// Writes docs/errors.md from the ERRORS table in src/errors.ts (run after adding a code);
// src/errors.test.ts fails when the two disagree.
import { writeFileSync } from 'node:fs'

const { ERRORS } = await import('../dist/errors.js')
const rows = Object.entries(ERRORS).map(
  ([code, spec]) => `| \`${code}\` | ${spec.status ?? '—'} | ${spec.hint.replace(/\|/g, '\\|')} |`,
)
const text = `# Error codes

Every error Isogate reports carries one of these stable codes, a sentence saying what went wrong,
and the hint below. A code is never reused once retired. HTTP replies carry the code as
\`{"error": CODE, "message": …, "hint": …}\` with the status shown, and the same isolation headers
as a success.

| code | HTTP status | what to do |
|---|---|---|
${rows.join('\n')}
`
writeFileSync(new URL('../docs/errors.md', import.meta.url), text)

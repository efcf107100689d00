#!/usr/bin/env node
// The installed command: runs the compiled CLI. `npm run build` (run by `npm ci`) writes dist/.
import('../dist/cli/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('isogate: dist/ is missing; run `npm run build` in the package folder first.')
    process.exit(2)
  }
  throw error
})

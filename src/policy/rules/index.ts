/**
 * The browser's rules, as pure functions over URLs, response headers and embedding markup
 * (browser-rules.md). Every verdict is a Finding with a stable reason code.
 */
export * from './findings.js'
export * from './headers.js'
export * from './context.js'
export * from './isolation.js'
export * from './permissions.js'
export * from './corp.js'
export * from './cors.js'
export * from './fetch.js'
export * from './framing.js'
export * from './frames.js'
export * from './subresource.js'
export * from './network.js'
export * from './service-worker.js'

/**
 * Compatibility entry for code that imported `src/options.js` before the options moved to
 * `options/` (bench/ does): the public option types and `resolveOptions`. New code imports
 * from `options/*` directly.
 * @module
 */
export * from './options/defaults.js';
export { resolveOptions, suggestOption } from './options/resolve.js';
export type * from './options/types.js';

/**
 * Injection tokens and metadata keys.
 * @module
 */

/**
 * Injection token of the module's `OriginVerifier` (stats, readiness, the deny response).
 * String tokens stay equal when both the ESM and the CJS build of this package are loaded.
 *
 * @example
 * ```ts
 * import { Inject, Injectable } from '@nestjs/common';
 * import type { OriginVerifier } from '@cdn-origin-guard/core';
 * import { CDN_ORIGIN_GUARD_VERIFIER } from '@cdn-origin-guard/nestjs';
 *
 * @Injectable()
 * export class GuardStats {
 *   constructor(@Inject(CDN_ORIGIN_GUARD_VERIFIER) private readonly verifier: OriginVerifier) {}
 *   get denied() { return this.verifier.stats().denied; }
 * }
 * ```
 */
export const CDN_ORIGIN_GUARD_VERIFIER = 'CDN_ORIGIN_GUARD_VERIFIER';

/** Injection token of the core options given to `forRoot` / returned by `forRootAsync`'s factory. */
export const CDN_ORIGIN_GUARD_OPTIONS = 'CDN_ORIGIN_GUARD_OPTIONS';

/** Metadata key set by `@RequireOriginGuard()` / `@SkipOriginGuard()`. */
export const ORIGIN_GUARD_RULE = 'cdn-origin-guard:rule';

/**
 * What `@RequireOriginGuard()` and `@SkipOriginGuard()` record on a handler or controller,
 * read with `Reflector.getAllAndOverride` (method over class). No rule means "check".
 *
 * @example
 * ```ts
 * import type { OriginGuardRule } from '@cdn-origin-guard/nestjs';
 * const rule: OriginGuardRule = 'skip';
 * ```
 */
export type OriginGuardRule = 'require' | 'skip';

/** Injection token of the module's wiring options (`applyGlobally`, `allowContextTypes`, ...). */
export const CDN_ORIGIN_GUARD_WIRING = 'CDN_ORIGIN_GUARD_WIRING';

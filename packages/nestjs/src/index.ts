/**
 * @cdn-origin-guard/nestjs: `CdnOriginGuardModule.forRoot(options)`, `CdnOriginGuard`, and the
 * `@RequireOriginGuard()`, `@SkipOriginGuard()` and `@OriginDecision()` decorators, on both
 * Nest HTTP platforms (Express and Fastify).
 * @packageDocumentation
 */
export type {
  BaseGuardOptions,
  Decision,
  OriginGuardOptions,
  OriginVerifier,
} from '@cdn-origin-guard/core';
export {
  guardUpgrades,
  InvalidOptionError,
  isOriginGuardError,
  optionsFromEnv,
} from '@cdn-origin-guard/core';
export { CDN_ORIGIN_GUARD_VERIFIER, type OriginGuardRule } from './constants.js';
export { OriginDecision, RequireOriginGuard, SkipOriginGuard } from './decorators.js';
export { CdnOriginGuard, OriginDeniedException, type OriginGuardRequest } from './guard.js';
export { CdnOriginGuardMiddleware, OriginDeniedFilter } from './middleware.js';
export {
  CdnOriginGuardModule,
  type CdnOriginGuardModuleAsyncOptions,
  type CdnOriginGuardModuleOptions,
  type CdnOriginGuardModuleWiring,
  type CdnOriginGuardOptionsFactory,
} from './module.js';

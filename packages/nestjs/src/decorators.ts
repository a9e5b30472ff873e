/**
 * `@RequireOriginGuard()`, `@SkipOriginGuard()` and `@OriginDecision()`.
 * @module
 */
import type { Decision } from '@cdn-origin-guard/core';
import {
  applyDecorators,
  createParamDecorator,
  type ExecutionContext,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { ORIGIN_GUARD_RULE, type OriginGuardRule } from './constants.js';
import { CdnOriginGuard, type OriginGuardRequest } from './guard.js';

/**
 * Require the origin guard on a controller or handler, also when it is not applied globally.
 * Overrides a `@SkipOriginGuard()` on the class when put on a method (method over class).
 *
 * @example
 * ```ts
 * import { Controller, Get } from '@nestjs/common';
 * import { RequireOriginGuard } from '@cdn-origin-guard/nestjs';
 *
 * @Controller('api')
 * @RequireOriginGuard()
 * export class ApiController {
 *   @Get() list() { return []; }
 * }
 * ```
 */
export function RequireOriginGuard(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    SetMetadata<string, OriginGuardRule>(ORIGIN_GUARD_RULE, 'require'),
    UseGuards(CdnOriginGuard),
  );
}

/**
 * Skip the origin guard on a controller or handler (e.g. a health endpoint an internal
 * load balancer calls). Overrides a `@RequireOriginGuard()` on the class when put on a method.
 * For ALB health checks prefer the `healthCheckPaths` option, which only lets the ALB itself in.
 *
 * @example
 * ```ts
 * import { Controller, Get } from '@nestjs/common';
 * import { SkipOriginGuard } from '@cdn-origin-guard/nestjs';
 *
 * @Controller()
 * export class MetricsController {
 *   @SkipOriginGuard()
 *   @Get('metrics') metrics() { return 'ok'; }
 * }
 * ```
 */
export function SkipOriginGuard(): ClassDecorator & MethodDecorator {
  return SetMetadata<string, OriginGuardRule>(ORIGIN_GUARD_RULE, 'skip');
}

/**
 * Parameter decorator giving the handler the request's decision (`undefined` when the guard
 * did not run for the route).
 *
 * @example
 * ```ts
 * import { Controller, Get } from '@nestjs/common';
 * import type { Decision } from '@cdn-origin-guard/core';
 * import { OriginDecision } from '@cdn-origin-guard/nestjs';
 *
 * @Controller()
 * export class WhoAmIController {
 *   @Get('whoami')
 *   whoami(@OriginDecision() decision: Decision | undefined) {
 *     return decision?.reason === 'verified' ? { viewer: decision.viewerAddress } : {};
 *   }
 * }
 * ```
 */
export const OriginDecision: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Decision | undefined =>
    context.switchToHttp().getRequest<OriginGuardRequest>().cdnOriginGuard,
);

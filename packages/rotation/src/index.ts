/**
 * @cdn-origin-guard/rotation: a Secrets Manager rotation function that keeps CloudFront's
 * origin header, the ALB listener rule and every app's accepted values in step.
 * @packageDocumentation
 */
export type { RotationContext } from './budget.js';
export { BOUNDS, DEFAULTS, ROTATION_STEPS } from './constants.js';
export { ROTATION_ENV_VARIABLES, rotationOptionsFromEnv } from './env.js';
export { RotationError, type RotationFailure } from './errors.js';
export { generateSecretValue } from './generate.js';
export {
  createRotationHandler,
  type RotationEvent,
  type RotationHandler,
  type RotationStep,
} from './handler.js';
export type { RotationClients, RotationOptions } from './options.js';

import type { RotationContext } from './budget.js';
import { rotationOptionsFromEnv } from './env.js';
import { createRotationHandler, type RotationEvent, type RotationHandler } from './handler.js';

let fromEnv: RotationHandler | undefined;

/**
 * The ready Lambda handler: configured from `CDN_ORIGIN_GUARD_ROTATION_*` on its first
 * invocation (validated then, once), with SDK clients kept for the container's life.
 * Set the function's handler to `index.handler`.
 */
export const handler: RotationHandler = async (event: RotationEvent, context: RotationContext) => {
  // Async, so a bad configuration rejects the returned promise instead of throwing before it
  // exists (outside review, 4 December: a caller's `.catch` never ran).
  fromEnv ??= createRotationHandler(rotationOptionsFromEnv());
  return fromEnv(event, context);
};

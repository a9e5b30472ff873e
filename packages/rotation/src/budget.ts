/**
 * Waiting inside a Lambda invocation: every wait is bounded by the time left
 * (`context.getRemainingTimeInMillis()`) minus a safety margin.
 * @module
 */

/** The part of the Lambda context the handler uses. */
export interface RotationContext {
  /** Milliseconds until Lambda stops the invocation. */
  getRemainingTimeInMillis(): number;
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Time this invocation may still spend, keeping `marginMs` free. */
export function timeLeft(context: RotationContext, marginMs: number): number {
  return context.getRemainingTimeInMillis() - marginMs;
}

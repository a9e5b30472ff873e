/**
 * Assertions shared by the rotation tests; the account itself is in `account.ts` (also used by
 * the demo, so it does not import vitest).
 */
import { expect } from 'vitest';

export * from './account.js';

/** No value in any of `texts` (log lines, error messages and stacks). */
export function expectNoValueIn(texts: readonly string[], values: readonly string[]): void {
  for (const text of texts) for (const value of values) expect(text).not.toContain(value);
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & Record<string, unknown>> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & Record<string, unknown>,
  );
}

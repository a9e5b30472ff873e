/** Helpers shared by the over-the-wire source tests. */
import { expect } from 'vitest';
import { SourceError } from '../../packages/core/src/errors.js';

/** Anything with the sources' `load(signal)`. */
interface Loadable<T> {
  load(signal: AbortSignal): Promise<T>;
}

/** Load once with a fresh (or the given) signal. */
export function load<T>(s: Loadable<T>, signal = new AbortController().signal): Promise<T> {
  return s.load(signal);
}

/** Load, expect a rejection with a `SourceError`, and return it. */
export async function loadError(s: Loadable<unknown>, signal?: AbortSignal): Promise<SourceError> {
  const error = await load(s, signal).then(
    () => {
      throw new Error('expected load() to reject');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}

/** Poll `condition` every 10 ms for up to `ms`; its last answer. */
export async function waitFor(condition: () => boolean, ms = 1_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return condition();
}

/** A sorted copy, for order-insensitive comparisons. */
export const sorted = (list: readonly string[]): string[] => [...list].sort();

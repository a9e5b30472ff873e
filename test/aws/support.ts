/** Helpers shared by the over-the-wire source tests. */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { SourceError } from '../../packages/core/src/errors.js';
import { type LocalAws, type LocalAwsOptions, setEnv, startLocalAws } from '../aws-local/index.js';

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

/**
 * Start the local AWS endpoint for a test file: started before all tests and closed after,
 * faults cleared and its variables (AWS endpoint, region, credentials) applied around each test.
 * Returns a getter for the running endpoint.
 */
export function useLocalAws(options?: LocalAwsOptions): () => LocalAws {
  let aws: LocalAws | undefined;
  let restoreEnv: () => void = () => undefined;
  beforeAll(async () => {
    aws = await startLocalAws(options);
  });
  afterAll(async () => {
    await aws?.close();
  });
  beforeEach(() => {
    aws?.faults.clear();
    if (aws) restoreEnv = setEnv(aws.env());
  });
  afterEach(() => {
    aws?.faults.clear();
    restoreEnv();
  });
  return () => {
    if (!aws) throw new Error('the local AWS endpoint is not started yet');
    return aws;
  };
}

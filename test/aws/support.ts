/** Helpers shared by the over-the-wire source tests. */
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { SourceError } from '../../packages/core/src/errors.js';
import { type LocalAws, setEnv, startLocalAws } from '../aws-local/index.js';

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

/** The local endpoint, as {@link useLocalAws} sets it up. */
export interface UsedLocalAws {
  readonly aws: LocalAws;
}

/**
 * For a test file: start the local endpoint (signed calls only) before the tests, clear its
 * faults and counters before each test (and run `beforeEachTest`), close it after.
 * With `env`, its variables are in `process.env` meanwhile (endpoint, region, credentials).
 */
export function useLocalAws(
  options: { readonly env?: boolean; readonly beforeEachTest?: (aws: LocalAws) => void } = {},
): UsedLocalAws {
  let aws: LocalAws | undefined;
  let restoreEnv: (() => void) | undefined;
  beforeAll(async () => {
    aws = await startLocalAws({ requireAccessKeyId: 'test' });
    if (options.env === true) restoreEnv = setEnv(aws.env());
  });
  afterAll(async () => {
    restoreEnv?.();
    await aws?.close();
  });
  beforeEach(() => {
    aws?.faults.clear();
    aws?.resetCalls();
    if (aws !== undefined) options.beforeEachTest?.(aws);
  });
  return {
    get aws() {
      if (aws === undefined) throw new Error('useLocalAws: used outside a test');
      return aws;
    },
  };
}

/** The local endpoint and one SDK client, as {@link useLocalAwsClient} sets them up. */
export interface LocalAwsWithClient<C> extends UsedLocalAws {
  readonly client: C;
}

/**
 * {@link useLocalAws} with its variables in `process.env`, and one SDK client built from that
 * environment alone (endpoint, region and credentials, as in Lambda), destroyed after.
 */
export function useLocalAwsClient<C extends { destroy(): void }>(
  makeClient: () => C,
): LocalAwsWithClient<C> {
  const used = useLocalAws({ env: true });
  let client: C | undefined;
  beforeAll(() => {
    client = makeClient();
  });
  afterAll(() => {
    client?.destroy();
  });
  return {
    get aws() {
      return used.aws;
    },
    get client() {
      if (client === undefined) throw new Error('useLocalAwsClient: used outside a test');
      return client;
    },
  };
}

/** `'ok'` when the call succeeds, else the error's name (the SDK's exception name). */
export function errorName(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (e: unknown) => (e as Error).name,
  );
}

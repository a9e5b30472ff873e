/**
 * The source interfaces. A source only loads; caching, refresh timers, jitter, single-flight
 * and last-known-good live in one place (`cache.ts`), not in each source.
 * @module
 */
import type { SecretStage } from '../decision.js';

/** One accepted secret value and the stage it came from. */
export interface SecretValue {
  /** The staging label (e.g. `AWSCURRENT`) or a label for a static value. */
  readonly stage: SecretStage;
  /** The header value CloudFront sends. Printable ASCII. */
  readonly value: string;
  /** Secrets Manager version id, when known. Safe to log. */
  readonly versionId?: string | undefined;
  /**
   * When this value's version was created, in ms since the epoch (Secrets Manager's
   * `CreatedDate`), when known. With `previousMaxAgeMs`, the `AWSPREVIOUS` value is accepted
   * until the `AWSCURRENT` value's `createdAt` plus that age, and never when `AWSCURRENT` has no
   * `createdAt`; with no limit when its own `createdAt` is later than that (a rollback).
   * Defaults to unknown.
   */
  readonly createdAt?: number | undefined;
}

/** What a secret source returns on each load. */
export interface SecretSnapshot {
  /** Every accepted value. Must not be empty. */
  readonly values: readonly SecretValue[];
  /**
   * A version tag safe to log (e.g. joined version ids); when it equals the previous load's,
   * the compiled comparison table is kept as is.
   */
  readonly version?: string | undefined;
  /**
   * Values left out of this load and why (e.g. an invalid `AWSPENDING` left by a failed
   * rotation), as errors that never contain a value. The guard reports them through
   * `onSourceError` and `stats()`, and loads the others. Defaults to none.
   */
  readonly skipped?: readonly Error[] | undefined;
  /**
   * Problems that did not stop this load (e.g. a missing permission that made the source fall
   * back to a costlier way of loading), as errors that never contain a value. The guard reports
   * each through `onSourceError` once, when the load returns it. Defaults to none.
   */
  readonly warnings?: readonly Error[] | undefined;
  /**
   * How long ago, in ms, the values in this snapshot were last read from their store, when the
   * load only confirmed them (e.g. Secrets Manager's `DescribeSecret` said nothing moved). The
   * guard's `maxStaleMs` counts from that read, so confirmations alone never keep values alive
   * past it. Defaults to 0: read by this load. A source whose fresh reads are some time old (a
   * sidecar's file) may report that age too: values read at least a second later than the
   * ones in use count as a new read, so the refresh is again brought forward ahead of the
   * countdown's end.
   */
  readonly readAgoMs?: number | undefined;
  /**
   * How far the store's clock is ahead of this machine's, in ms (negative: behind), when this
   * one is off by enough to matter: the values' `createdAt` times are the store's, so the
   * `previousMaxAgeMs` limit is moved onto this clock by it. `secretsManagerSource` sets it
   * from the AWS SDK's `systemClockOffset` when it is over 5 minutes. Defaults to 0.
   */
  readonly clockOffsetMs?: number | undefined;
}

/** Why the guard loads a source now, so a source can trade API calls for latency. */
export interface SourceLoadContext {
  /**
   * `true` when a request carried a value that matched nothing (a rotation may be under way)
   * and the guard forced this load: a source should answer as fast as it can rather than with
   * as few calls as it can. `false` for the first load and scheduled refreshes.
   */
  readonly forced: boolean;
  /**
   * `true` when the values in use were last read from their store (see
   * `SecretSnapshot.readAgoMs`) half of `maxStaleMs` ago or more: a source that can confirm
   * values without reading them (Secrets Manager's `DescribeSecret`) should read them this time,
   * or they expire while every load succeeds. Absent (false) otherwise.
   */
  readonly revalidate?: boolean;
}

/** Where accepted secret values come from: static values, Secrets Manager, or your own. */
export interface SecretSource {
  /** A name for logs and errors, e.g. `static` or `secrets-manager:prod/origin-verify`. */
  readonly name: string;
  /**
   * Load the current accepted values. Reject (ideally with a `SourceError`) on failure; the
   * guard keeps the last-known-good values. Must honour `signal`. `context` says why the
   * guard loads now; a source may ignore it.
   */
  load(signal: AbortSignal, context?: SourceLoadContext): Promise<SecretSnapshot>;
  /** Release resources (e.g. an SDK client the source created). Optional. */
  close?(): void | Promise<void>;
}

/** What a range source returns on each load. */
export interface RangeSnapshot {
  /** IPv4 and IPv6 CIDRs (`13.32.0.0/15`, `2600:9000::/28`). Must not be empty. */
  readonly cidrs: readonly string[];
  /**
   * The list version (prefix-list version, ip-ranges `syncToken`); when it equals the
   * previous load's, the compiled matcher is kept as is.
   */
  readonly version?: string | undefined;
}

/** Where CloudFront's origin-facing ranges come from: EC2 prefix list, ip-ranges, static, your own. */
export interface RangeSource {
  /** A name for logs and errors, e.g. `prefix-list` or `ip-ranges`. */
  readonly name: string;
  /** Load the current ranges. Reject on failure; the guard keeps the last-known-good list. */
  load(signal: AbortSignal): Promise<RangeSnapshot>;
  /** Release resources. Optional. */
  close?(): void | Promise<void>;
}

/**
 * An AWS SDK v3 client as the guard needs it: anything with the SDK's `send(command, options)`.
 * A structural type, so the published types never import the optional `@aws-sdk/*` packages;
 * a `SecretsManagerClient` or an `EC2Client` fits it.
 * @example
 * ```ts
 * import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
 * import type { AwsSdkClient } from '@cdn-origin-guard/core';
 * const client: AwsSdkClient = new SecretsManagerClient({ region: 'eu-west-1' });
 * ```
 */
export interface AwsSdkClient {
  /** Send one command; the guard passes `{ abortSignal }` as options. */
  send(command: unknown, options?: unknown): Promise<unknown>;
}

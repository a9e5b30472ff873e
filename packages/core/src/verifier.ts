/**
 * `createOriginVerifier`: the verifier's lifecycle (load, refresh-joining, close) around the
 * decision pipeline (pipeline.ts), the sources (source-wiring.ts) and the counters (stats.ts).
 * `verify` is synchronous and does no I/O once sources are loaded.
 * @module
 */
import { handleRejection, warnCallbackThrew } from './callbacks.js';
import type { Decision } from './decision.js';
import { NotReadyError, SourceError } from './errors.js';
import { RangeMatcher } from './net/matcher.js';
import { resolveOptions } from './options/resolve.js';
import type {
  DenyResponse,
  LogLevel,
  OriginGuardOptions,
  ResolvedOptions,
  VerifyInput,
} from './options/types.js';
import { DecisionPipeline } from './pipeline.js';
import { withoutSecret } from './request/headers.js';
import type { SecretMatcher } from './secret/compare.js';
import { type WiredSources, wireSources } from './source-wiring.js';
import type { CachedSource } from './sources/cache.js';
import type { RangeSnapshot, SecretSnapshot } from './sources/types.js';
import { DecisionCounters, type VerifierStats } from './stats.js';

export { isWellFormedCfId } from './checks/cf-id.js';
export type { VerifierStats } from './stats.js';

/**
 * A change in a source's health, for logs: `failing` once at the start of a failure streak
 * (including a failed first load), `recovered` once when the source loads again, `expired` when
 * its values are dropped (`maxStaleMs` / `rangesMaxStaleMs` ran out, or the store revoked them),
 * `warning` once per problem a successful load left behind. Never sent per request. `error` is
 * a `SourceError`, whose message never contains a secret value.
 */
export type SourceEvent =
  | {
      readonly type: 'failing';
      readonly source: 'secret' | 'ranges';
      readonly error: Error;
      /** Whether the source had loaded before (a last-known-good value is in use). */
      readonly everLoaded: boolean;
    }
  | {
      readonly type: 'recovered';
      readonly source: 'secret' | 'ranges';
      /** Failed loads in the streak that just ended. */
      readonly failedAttempts: number;
      /**
       * Time from the first failure of the streak (or, with no failure, from the moment the
       * values expired) to the successful load, in ms.
       */
      readonly downMs: number;
    }
  | {
      /**
       * The values are dropped and requests are denied (`secret-unavailable` /
       * `ranges-unavailable`) until a load succeeds, which emits `recovered`: `maxStaleMs` ran
       * out (no load read the secret values for that long) or `rangesMaxStaleMs` did (no load
       * confirmed the range list for that long), or the store revoked them (Secrets Manager: the
       * secret was deleted or scheduled for deletion).
       */
      readonly type: 'expired';
      readonly source: 'secret' | 'ranges';
      /**
       * `max-stale`: `maxStaleMs` (`source: 'secret'`) or `rangesMaxStaleMs` (`source: 'ranges'`)
       * ran out; `revoked`: the store said the values are gone.
       */
      readonly reason: 'max-stale' | 'revoked';
      /** The `maxStaleMs` or `rangesMaxStaleMs` that ran out (0 when revoked). */
      readonly staleMs: number;
      /** With `revoked`: the load's error, saying what the store answered. */
      readonly error?: Error | undefined;
    }
  | {
      /**
       * A load succeeded but left something out or fell back, e.g. an `AWSPENDING` value that
       * cannot be a secret (so requests carrying it are denied `invalid-secret`), a custom
       * staging label no version carries, or `DescribeSecret` denied by IAM. Sent once per
       * distinct problem (again only after it went away and came back), as `onSourceError` is.
       */
      readonly type: 'warning';
      readonly source: 'secret' | 'ranges';
      readonly error: Error;
    };

/** A verifier made by {@link createOriginVerifier}. */
export interface OriginVerifier {
  /**
   * Decide on one request, synchronously. Before sources are loaded it denies with
   * `secret-unavailable` / `ranges-unavailable` (static sources are loaded at construction).
   */
  verify(input: VerifyInput): Decision;
  /**
   * Like `verify`, but returns a promise in the two cases where waiting helps: sources are
   * still loading for the first time, or the secret did not match and a rate-limited refresh
   * may pick up a rotation. Otherwise returns the decision synchronously. Adapters use this.
   */
  check(input: VerifyInput): Decision | Promise<Decision>;
  /** Load every source (first call starts refresh timers). Rejects with `NotReadyError` if a source never loaded. */
  ready(): Promise<void>;
  /** Whether every source has a value. */
  readonly isReady: boolean;
  /**
   * Stop refreshing and abort loads in flight. Decisions keep using the last values, until
   * `maxStaleMs` (when set) runs out after the last read, then they deny `secret-unavailable`,
   * and `rangesMaxStaleMs` (when set) after the last confirmation, then `ranges-unavailable`.
   */
  close(): Promise<void>;
  /** Counters by outcome, reason and secret stage, and source health. */
  stats(): VerifierStats;
  /**
   * Listen to source health changes (see {@link SourceEvent}); returns a function that removes
   * the listener. Errors a listener throws are swallowed.
   */
  onSourceEvent(listener: (event: SourceEvent) => void): () => void;
  /** The resolved `headerName` (lower case), for adapters. */
  readonly headerName: string;
  /** The uniform deny response adapters write (status, headers, body). */
  readonly denyResponse: DenyResponse;
  /** The level adapters with a logger use for deny lines. */
  readonly logLevel: LogLevel;
  /** Whether adapter startup should fail when `ready()` rejects. */
  readonly failOnStartupError: boolean;
}

/**
 * Whether `value` is an {@link OriginVerifier} (what {@link createOriginVerifier} returns, or an
 * object with the same `verify`, `check` and `denyResponse`): how an adapter tells a verifier
 * passed in place of options, or of a middleware, from anything else.
 */
export function isOriginVerifier(value: unknown): value is OriginVerifier {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as OriginVerifier).verify === 'function' &&
    typeof (value as OriginVerifier).check === 'function' &&
    typeof (value as OriginVerifier).denyResponse === 'object' &&
    (value as OriginVerifier).denyResponse !== null
  );
}

/**
 * Whether the secret is the only check that failed (the request came through a CloudFront
 * edge). A missing header counts like a wrong value: both wait for the same forced re-read, so a
 * deny takes as long whatever the header held. Before, only a wrong value waited, and a request
 * from another CloudFront distribution told by the deny's delay (one Secrets Manager round trip)
 * whether it had named our header (review, 4 December, sixth session).
 */
function onlySecretFailed(decision: Decision): boolean {
  // An enforced deny only for a missing header: timing matters for denies, and in report mode
  // (rolled out before CloudFront sends the header) every request would force a re-read.
  if (decision.reason === 'missing-secret') return decision.failures.length === 1;
  if (
    decision.reason !== 'invalid-secret' &&
    decision.reason !== 'expired-secret' &&
    decision.reason !== 'reported'
  )
    return false;
  if (decision.failures.length !== 1) return false;
  const failure = decision.failures[0];
  return failure === 'invalid-secret' || failure === 'expired-secret';
}

class Verifier implements OriginVerifier {
  readonly #options: ResolvedOptions;
  readonly #secret: CachedSource<SecretSnapshot, SecretMatcher>;
  readonly #ranges: CachedSource<RangeSnapshot, RangeMatcher>;
  readonly #ownedSources: WiredSources['owned'];
  readonly #pipeline: DecisionPipeline;
  readonly #counters = new DecisionCounters();
  /** The load `ready()` started, while it runs. */
  #loading: Promise<void> | undefined;
  /** Whether `ready()` ever ran (refresh timers started). */
  #started = false;
  #closed = false;
  readonly #listeners = new Set<(event: SourceEvent) => void>();
  /** Callbacks that threw and were reported (each kind is reported once). */
  readonly #reportedThrows = new Set<'onDecision' | 'onSourceEvent'>();

  constructor(options: Readonly<OriginGuardOptions>) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    const trusted = RangeMatcher.compile(resolved.trustedProxies, 'trustedProxies');
    const sources = wireSources(resolved, (source, event) => this.#emit({ ...event, source }));
    this.#secret = sources.secret;
    this.#ranges = sources.ranges;
    this.#ownedSources = sources.owned;
    this.#pipeline = new DecisionPipeline(resolved, {
      trusted,
      secret: sources.secret,
      ranges: sources.ranges,
    });
  }

  #emit(event: SourceEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        handleRejection(listener(event), (error) => this.#callbackThrew('onSourceEvent', error));
      } catch (error) {
        // A logging listener must never break a refresh; it is reported instead.
        this.#callbackThrew('onSourceEvent', error);
      }
    }
  }

  onSourceEvent(listener: (event: SourceEvent) => void): () => void {
    if (typeof listener !== 'function')
      throw new TypeError('@cdn-origin-guard: onSourceEvent() expects a function.');
    // Wrapped so the same function subscribed twice gets two independent subscriptions.
    const entry = (event: SourceEvent) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  get headerName(): string {
    return this.#options.headerName;
  }

  get denyResponse(): DenyResponse {
    return this.#options.denyResponse;
  }

  get logLevel(): LogLevel {
    return this.#options.logLevel;
  }

  get failOnStartupError(): boolean {
    return this.#options.failOnStartupError;
  }

  get isReady(): boolean {
    return this.#secret.current !== undefined && this.#ranges.current !== undefined;
  }

  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new NotReadyError('the verifier is closed'));
    // Loaded (possibly by a background retry after an earlier failed ready()): nothing to wait for.
    if (this.isReady && this.#started) return Promise.resolve();
    if (!this.#loading) {
      this.#started = true;
      this.#loading = this.#load().finally(() => {
        this.#loading = undefined;
      });
    }
    return this.#loading;
  }

  async #load(): Promise<void> {
    const caches = [this.#secret, this.#ranges] as const;
    const results = await Promise.allSettled(caches.map((cache) => cache.start()));
    const problems: SourceError[] = [];
    caches.forEach((cache, i) => {
      if (cache.current !== undefined) return;
      const result = results[i];
      const error = result?.status === 'rejected' ? result.reason : undefined;
      problems.push(
        error instanceof SourceError
          ? error
          : new SourceError(cache.name, 'did not load', { cause: error }),
      );
    });
    if (problems.length > 0) {
      const detail = problems
        .map((p) => `${p.source}${p.awsCode ? ` (${p.awsCode})` : ''}: ${p.message}`)
        .join('; ');
      throw new NotReadyError(
        `could not load ${problems.map((p) => p.source).join(' and ')}; requests are denied until they load. ${detail}`,
        { cause: problems.length === 1 ? problems[0] : new AggregateError(problems) },
      );
    }
  }

  verify(input: VerifyInput): Decision {
    return this.#record(this.#pipeline.decide(input), input);
  }

  check(input: VerifyInput): Decision | Promise<Decision> {
    if (!this.isReady && !this.#closed) {
      // Wait for a first load in flight (or start the first one). Once a load has failed, deny
      // at once with *-unavailable: refresh timers retry with backoff, and requests must not
      // drive AWS calls during an outage.
      const load = this.#loading ?? (this.#started ? undefined : this.ready());
      if (load)
        return load.then(
          () => this.verify(input),
          () => this.verify(input),
        );
    }
    const decision = this.#pipeline.decide(input);
    // Only a request whose every other check passed (it came through a CloudFront edge with a
    // well-formed cf-id) may force a refresh: a bot at the ALB cannot drive AWS calls.
    if (onlySecretFailed(decision) && !this.#closed) {
      // A load already in flight may have started before the new value existed: join it, and
      // if the value still matches nothing, force one load of our own (rate-limited).
      const joined = this.#secret.loading;
      const refresh = this.#secret.forceRefresh();
      if (refresh)
        return refresh.then(() => {
          const again = this.#pipeline.decide(input);
          if (joined && onlySecretFailed(again)) {
            const own = this.#secret.forceRefresh();
            if (own) return own.then(() => this.verify(input));
          }
          return this.#record(again, input);
        });
    }
    return this.#record(decision, input);
  }

  #record(decision: Decision, input: VerifyInput): Decision {
    this.#counters.record(decision);
    const hook = this.#options.onDecision;
    if (hook) {
      try {
        handleRejection(hook(decision, withoutSecret(input, this.#options.headerName)), (error) =>
          this.#callbackThrew('onDecision', error),
        );
      } catch (error) {
        // A logging hook must never turn into a 500; it is reported instead.
        this.#callbackThrew('onDecision', error);
      }
    }
    return decision;
  }

  #callbackThrew(kind: 'onDecision' | 'onSourceEvent', error: unknown): void {
    if (this.#reportedThrows.has(kind)) return;
    this.#reportedThrows.add(kind);
    warnCallbackThrew(kind, error);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#secret.close();
    this.#ranges.close();
    await Promise.allSettled(this.#ownedSources.map((source) => source.close?.()));
  }

  stats(): VerifierStats {
    return this.#counters.snapshot({
      secret: this.#secret.stats(),
      ranges: this.#ranges.stats(),
    });
  }
}

/**
 * Create a verifier. Validates `options` once (throws `InvalidOptionError` naming the option
 * and the fix). Static sources are usable at once; AWS sources load on `ready()`.
 *
 * @example
 * ```ts
 * import { createOriginVerifier } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * await verifier.ready();
 * const decision = verifier.verify({
 *   headers: req.headers,
 *   rawHeaders: req.rawHeaders, // several X-Forwarded-For lines are then denied
 *   remoteAddress: req.socket.remoteAddress,
 *   path: req.url,
 * });
 * if (!decision.allowed) console.warn('denied', decision.reason);
 * ```
 */
export function createOriginVerifier(options: Readonly<OriginGuardOptions>): OriginVerifier {
  return new Verifier(options);
}

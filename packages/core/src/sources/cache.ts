/**
 * The one place where sources are cached and refreshed: refresh interval with jitter,
 * stale-while-revalidate, one load in flight at a time, a timeout on every load,
 * last-known-good kept on errors, rate-limited forced refreshes, and a rebuild of the
 * compiled form only when the source's version changes.
 * @module
 */

import { LRUCache } from 'lru-cache';
import { handleRejection } from '../callbacks.js';
import { SourceError } from '../errors.js';
import { monotonicNow } from './clock.js';
import type { SourceLoadContext } from './types.js';

/** What a callback's rejection becomes where its throw is dropped too. */
const ignore = (): void => {};

/** A compiled value and the version it was built from. */
interface Entry<C> {
  readonly compiled: C;
  readonly version: string | undefined;
}

/** What every source load returns: something with an optional version. */
interface Versioned {
  readonly version?: string | undefined;
  /** Parts left out of this load (e.g. a bad optional stage), reported but not fatal. */
  readonly skipped?: readonly Error[] | undefined;
  /** Problems that did not stop this load, reported once each through `onError`. */
  readonly warnings?: readonly Error[] | undefined;
  /** How long ago the values were last read from their store (`maxStaleMs` counts from then). */
  readonly readAgoMs?: number | undefined;
}

/** Health of one cached source, as shown by `stats()`. Never includes a value. */
export interface SourceStats {
  /** The source's name. */
  readonly name: string;
  /**
   * Whether a value is in use (false before the first load, and after `maxStaleMs` /
   * `rangesMaxStaleMs` expired it).
   */
  readonly loaded: boolean;
  /** The version in use (e.g. a prefix-list version or `syncToken`). */
  readonly version: string | undefined;
  /** When the value in use was loaded (ms since epoch), or undefined. */
  readonly loadedAt: number | undefined;
  /** Successful loads. */
  readonly loads: number;
  /** Failed loads (the last-known-good value stayed in use). */
  readonly failures: number;
  /** Loads that returned a new version and rebuilt the compiled form. */
  readonly rebuilds: number;
  /** Refreshes forced by a mismatch (e.g. an unknown secret during rotation). */
  readonly forcedRefreshes: number;
  /** The last failure, if the last load failed: code and message, never a value. */
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
  /**
   * What the last successful load left out and why (e.g. an invalid `AWSPENDING` value), as
   * code and message, never a value. Empty when nothing was left out.
   */
  readonly skipped: readonly { readonly code: string; readonly message: string }[];
  /**
   * Whether the value was dropped because no load succeeded for `maxStaleMs` (the secret) or
   * `rangesMaxStaleMs` (the ranges), or its store revoked it: requests are denied with
   * `secret-unavailable` / `ranges-unavailable` until a load succeeds.
   */
  readonly expired: boolean;
}

/**
 * A change in a source's health: the first failure of a streak (including a failed first
 * load), or the first success after one. Never sent per load or per request.
 */
export type StreakEvent =
  | { readonly type: 'failing'; readonly error: SourceError; readonly everLoaded: boolean }
  | { readonly type: 'recovered'; readonly failedAttempts: number; readonly downMs: number }
  | {
      readonly type: 'expired';
      readonly staleMs: number;
      readonly reason: 'max-stale' | 'revoked';
      readonly error?: SourceError | undefined;
    }
  | { readonly type: 'warning'; readonly error: SourceError };

/** Options of a {@link CachedSource}. */
export interface CachedSourceOptions<S, C> {
  /** Load the raw snapshot; `context.forced` is true for a forced (mismatch) refresh. */
  readonly load: (signal: AbortSignal, context: SourceLoadContext) => Promise<S>;
  /** Turn a snapshot into its compiled form; throw to reject a bad snapshot. */
  readonly compile: (snapshot: S) => C;
  /** Source name for stats and errors. */
  readonly name: string;
  /** Refresh interval in ms. */
  readonly refreshMs: number;
  /** Jitter as a fraction of the interval (0.1 = +-10 %). */
  readonly jitter: number;
  /** Timeout of one load in ms. */
  readonly timeoutMs: number;
  /** Minimum time between two forced refreshes in ms. */
  readonly minForcedIntervalMs: number;
  /** Called after every failed load (for logging). */
  readonly onError?: ((error: SourceError) => void) | undefined;
  /** Called at the start and at the end of each failure streak. */
  readonly onStreak?: ((event: StreakEvent) => void) | undefined;
  /** A source whose value never changes: load once, never schedule refreshes. */
  readonly fixed?: boolean;
  /**
   * Drop the value (`current` becomes undefined) when no load succeeded for this long, in ms.
   * Defaults to never.
   */
  readonly maxStaleMs?: number | undefined;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** Random in [0, 1), for tests. */
  readonly random?: () => number;
}

const KEY = 'value';
const SCHEDULED: SourceLoadContext = { forced: false };
const FORCED: SourceLoadContext = { forced: true };
/** A scheduled load once the values were last read half of `maxStaleMs` ago: read them again. */
const REVALIDATE: SourceLoadContext = { forced: false, revalidate: true };
const FIRST_RETRY_MS = 1_000;
/**
 * A refresh timer may fire a little before its time by the clock the cache reads: one meant to
 * come at half of `maxStaleMs` still re-reads the values.
 */
const REVALIDATE_SLACK_MS = 50;

/**
 * How much later than the values in use a load's values must have been read to count as a new
 * read, which starts a new `maxStaleMs` countdown that may bring its refresh forward once. A
 * source that only confirms old values reports their read time through `readAgoMs`, on its own
 * clock: it moves by fractions of a millisecond from one confirmation to the next. A real
 * re-read comes a refresh interval (or a forced re-read's 1 s floor) after the last one.
 */
const NEW_READ_MS = 1_000;

function asSourceError(name: string, error: unknown): SourceError {
  if (error instanceof SourceError) return error;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return new SourceError(name, `load timed out or was aborted (${error.name})`, {
      cause: error,
      awsCode: error.name,
    });
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new SourceError(name, `load failed: ${message}`, { cause: error });
}

/**
 * For a refresh whose rejection nobody awaits. Not a swallow: every load failure has already
 * been counted in `stats()`, passed to `onError` (the user's `onSourceError`) and, at the start
 * of a failure streak, emitted as a `failing` event that each adapter logs, in `#fetch` before
 * the promise rejects. Callers that need the outcome read `current` / `stats()` afterwards.
 */
function alreadyReported(): undefined {
  return undefined;
}

/**
 * A source behind an lru-cache entry. `current` is a plain field read on the hot path: no
 * promise, no I/O. Everything asynchronous happens on timers and forced refreshes.
 */
export class CachedSource<S extends Versioned, C> {
  /** The compiled value in use, or undefined when nothing was ever loaded. Hot path. */
  current: C | undefined = undefined;

  readonly #options: CachedSourceOptions<S, C>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #cache: LRUCache<string, Entry<C>, SourceLoadContext>;
  readonly #closed = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #trailing: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #version: string | undefined;
  #loadedAt: number | undefined;
  #loads = 0;
  #failures = 0;
  #consecutiveFailures = 0;
  /** When the current failure streak started (ms since epoch). */
  #streakStartedAt = 0;
  #rebuilds = 0;
  #forced = 0;
  #lastForcedAt = Number.NEGATIVE_INFINITY;
  #lastError: SourceError | undefined;
  #skipped: readonly SourceError[] = [];
  #expiry: NodeJS.Timeout | undefined;
  /** When the values expire (ms since epoch), while an expiry is armed. */
  #expiresAt: number | undefined;
  /**
   * Whether a refresh was already brought forward since the values were last read: once per
   * read, so a source that only confirms them is not polled in a loop.
   */
  #earlyUsed = false;
  /** The expiry came while a load was in flight: that load's outcome decides. */
  #expiryDue = false;
  #expired = false;
  /** When the values last expired (ms since epoch), for the `recovered` event's `downMs`. */
  #expiredAt = 0;
  /** When the values in use were last read from their store (a load's `readAgoMs` before it). */
  #valuesReadAt: number | undefined;
  #started = false;

  constructor(options: CachedSourceOptions<S, C>) {
    this.#options = options;
    this.#now = options.now ?? monotonicNow;
    this.#random = options.random ?? Math.random;
    this.#cache = new LRUCache<string, Entry<C>, SourceLoadContext>({
      max: 1,
      ttl: options.refreshMs,
      // Serve the last-known-good entry while a refresh runs and after a refresh fails.
      allowStale: false,
      noDeleteOnFetchRejection: true,
      allowStaleOnFetchRejection: true,
      fetchMethod: (_key, stale, { signal, context }) => this.#fetch(stale, signal, context),
    });
  }

  /** Whether a load is in flight right now. */
  get loading(): boolean {
    return this.#inFlight !== undefined;
  }

  /** The source's name. */
  get name(): string {
    return this.#options.name;
  }

  /** The longest a load may take: two AWS calls' `timeoutMs` and a margin. */
  #loadDeadlineMs(): number {
    return this.#options.timeoutMs * 2 + 2_000;
  }

  async #fetch(
    stale: Entry<C> | undefined,
    signal: AbortSignal,
    context: SourceLoadContext,
  ): Promise<Entry<C>> {
    const { name } = this.#options;
    // One controller per load, aborted by the cache, by close() or by the deadline. Listeners
    // are removed when the load settles (AbortSignal.any on a long-lived signal would leak).
    const controller = new AbortController();
    const abort = (reason: unknown) => controller.abort(reason);
    const onCacheAbort = () => abort(signal.reason);
    const onClose = () => abort(this.#closed.signal.reason);
    // Sources bound each AWS call by `timeoutMs` themselves (after their client is ready); this
    // outer deadline is a safety net for sources that ignore their signal.
    const deadlineMs = this.#loadDeadlineMs();
    const deadline = setTimeout(
      () => abort(new DOMException(`load exceeded ${deadlineMs} ms`, 'TimeoutError')),
      deadlineMs,
    );
    deadline.unref();
    signal.addEventListener('abort', onCacheAbort, { once: true });
    this.#closed.signal.addEventListener('abort', onClose, { once: true });
    if (signal.aborted) onCacheAbort();
    if (this.#closed.signal.aborted) onClose();
    const combined = controller.signal;
    try {
      // Race the load against the signal so a source that ignores it cannot hang a refresh.
      const snapshot = await new Promise<S>((resolve, reject) => {
        const onAbort = () => reject(combined.reason);
        if (combined.aborted) return onAbort();
        combined.addEventListener('abort', onAbort, { once: true });
        this.#options.load(combined, context).then(
          (value) => {
            combined.removeEventListener('abort', onAbort);
            resolve(value);
          },
          (error: unknown) => {
            combined.removeEventListener('abort', onAbort);
            reject(error);
          },
        );
      });
      const version = snapshot.version;
      let entry: Entry<C>;
      if (stale !== undefined && version !== undefined && stale.version === version) {
        entry = stale;
      } else {
        entry = { compiled: this.#options.compile(snapshot), version };
        this.#rebuilds++;
      }
      this.#loads++;
      const failedAttempts = this.#consecutiveFailures;
      this.#consecutiveFailures = 0;
      this.#lastError = undefined;
      this.#version = version;
      this.#loadedAt = this.#now();
      const readAgoMs =
        typeof snapshot.readAgoMs === 'number' && snapshot.readAgoMs > 0 ? snapshot.readAgoMs : 0;
      const readBefore = this.#valuesReadAt;
      this.#valuesReadAt = this.#loadedAt - readAgoMs;
      // Values read by this load, or read again since the last one (a custom source that says
      // its fresh reads are a few seconds old, a sidecar's file): a new countdown. Keyed on age 0
      // alone, such a source never got its early refresh again, and with `maxStaleMs` near the
      // refresh interval its values expired before every refresh (review, eleventh session).
      const newRead =
        readAgoMs === 0 ||
        readBefore === undefined ||
        this.#valuesReadAt - readBefore >= NEW_READ_MS;
      const wasExpired = this.#expired;
      this.current = entry.compiled;
      // Still expired when the load only confirmed values read too long ago: no new event.
      if (this.#armExpiry(readAgoMs, newRead)) this.#expired = false;
      this.#noteSkipped(snapshot.skipped);
      for (const warning of snapshot.warnings ?? []) this.#warn(asSourceError(name, warning));
      // Back in use after failures, or after the values expired (then denied): say so.
      if ((failedAttempts > 0 || wasExpired) && !this.#expired)
        this.#emit({
          type: 'recovered',
          failedAttempts,
          downMs: Math.max(
            0,
            this.#loadedAt - (failedAttempts > 0 ? this.#streakStartedAt : this.#expiredAt),
          ),
        });
      return entry;
    } catch (error) {
      // Aborted by close(): the app is shutting down, not the source failing.
      if (this.#closed.signal.aborted) throw error;
      const sourceError = asSourceError(name, error);
      this.#failures++;
      this.#consecutiveFailures++;
      this.#lastError = sourceError;
      if (this.#consecutiveFailures === 1) {
        this.#streakStartedAt = this.#now();
        this.#emit({ type: 'failing', error: sourceError, everLoaded: this.#loads > 0 });
      }
      this.#report(sourceError);
      // The store says the values no longer exist (a deleted secret): they go now, whatever
      // `maxStaleMs` says. Else, the values' time ran out while this load was in flight, and it
      // failed: they go now.
      if (sourceError.revoked && this.current !== undefined) this.#expire('revoked', sourceError);
      else if (this.#expiryDue) this.#expire('max-stale');
      throw sourceError;
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener('abort', onCacheAbort);
      this.#closed.signal.removeEventListener('abort', onClose);
    }
  }

  /**
   * (Re)start the `maxStaleMs` countdown after a successful load, from when the values were
   * last read (`readAgoMs` before now): a load that only confirmed them (Secrets Manager's
   * `DescribeSecret`) does not extend their life. Returns whether the values are in use (false
   * when they were read `maxStaleMs` ago or more: expired at once).
   * @param age - how long ago the values were read (0: by this load).
   * @param newRead - whether they were read since the values in use were: a new countdown,
   * which may bring its refresh forward once.
   */
  #armExpiry(age: number, newRead: boolean): boolean {
    const maxStaleMs = this.#options.maxStaleMs;
    if (maxStaleMs === undefined || this.#closed.signal.aborted) return true;
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = undefined;
    this.#expiresAt = undefined;
    this.#expiryDue = false;
    if (newRead) this.#earlyUsed = false;
    const ms = maxStaleMs - age;
    if (ms <= 0) {
      // Confirmed, but last read maxStaleMs ago or more: as stale as no load at all.
      this.#expire('max-stale');
      return false;
    }
    this.#expiresAt = this.#now() + ms;
    this.#expiry = setTimeout(() => {
      this.#expiry = undefined;
      // A load in flight (the refresh scheduled ahead of this moment, slower than usual)
      // decides: its success re-arms the countdown, its failure expires the values.
      if (this.#inFlight !== undefined) this.#expiryDue = true;
      else this.#expire('max-stale');
    }, ms);
    this.#expiry.unref();
    return true;
  }

  /**
   * The values are too old to use (`max-stale`) or their store revoked them (`revoked`, with
   * the load's error): deny from now until a load succeeds, and say so once.
   */
  #expire(reason: 'max-stale' | 'revoked', error?: SourceError): void {
    this.#expiryDue = false;
    this.#expiresAt = undefined;
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = undefined;
    this.current = undefined;
    if (this.#expired) return;
    this.#expired = true;
    this.#expiredAt = this.#now();
    this.#emit({
      type: 'expired',
      staleMs: reason === 'max-stale' ? (this.#options.maxStaleMs ?? 0) : 0,
      reason,
      error,
    });
  }

  /**
   * Keep what a load left out for stats, and report what is new since the last load (`onError`
   * and a `warning` event).
   */
  #noteSkipped(skipped: readonly Error[] | undefined): void {
    const list = (skipped ?? []).map((e) => asSourceError(this.#options.name, e));
    // Only what is new since the last load: a problem still there is not said again.
    const before = new Set(this.#skipped.map((e) => e.message));
    this.#skipped = list;
    for (const e of list) if (!before.has(e.message)) this.#warn(e);
  }

  /**
   * A problem that did not stop a load (a value left out, a fallback): through `onError`, and
   * as a `warning` event, which the adapters log (outside review, 8th session: an invalid
   * `AWSPENDING` was only in `stats()`, and its requests were denied without a log line).
   */
  #warn(error: SourceError): void {
    this.#report(error);
    this.#emit({ type: 'warning', error });
  }

  /**
   * Pass `error` to `onError` (the user's `onSourceError`). A callback that throws must not
   * turn a load that succeeded into a failure, nor hide the recovery that follows it: what it
   * throws is dropped, as for a throwing `onStreak` listener.
   */
  #report(error: SourceError): void {
    try {
      handleRejection(this.#options.onError?.(error), ignore);
    } catch {
      // The callback's own failure; the load's outcome stands.
    }
  }

  #emit(event: StreakEvent): void {
    try {
      handleRejection(this.#options.onStreak?.(event), ignore);
    } catch {
      // A listener must never break a refresh.
    }
  }

  /**
   * Load now (or join the load in flight). Resolves when it settles; rejects with the load's
   * `SourceError` when it failed. The last-known-good value stays in use either way. `context` goes to the source (defaults to a scheduled, unforced load).
   */
  refresh(context: SourceLoadContext = SCHEDULED): Promise<void> {
    if (this.#closed.signal.aborted) return Promise.resolve();
    if (this.#inFlight) return this.#inFlight;
    const run = this.#refresh(context).finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = run;
    return run;
  }

  async #refresh(context: SourceLoadContext): Promise<void> {
    const failuresBefore = this.#failures;
    const loadsBefore = this.#loads;
    // With `maxStaleMs`, a scheduled load once the values were last read half of it ago asks
    // the source to read them again, not only confirm them: `maxStaleMs` counts from that read,
    // so a source left to confirm (Secrets Manager's `DescribeSecret`) would expire values that
    // every load confirmed (outside review, 4 December: `secret: secretsManagerSource(...)` with
    // `maxStaleMs` denied every request for good while AWS was healthy).
    const maxStaleMs = this.#options.maxStaleMs;
    const effective =
      context === SCHEDULED &&
      maxStaleMs !== undefined &&
      this.#valuesReadAt !== undefined &&
      this.#now() - this.#valuesReadAt >= maxStaleMs / 2 - REVALIDATE_SLACK_MS
        ? REVALIDATE
        : context;
    try {
      await this.#cache.fetch(KEY, { forceRefresh: true, allowStale: false, context: effective });
    } catch {
      // Recorded in #fetch; reported below.
    }
    this.#schedule();
    if (this.#loads === loadsBefore && this.#failures > failuresBefore && this.#lastError)
      throw this.#lastError;
  }

  /**
   * Force a refresh unless one was forced less than `minForcedIntervalMs` ago. Returns the
   * refresh's promise (joining one already in flight), or undefined when rate-limited. A
   * rate-limited call schedules one trailing refresh at the end of the window, so a value
   * that appeared in the meantime (a rotation) is picked up within `minForcedIntervalMs`
   * even while a flood of bad values keeps the window busy.
   */
  forceRefresh(): Promise<void> | undefined {
    if (this.#closed.signal.aborted) return undefined;
    // A fixed source can never change: refreshing it cannot help.
    if (this.#options.fixed) return undefined;
    if (this.#inFlight) return this.#inFlight.catch(alreadyReported);
    const now = this.#now();
    const wait = this.#lastForcedAt + this.#options.minForcedIntervalMs - now;
    if (wait > 0) {
      if (!this.#trailing) {
        this.#trailing = setTimeout(() => {
          this.#trailing = undefined;
          this.forceRefresh();
        }, wait);
        this.#trailing.unref();
      }
      return undefined;
    }
    this.#lastForcedAt = now;
    this.#forced++;
    return this.refresh(FORCED).catch(alreadyReported);
  }

  /** Start the refresh timer and make the first load. Idempotent. */
  start(): Promise<void> {
    if (this.#options.fixed && this.current !== undefined) return Promise.resolve();
    if (!this.#started) {
      this.#started = true;
      return this.refresh();
    }
    return this.current === undefined ? this.refresh() : Promise.resolve();
  }

  /** Install a value compiled synchronously at construction (fixed sources). */
  prime(snapshot: S): void {
    const compiled = this.#options.compile(snapshot);
    this.#cache.set(KEY, { compiled, version: snapshot.version });
    this.#version = snapshot.version;
    this.#loadedAt = this.#now();
    this.#loads++;
    this.#rebuilds++;
    this.current = compiled;
  }

  #schedule(): void {
    if (this.#closed.signal.aborted) return;
    if (this.#options.fixed && this.current !== undefined) return;
    if (this.#timer) clearTimeout(this.#timer);
    const { refreshMs, jitter } = this.#options;
    // After failures, retry sooner with exponential backoff, never later than the interval.
    const base =
      this.#consecutiveFailures === 0
        ? refreshMs
        : Math.min(refreshMs, FIRST_RETRY_MS * 2 ** Math.min(this.#consecutiveFailures - 1, 20));
    let delay = Math.max(1, Math.round(base * (1 + jitter * (2 * this.#random() - 1))));
    // With `maxStaleMs`, refresh early enough that the load ends before the values expire: a
    // refresh falling after the expiry (jitter, or `maxStaleMs` close to the interval) would
    // deny every request until it ends while every load succeeds. The lead is the load's own
    // deadline, at most a quarter of `maxStaleMs`. Once per read of the values: a source that
    // only confirms values read long ago (a custom one with `readAgoMs`) leaves the countdown
    // where it was, and is not polled in a loop as their end nears (the countdown's end, from
    // two clocks, is no key: it moved by fractions of a millisecond on every confirmation). (Outside review, 8th session:
    // this was skipped when it fell sooner than a first retry, 1 s, so with `maxStaleMs` under
    // about 4 s a healthy source saw its values expire every countdown.)
    const expiresAt = this.#expiresAt;
    const maxStaleMs = this.#options.maxStaleMs;
    if (expiresAt !== undefined && maxStaleMs !== undefined && !this.#earlyUsed) {
      const lead = Math.min(this.#loadDeadlineMs(), maxStaleMs / 4);
      const latest = Math.floor(expiresAt - lead - this.#now());
      if (latest < delay) {
        delay = Math.max(1, latest);
        this.#earlyUsed = true;
      }
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.refresh().catch(alreadyReported);
    }, delay);
    this.#timer.unref();
  }

  /**
   * Stop refreshing and abort a load in flight. The current value stays readable until
   * `maxStaleMs` runs out, when set: its countdown (an unref'd timer) outlives `close()`, so a
   * server still wired to a closed guard does not trust the values for ever (outside review,
   * 8th session).
   */
  close(): void {
    this.#closed.abort(new Error('closed'));
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#trailing) clearTimeout(this.#trailing);
    this.#timer = undefined;
    this.#trailing = undefined;
    // The time ran out while the load close() aborts was in flight: that load was to decide,
    // and will not (review of this change, 8th session: the values were then kept for good).
    if (this.#expiryDue) this.#expire('max-stale');
  }

  /** Counters and health, without any value. */
  stats(): SourceStats {
    const e = this.#lastError;
    return {
      name: this.#options.name,
      loaded: this.current !== undefined,
      version: this.#version,
      loadedAt: this.#loadedAt,
      loads: this.#loads,
      failures: this.#failures,
      rebuilds: this.#rebuilds,
      forcedRefreshes: this.#forced,
      lastError: e ? { code: e.awsCode ?? e.code, message: e.message } : undefined,
      skipped: this.#skipped.map((s) => ({ code: s.awsCode ?? s.code, message: s.message })),
      expired: this.#expired,
    };
  }
}

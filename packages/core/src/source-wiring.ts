/**
 * Source wiring: which source serves which option, how each snapshot is compiled, which
 * sources the verifier owns (and closes), and the two cached sources the verifier reads.
 * @module
 */
import { SourceError } from './errors.js';
import { RangeMatcher } from './net/matcher.js';
import type { ResolvedOptions } from './options/types.js';
import { SecretMatcher, secretValueProblem } from './secret/compare.js';
import { CachedSource, type StreakEvent } from './sources/cache.js';
import { refuseHostileEntries } from './sources/feed-check.js';
import { ipRangesSource } from './sources/ip-ranges.js';
import { prefixListSource } from './sources/prefix-list.js';
import { secretsManagerSource } from './sources/secrets-manager.js';
import { staticRangeSource } from './sources/static.js';
import type { RangeSnapshot, RangeSource, SecretSnapshot, SecretSource } from './sources/types.js';

/** The two cached sources a verifier reads, and the sources it created (its to close). */
export interface WiredSources {
  readonly secret: CachedSource<SecretSnapshot, SecretMatcher>;
  readonly ranges: CachedSource<RangeSnapshot, RangeMatcher>;
  /** Sources the guard created; sources the caller passed in stay the caller's. */
  readonly owned: readonly (SecretSource | RangeSource)[];
}

/**
 * With `previousMaxAgeMs`, when each value stops being accepted: `AWSPREVIOUS` at the
 * `AWSCURRENT` version's creation plus that age (at once when that is unknown), unless another
 * accepted stage holds the same value or its own version was created after the `AWSCURRENT`
 * one (a rollback); every other value never. Undefined without the option. The creation times
 * are the store's clock; `clockOffsetMs` (how far it is ahead of this one) moves the limit onto
 * this clock, which the verifier reads.
 */
function expiries(
  values: SecretSnapshot['values'],
  previousMaxAgeMs: number | undefined,
  clockOffsetMs: number,
): number[] | undefined {
  if (previousMaxAgeMs === undefined) return undefined;
  const known = (t: number | undefined): t is number => typeof t === 'number' && Number.isFinite(t);
  const currentCreated = values.find((v) => v.stage === 'AWSCURRENT')?.createdAt;
  return values.map((v) => {
    if (v.stage !== 'AWSPREVIOUS') return Number.POSITIVE_INFINITY;
    // A value another accepted stage holds too (after a rollback, AWSPENDING stays on the
    // version CloudFront sends, now AWSPREVIOUS) is that stage's: never limited (outside
    // review, 4 December: it was denied at once, or not, by the order of the stages).
    if (values.some((o) => o !== v && o.stage !== 'AWSPREVIOUS' && o.value === v.value))
      return Number.POSITIVE_INFINITY;
    if (!known(currentCreated)) return Number.NEGATIVE_INFINITY;
    // A rollback (AWSCURRENT moved back to an older version): the value it demoted is the one
    // CloudFront was sending, and its creation says nothing of when the labels moved (a
    // rollback two days after a rotation denied it at once with a one-day window, outside
    // review, 4 December, fifth session). Never limited: the next rotation retires it.
    if (known(v.createdAt) && v.createdAt > currentCreated) return Number.POSITIVE_INFINITY;
    return currentCreated + previousMaxAgeMs - clockOffsetMs;
  });
}

function compileSecret(name: string, previousMaxAgeMs: number | undefined) {
  return (snapshot: SecretSnapshot): SecretMatcher => {
    if (!snapshot || !Array.isArray(snapshot.values) || snapshot.values.length === 0)
      throw new SourceError(name, 'returned no secret values');
    snapshot.values.forEach((entry, i) => {
      const problem = secretValueProblem(entry?.value);
      if (problem)
        throw new SourceError(name, `value #${i} (stage ${String(entry?.stage)}) ${problem}`);
    });
    const offset = snapshot.clockOffsetMs;
    const clockOffsetMs = typeof offset === 'number' && Number.isFinite(offset) ? offset : 0;
    return new SecretMatcher(
      snapshot.values,
      expiries(snapshot.values, previousMaxAgeMs, clockOffsetMs),
    );
  };
}

function compileRanges(name: string) {
  return (snapshot: RangeSnapshot): RangeMatcher => {
    if (!snapshot || !Array.isArray(snapshot.cidrs) || snapshot.cidrs.length === 0)
      throw new SourceError(name, 'returned no ranges; keeping the last-known-good list');
    // Every source's list, a custom one's too (the AWS sources already refused it when loading).
    refuseHostileEntries(
      name,
      'its range list',
      snapshot.cidrs.filter((c): c is string => typeof c === 'string'),
    );
    try {
      return RangeMatcher.compile(snapshot.cidrs, name);
    } catch (error) {
      throw new SourceError(name, `returned an invalid range list: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
}

function makeSecretSource(resolved: ResolvedOptions): SecretSource {
  const secret = resolved.secret;
  switch (secret.kind) {
    case 'source':
      return secret.source;
    case 'static':
      return { name: 'static-secret', load: async () => secret.snapshot };
    case 'secrets-manager':
      return secretsManagerSource({
        secretId: secret.secretId,
        jsonKey: secret.jsonKey,
        stages: secret.stages,
        // biome-ignore lint/suspicious/noExplicitAny: validated in options (has `send`)
        client: secret.client as any,
        region: resolved.region,
        timeoutMs: resolved.timeoutMs,
        // maxStaleMs counts from the last time the values were read, not only their labels: the
        // cache asks for a read (`context.revalidate`) once they were read half of it ago.
      });
  }
}

function makeRangeSource(resolved: ResolvedOptions): RangeSource {
  const ranges = resolved.ranges;
  switch (ranges.kind) {
    case 'source':
      return ranges.source;
    case 'static':
      return staticRangeSource(ranges.cidrs);
    case 'prefix-list':
      return prefixListSource({
        names: ranges.names,
        // biome-ignore lint/suspicious/noExplicitAny: validated in options (has `send`)
        client: ranges.client as any,
        region: resolved.region,
        timeoutMs: resolved.timeoutMs,
      });
    case 'ip-ranges':
      return ipRangesSource({
        url: ranges.url,
        timeoutMs: resolved.timeoutMs,
        allowInsecureUrl: ranges.allowInsecure,
      });
  }
}

/**
 * Build the sources for `resolved`, each behind a {@link CachedSource}. Static values are
 * compiled here (a bad CIDR is an error at construction) and usable at once, without `ready()`.
 * `onStreak` hears the failure streaks of both, tagged with the source.
 */
export function wireSources(
  resolved: ResolvedOptions,
  onStreak: (source: 'secret' | 'ranges', event: StreakEvent) => void,
): WiredSources {
  const staticRanges =
    resolved.ranges.kind === 'static'
      ? RangeMatcher.compile(resolved.ranges.cidrs, 'ranges')
      : undefined;
  const secretSource = makeSecretSource(resolved);
  const rangeSource = makeRangeSource(resolved);
  const owned: (SecretSource | RangeSource)[] = [];
  if (resolved.secret.kind === 'secrets-manager') owned.push(secretSource);
  if (resolved.ranges.kind === 'prefix-list' || resolved.ranges.kind === 'ip-ranges')
    owned.push(rangeSource);
  const common = {
    jitter: resolved.refreshJitter,
    timeoutMs: resolved.timeoutMs,
    minForcedIntervalMs: resolved.mismatchRefreshMs,
    onError: resolved.onSourceError,
  };
  const secret = new CachedSource<SecretSnapshot, SecretMatcher>({
    ...common,
    onStreak: (event) => onStreak('secret', event),
    name: secretSource.name,
    load: (signal, context) => secretSource.load(signal, context),
    compile: compileSecret(
      secretSource.name,
      resolved.secret.kind === 'secrets-manager' ? resolved.secret.previousMaxAgeMs : undefined,
    ),
    refreshMs: resolved.secretRefreshMs,
    fixed: resolved.secret.kind === 'static',
    maxStaleMs: resolved.secret.kind === 'static' ? undefined : resolved.maxStaleMs,
  });
  const ranges = new CachedSource<RangeSnapshot, RangeMatcher>({
    ...common,
    onStreak: (event) => onStreak('ranges', event),
    name: rangeSource.name,
    load: (signal) => rangeSource.load(signal),
    compile: staticRanges ? () => staticRanges : compileRanges(rangeSource.name),
    refreshMs: resolved.rangesRefreshMs,
    fixed: resolved.ranges.kind === 'static',
    // Every successful load confirms the list and restarts the countdown (the AWS range sources
    // never report `readAgoMs`): a full read, an ip-ranges 304 and an unchanged prefix-list
    // version alike; a failed or refused load does not. Undefined with static ranges (an error
    // at resolution).
    maxStaleMs: resolved.rangesMaxStaleMs,
  });
  if (resolved.secret.kind === 'static') secret.prime(resolved.secret.snapshot);
  if (resolved.ranges.kind === 'static')
    ranges.prime({ cidrs: resolved.ranges.cidrs, version: 'static' });
  return { secret, ranges, owned };
}

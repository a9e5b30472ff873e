/**
 * Timing: does comparing a wrong value take longer when it shares a long prefix with an
 * accepted one (or has the same length)? Each comparison runs `batches` interleaved batch
 * pairs (A then B, or B then A, at random) of `calls` calls each; the figure per batch is the
 * mean ns per call. Compared: the ratio of the medians of the batch means, the Mann-Whitney
 * probability that a B batch is slower than an A batch (0.5 = no tendency), and the KS distance.
 *
 * A deliberately leaky comparer (early-exit byte loop, same surrounding work) runs through the
 * same harness as a positive control, to show the harness would see a leak of this size.
 * Raw Mann-Whitney probabilities flag differences far below 1 % on this kind of machine
 * (memory layout, branch history), so the checks use a 5 % tolerance. On a shared machine
 * other processes slow whole batches down (bimodal batch means), which moves the unpaired
 * median by up to ~10 % at random; the paired ratio cancels that, so it carries the tight
 * bound and the ratio of medians a generous one.
 * @module
 */
import { createOriginVerifier, type VerifyInput } from '@cdn-origin-guard/core';
import { MAX_SECRET_LENGTH, SecretMatcher } from '../../../packages/core/src/secret/compare.js';

const L = MAX_SECRET_LENGTH;

import { ksDistance, mannWhitney, median, quantile } from '../support/stats.js';
import { newSecret, prng } from '../support/traffic.js';

export interface Comparison {
  readonly name: string;
  readonly a: string;
  readonly b: string;
  readonly batches: number;
  readonly calls: number;
  readonly medianA: number;
  readonly medianB: number;
  /** median(B) / median(A). */
  readonly ratio: number;
  /** Median over batch pairs of B / A (pairs ran back to back, so drift cancels out). */
  readonly pairedRatio: number;
  /** 25th percentile of B over that of A: the batches least disturbed by other processes. */
  readonly lowQuartileRatio: number;
  /** Mann-Whitney: P(a B batch is slower than an A batch); 0.5 = no tendency. */
  readonly auc: number;
  /** P(a B batch is slower than an A batch made 5 % slower): high only for a real slowdown. */
  readonly aucSlowerBy5: number;
  /** P(an A batch is slower than a B batch made 5 % slower). */
  readonly aucFasterBy5: number;
  /** Kolmogorov-Smirnov distance between the two sets of batch means. */
  readonly ks: number;
}

function compare(
  name: string,
  labels: [string, string],
  fa: () => void,
  fb: () => void,
  batches: number,
  calls: number,
  seed: number,
): Comparison {
  const rand = prng(seed);
  const ta: number[] = [];
  const tb: number[] = [];
  const run = (f: () => void) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) f();
    return Number(process.hrtime.bigint() - t0) / calls;
  };
  // Warm up both paths (JIT) before measuring.
  for (let i = 0; i < 5; i++) {
    run(fa);
    run(fb);
  }
  for (let i = 0; i < batches; i++) {
    if (rand() < 0.5) {
      ta.push(run(fa));
      tb.push(run(fb));
    } else {
      tb.push(run(fb));
      ta.push(run(fa));
    }
  }
  const medianA = median(ta);
  const medianB = median(tb);
  const mw = mannWhitney(tb, ta);
  const pairs = ta.map((a, i) => tb[i]! / a);
  return {
    name,
    a: labels[0],
    b: labels[1],
    batches,
    calls,
    medianA,
    medianB,
    ratio: medianB / medianA,
    pairedRatio: median(pairs),
    lowQuartileRatio:
      quantile(
        [...tb].sort((x, y) => x - y),
        0.25,
      ) /
      quantile(
        [...ta].sort((x, y) => x - y),
        0.25,
      ),
    auc: mw.auc,
    aucSlowerBy5: mannWhitney(
      tb,
      ta.map((x) => x * 1.05),
    ).auc,
    aucFasterBy5: mannWhitney(
      ta,
      tb.map((x) => x * 1.05),
    ).auc,
    ks: ksDistance(ta, tb),
  };
}

/** An early-exit comparison over the same padded buffers: what a naive compare leaks. */
function leakyMatcher(secret: string) {
  const slot = Buffer.alloc(L);
  slot.write(secret, 0, 'latin1');
  const scratch = Buffer.alloc(L);
  return (candidate: string): boolean => {
    scratch.fill(0);
    if (candidate.length <= L) scratch.write(candidate, 0, 'utf8');
    for (let i = 0; i < L; i++) if (scratch[i] !== slot[i]) return false;
    return candidate.length === secret.length;
  };
}

export interface TimingResult {
  readonly comparisons: readonly Comparison[];
  readonly ms: number;
}

export function runTiming(options: { batches: number; calls: number; seed: number }): TimingResult {
  const started = performance.now();
  const { batches, calls, seed } = options;
  // A long secret makes a prefix leak as large as it can be (the maximum length).
  const secret = newSecret('ov', L);
  const previous = newSecret('pv', L - 8);
  const lastDiffers = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
  const firstDiffers = `${secret.startsWith('A') ? 'B' : 'A'}${secret.slice(1)}`;
  // Same length (120), one sharing its first 119 characters with the secret.
  const prefix120 = `${secret.slice(0, 119)}${secret[119] === 'A' ? 'B' : 'A'}`;
  const random120 = newSecret('rnd', 120);
  const equalLength = newSecret('eq', secret.length);
  const lengthMinusOne = newSecret('ne', secret.length - 1);
  const matcher = new SecretMatcher([
    { stage: 'AWSCURRENT', value: secret },
    { stage: 'AWSPREVIOUS', value: previous },
  ]);
  // One wrong 64-character candidate against a 64-character secret and a maximum-length one:
  // the time must not tell whether the candidate has the secret's length.
  const candidate64 = newSecret('c', 64);
  const secret64 = new SecretMatcher([{ stage: 'AWSCURRENT', value: newSecret('s', 64) }]);
  const secretLong = new SecretMatcher([{ stage: 'AWSCURRENT', value: newSecret('s', L) }]);
  let sink = 0;
  const m = (c: string) => () => {
    sink += matcher.match(c);
  };
  const verifier = createOriginVerifier({
    secret: [
      { value: secret, stage: 'AWSCURRENT' },
      { value: previous, stage: 'AWSPREVIOUS' },
    ],
    ranges: ['3.10.17.128/25'],
  });
  const input = (candidate: string): VerifyInput => ({
    headers: {
      'x-forwarded-for': '198.51.100.7, 3.10.17.130',
      'x-amz-cf-id': 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
      'x-origin-verify': candidate,
    },
    remoteAddress: '127.0.0.1',
    path: '/',
  });
  const v = (c: string) => {
    const i = input(c);
    return () => {
      sink += verifier.verify(i).allowed ? 1 : 0;
    };
  };
  const leaky = leakyMatcher(secret);
  const l = (c: string) => () => {
    sink += leaky(c) ? 1 : 0;
  };
  const vCalls = Math.max(100, Math.round(calls / 4));
  const comparisons = [
    compare(
      `SecretMatcher: shares ${L - 1} of ${L} chars vs first char differs`,
      ['first differs', 'last differs'],
      m(firstDiffers),
      m(lastDiffers),
      batches,
      calls,
      seed + 1,
    ),
    compare(
      'SecretMatcher: 120 chars, shares 119 vs random',
      ['random', 'shared prefix'],
      m(random120),
      m(prefix120),
      batches,
      calls,
      seed + 2,
    ),
    compare(
      `SecretMatcher: 64-char wrong value vs a ${L}-char and a 64-char secret`,
      ['secret length differs', 'secret length equal'],
      () => {
        sink += secretLong.match(candidate64);
      },
      () => {
        sink += secret64.match(candidate64);
      },
      batches,
      calls,
      seed + 3,
    ),
    // The second slot (AWSPREVIOUS): only an exact match stops the loop, so a near miss on a
    // later value costs what a miss on every value does.
    compare(
      `SecretMatcher: shares ${L - 9} of AWSPREVIOUS's ${L - 8} chars vs first char differs`,
      ['first differs', 'last differs'],
      m(`${previous.startsWith('A') ? 'B' : 'A'}${previous.slice(1)}`),
      m(`${previous.slice(0, -1)}${previous.endsWith('A') ? 'B' : 'A'}`),
      batches,
      calls,
      seed + 7,
    ),
    compare(
      `verify(): shares ${L - 1} of ${L} chars vs first char differs`,
      ['first differs', 'last differs'],
      v(firstDiffers),
      v(lastDiffers),
      batches,
      vCalls,
      seed + 4,
    ),
    compare(
      "verify(): wrong value of the secret's length vs one char shorter",
      ['length - 1', 'equal length'],
      v(lengthMinusOne),
      v(equalLength),
      batches,
      vCalls,
      seed + 5,
    ),
    compare(
      `control, early-exit compare: shares ${L - 1} of ${L} chars vs first differs`,
      ['first differs', 'last differs'],
      l(firstDiffers),
      l(lastDiffers),
      batches,
      calls,
      seed + 6,
    ),
  ];
  void verifier.close();
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
  return { comparisons, ms: performance.now() - started };
}

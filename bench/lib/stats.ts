/**
 * Order statistics and formatting for benchmark samples. No dependency.
 * @module
 */

/** Median and spread of a set of samples. */
export interface Summary {
  /** Number of samples. */
  readonly n: number;
  readonly median: number;
  /** 25th percentile (linear interpolation). */
  readonly p25: number;
  /** 75th percentile (linear interpolation). */
  readonly p75: number;
  readonly min: number;
  readonly max: number;
}

/** The q-quantile (0..1) of already sorted values, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Median, quartiles and extremes of `values`. */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** A duration in nanoseconds as `12.3 ns`, `1.23 µs` or `4.56 ms`. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  // The unit and digits follow the magnitude, so a negative difference reads like a positive one.
  const sign = ns < 0 ? '-' : '';
  const a = Math.abs(ns);
  if (a < 1_000)
    return `${sign}${a < 10 ? a.toFixed(2) : a < 100 ? a.toFixed(1) : a.toFixed(0)} ns`;
  if (a < 1_000_000) return `${sign}${(a / 1_000).toFixed(a < 10_000 ? 2 : 1)} µs`;
  return `${sign}${(a / 1_000_000).toFixed(2)} ms`;
}

/** `median (p25–p75)` of nanosecond figures. */
export function formatNsSummary(s: Summary): string {
  return `${formatNs(s.median)} (${formatNs(s.p25)}–${formatNs(s.p75)})`;
}

/** A ratio as `12.3×` (three significant digits at most). */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 10) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

/** `median× (p25–p75)` of ratios. */
export function formatRatioSummary(s: Summary): string {
  return `${formatRatio(s.median)} (${formatRatio(s.p25)}–${formatRatio(s.p75)})`;
}

/** A percentage with a sign, e.g. `+1.2 %`, `-0.4 %`. */
export function formatPercent(p: number): string {
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)} %`;
}

/** An integer with thousands separators. */
export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes as MB with two decimals (1 MB = 2^20 bytes). */
export function formatMb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** A median with its distribution-free confidence interval. */
export interface MedianCI {
  readonly n: number;
  readonly median: number;
  /** Lower bound: the k-th smallest sample (NaN when n is too small for the confidence asked). */
  readonly lo: number;
  /** Upper bound: the k-th largest sample. */
  readonly hi: number;
  /** The rank k (1-based) of both bounds, counted from each end; 0 when there is no interval. */
  readonly rank: number;
  /** The interval's exact coverage, `1 − 2·P(Binomial(n, ½) ≤ k − 1)` (0 when there is none). */
  readonly coverage: number;
}

/** `P(X <= k)` for `X ~ Binomial(n, 1/2)`, summed in log space so large `n` does not overflow. */
export function binomialHalfCdf(n: number, k: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let logTerm = -n * Math.LN2; // log C(n, 0) / 2^n
  let sum = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log(n - i + 1) - Math.log(i);
    sum += Math.exp(logTerm);
  }
  return Math.min(1, sum);
}

/**
 * The median of `values` with its distribution-free confidence interval from order statistics:
 * `[x(k), x(n−k+1)]` with the largest k whose coverage is at least `confidence`. It assumes only
 * that the samples are independent draws of one distribution (no normality), which suits
 * per-round paired differences on a noisy machine. Needs n >= 6 for 95 %.
 */
export function medianCI(values: readonly number[], confidence = 0.95): MedianCI {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = quantile(sorted, 0.5);
  const tail = (1 - confidence) / 2;
  let rank = 0;
  while (rank + 1 <= n / 2 && binomialHalfCdf(n, rank) <= tail) rank++;
  if (rank === 0) return { n, median, lo: Number.NaN, hi: Number.NaN, rank: 0, coverage: 0 };
  return {
    n,
    median,
    lo: sorted[rank - 1]!,
    hi: sorted[n - rank]!,
    rank,
    coverage: 1 - 2 * binomialHalfCdf(n, rank - 1),
  };
}

/** Whether a figure meets an upper limit, judged on its confidence interval. */
export type Decision = 'PASS' | 'MISS' | 'UNDECIDED';

/**
 * PASS when the whole interval is at or under `limit`, MISS when it is wholly above, UNDECIDED
 * when it straddles the limit (or there is no interval).
 */
export function decide(ci: MedianCI, limit: number): Decision {
  if (!(ci.rank > 0)) return 'UNDECIDED';
  if (ci.hi <= limit) return 'PASS';
  if (ci.lo > limit) return 'MISS';
  return 'UNDECIDED';
}

/**
 * The mean of the values under `factor` × their median, and how many were left out. For
 * per-request timings on a shared machine: a request during which the process was descheduled
 * (or paused by a major GC) takes milliseconds instead of microseconds and is dropped, while
 * the ordinary spread between inputs (an IPv6 edge costs a little more) stays in the mean.
 */
export function filteredMean(
  values: ArrayLike<number>,
  factor = 2,
): { mean: number; kept: number; dropped: number } {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const limit = quantile(sorted, 0.5) * factor;
  let sum = 0;
  let kept = 0;
  for (const v of sorted) {
    if (v >= limit) break;
    sum += v;
    kept++;
  }
  return { mean: kept > 0 ? sum / kept : Number.NaN, kept, dropped: sorted.length - kept };
}

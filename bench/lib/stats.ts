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
  if (ns < 1_000) return `${ns < 10 ? ns.toFixed(2) : ns < 100 ? ns.toFixed(1) : ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(ns < 10_000 ? 2 : 1)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
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

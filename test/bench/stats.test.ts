import { describe, expect, it } from 'vitest';
import {
  binomialHalfCdf,
  decide,
  filteredMean,
  formatNs,
  medianCI,
} from '../../bench/lib/stats.js';

/** 1..n in a shuffled order, so the function has to sort. */
const shuffled = (n: number) =>
  Array.from({ length: n }, (_, i) => i + 1).sort(
    (a, b) => ((a * 7919) % 101) - ((b * 7919) % 101),
  );

describe('binomialHalfCdf', () => {
  it('matches exact binomial sums', () => {
    expect(binomialHalfCdf(4, 0)).toBeCloseTo(1 / 16, 12);
    expect(binomialHalfCdf(4, 1)).toBeCloseTo(5 / 16, 12);
    expect(binomialHalfCdf(4, 4)).toBe(1);
    expect(binomialHalfCdf(30, 9)).toBeCloseTo(0.021387, 5);
  });
});

describe('medianCI (distribution-free, order statistics)', () => {
  it('takes the 10th and 21st of 30 samples for 95 % (coverage 95.7 %)', () => {
    const ci = medianCI(shuffled(30));
    expect(ci.rank).toBe(10);
    expect([ci.lo, ci.median, ci.hi]).toEqual([10, 15.5, 21]);
    expect(ci.coverage).toBeCloseTo(0.9572, 4);
  });

  it('gives no interval under 6 samples and min–max at 6', () => {
    expect(medianCI(shuffled(5)).rank).toBe(0);
    expect(decide(medianCI(shuffled(5)), 100)).toBe('UNDECIDED');
    const six = medianCI(shuffled(6));
    expect([six.lo, six.hi]).toEqual([1, 6]);
  });

  it('picks the narrowest interval that still covers at least 95 %, for every n up to 200', () => {
    for (let n = 6; n <= 200; n++) {
      const ci = medianCI(shuffled(n));
      expect(ci.coverage).toBeGreaterThanOrEqual(0.95);
      // One rank further in would fall under 95 %.
      expect(1 - 2 * binomialHalfCdf(n, ci.rank)).toBeLessThan(0.95);
    }
  });
});

describe('decide', () => {
  const ci = medianCI([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // 95 %: [2, 9]
  it('passes only when the whole interval is within the limit', () => {
    expect([ci.lo, ci.hi]).toEqual([2, 9]);
    expect(decide(ci, 9)).toBe('PASS');
    expect(decide(ci, 1.9)).toBe('MISS');
    expect(decide(ci, 5)).toBe('UNDECIDED');
  });
});

describe('filteredMean', () => {
  it('drops values at or over twice the median and averages the rest', () => {
    // Ten ordinary requests (10–12 µs) and two that spanned a descheduling (4 ms, 900 µs).
    const times = [10, 11, 12, 10, 4000, 11, 12, 10, 11, 900, 12, 10];
    const r = filteredMean(times);
    expect(r.dropped).toBe(2);
    expect(r.kept).toBe(10);
    expect(r.mean).toBeCloseTo(10.9, 10);
  });

  it('keeps everything when nothing is far from the median', () => {
    expect(filteredMean([5, 6, 7, 8])).toEqual({ mean: 6.5, kept: 4, dropped: 0 });
  });
});

describe('formatNs', () => {
  it('picks the unit and digits by magnitude, for negative differences too', () => {
    expect(formatNs(7.5)).toBe('7.50 ns');
    expect(formatNs(446.2)).toBe('446 ns');
    expect(formatNs(1_490)).toBe('1.49 µs');
    expect(formatNs(-1_599.04)).toBe('-1.60 µs');
    expect(formatNs(-58.41)).toBe('-58.4 ns');
    expect(formatNs(-2_500_000)).toBe('-2.50 ms');
  });
});

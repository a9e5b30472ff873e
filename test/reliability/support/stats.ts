/**
 * Small statistics used by the reliability tests and the soak: quantiles, latency recording,
 * least-squares slope, Mann-Whitney U and Kolmogorov-Smirnov distance, and a heap/event-loop
 * monitor.
 * @module
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Latencies in ms, kept in a bounded reservoir (uniform sample) plus exact count and max. */
export class Latencies {
  readonly #sample: number[] = [];
  #count = 0;
  #max = 0;
  constructor(readonly capacity = 200_000) {}

  add(ms: number): void {
    this.#count++;
    if (ms > this.#max) this.#max = ms;
    if (this.#sample.length < this.capacity) this.#sample.push(ms);
    else {
      const j = Math.floor(Math.random() * this.#count);
      if (j < this.capacity) this.#sample[j] = ms;
    }
  }

  get count(): number {
    return this.#count;
  }

  summary(): { count: number; p50: number; p99: number; max: number } {
    const sorted = [...this.#sample].sort((a, b) => a - b);
    return {
      count: this.#count,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: this.#max,
    };
  }
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * Mann-Whitney U of samples a and b, as the probability that a value of `a` exceeds one of
 * `b` (ties count half): 0.5 means neither tends to be larger. Also the two-sided z score.
 */
export function mannWhitney(
  a: readonly number[],
  b: readonly number[],
): { auc: number; z: number } {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort(
    (x, y) => x.v - y.v,
  );
  const ranks = new Array<number>(all.length);
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = r;
    i = j + 1;
  }
  let rankSumA = 0;
  all.forEach((x, i) => {
    if (x.g === 0) rankSumA += ranks[i]!;
  });
  const n1 = a.length;
  const n2 = b.length;
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
  return { auc: u / (n1 * n2), z: (u - mu) / sigma };
}

/** Two-sample Kolmogorov-Smirnov distance (largest gap between the empirical CDFs). */
export function ksDistance(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

const LOOP_RESOLUTION_MS = 1;

/**
 * Heap and event-loop delay while a run lasts: `heapUsed` every `intervalMs`, `heapUsed` right
 * after every major (mark-sweep) GC, which tracks retained memory without forcing collections,
 * and the event-loop delay histogram (sampled every 1 ms; figures are the delay beyond that).
 */
export class RuntimeMonitor {
  readonly #loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  readonly #times: number[] = [];
  readonly #heap: number[] = [];
  readonly #gcTimes: number[] = [];
  readonly #gcHeap: number[] = [];
  readonly #start = Date.now();
  readonly #observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        this.#gcTimes.push((Date.now() - this.#start) / 1000);
        this.#gcHeap.push(process.memoryUsage().heapUsed / 1024 / 1024);
      }
    }
  });
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly intervalMs = 1000) {}

  start(): this {
    this.#loop.enable();
    this.#observer.observe({ entryTypes: ['gc'] });
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.intervalMs);
    return this;
  }

  #sample(): void {
    this.#times.push((Date.now() - this.#start) / 1000);
    this.#heap.push(process.memoryUsage().heapUsed);
  }

  stop(): RuntimeSummary {
    if (this.#timer) clearInterval(this.#timer);
    this.#sample();
    this.#loop.disable();
    this.#observer.disconnect();
    const mb = (b: number) => b / 1024 / 1024;
    const heap = this.#heap.map(mb);
    const delay = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    return {
      samples: heap.length,
      heapStartMb: heap[0]!,
      heapEndMb: heap[heap.length - 1]!,
      heapMaxMb: Math.max(...heap),
      heapSlopeMbPerMin: slope(this.#times, heap) * 60,
      majorGcs: this.#gcHeap.length,
      afterMajorGcFirstMb: this.#gcHeap[0] ?? Number.NaN,
      afterMajorGcLastMb: this.#gcHeap[this.#gcHeap.length - 1] ?? Number.NaN,
      afterMajorGcSlopeMbPerMin:
        this.#gcHeap.length >= 3 ? slope(this.#gcTimes, this.#gcHeap) * 60 : Number.NaN,
      loopP50Ms: delay(this.#loop.percentile(50)),
      loopP99Ms: delay(this.#loop.percentile(99)),
      loopMaxMs: delay(this.#loop.max),
    };
  }
}

export interface RuntimeSummary {
  readonly samples: number;
  /** `heapUsed` sampled every interval (includes garbage not yet collected). */
  readonly heapStartMb: number;
  readonly heapEndMb: number;
  readonly heapMaxMb: number;
  readonly heapSlopeMbPerMin: number;
  /** `heapUsed` right after each major GC: the retained heap. */
  readonly majorGcs: number;
  readonly afterMajorGcFirstMb: number;
  readonly afterMajorGcLastMb: number;
  /** NaN with fewer than 3 major GCs. */
  readonly afterMajorGcSlopeMbPerMin: number;
  /** Event-loop delay beyond the 1 ms sampling interval. */
  readonly loopP50Ms: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
}

/** `--expose-gc`'s `gc()` without the flag, for a heap reading after a full collection. */
export async function collectGarbage(): Promise<number> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

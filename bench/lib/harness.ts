/**
 * A small timing harness for micro-benchmarks: warm-up, batches timed with
 * `process.hrtime.bigint()`, and samples interleaved between candidates so that a noisy machine
 * (other processes, CPU frequency changes) affects every candidate alike. Figures are medians
 * and quartiles over rounds; ratios are taken per round (side by side), then summarised.
 * @module
 */
import { type Summary, summarize } from './stats.js';

/** One thing to time. */
export interface Candidate {
  /** Row label. */
  readonly name: string;
  /**
   * One call of the code under test. `i` grows by one per call (across batches), so a
   * candidate can cycle through a pool of inputs with `pool[i & mask]`. A truthy result is
   * counted, so the work cannot be optimised away.
   */
  readonly fn: (i: number) => unknown;
}

/** How long and how often to sample. */
export interface HarnessOptions {
  /** Timed batches per candidate (rounds). */
  readonly samples: number;
  /** Target duration of one timed batch, in ms (the batch size is calibrated to it). */
  readonly batchMs: number;
  /** Untimed run per candidate before calibration, in ms (lets the JIT reach its top tier). */
  readonly warmupMs: number;
}

/** Timings of one candidate. */
export interface Measured {
  readonly name: string;
  /** Calls per timed batch. */
  readonly batch: number;
  /** Nanoseconds per call: median, quartiles, extremes over the rounds. */
  readonly ns: Summary;
  /** Nanoseconds per call, one figure per round (same round order for every candidate). */
  readonly samples: readonly number[];
  /**
   * Process CPU time per call (user + system, `process.cpuUsage()`), summarised: unlike wall
   * time it leaves out the time other processes held the CPU.
   */
  readonly cpuNs: Summary;
}

type Batch = (start: number, n: number) => number;

/** Anything truthy the candidates returned; read at the end so no result is dead code. */
let sink = 0;

/** The count of truthy results seen so far (keeps results observable). */
export function sinkValue(): number {
  return sink;
}

/**
 * Builds a batch loop of its own for `fn`. A fresh function (not a shared closure) per
 * candidate keeps the call site inside the loop monomorphic, so V8 can inline `fn` the same
 * way for every candidate instead of going megamorphic in a shared loop.
 */
function makeBatch(fn: (i: number) => unknown): Batch {
  const factory = new Function(
    'fn',
    `return function batch(start, n) {
      let hits = 0;
      const end = start + n;
      for (let i = start; i < end; i++) if (fn(i)) hits++;
      return hits;
    };`,
  ) as (f: (i: number) => unknown) => Batch;
  return factory(fn);
}

const WRAP = 2 ** 30;

class Runner {
  readonly name: string;
  readonly #batch: Batch;
  #next = 0;
  n = 1;

  constructor(candidate: Candidate) {
    this.name = candidate.name;
    this.#batch = makeBatch(candidate.fn);
  }

  /** CPU nanoseconds of the last timed batch. */
  lastCpuNs = 0;

  /** Runs `n` calls and returns the elapsed (wall) nanoseconds. */
  time(n: number): number {
    const start = this.#next;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    sink += this.#batch(start, n);
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    this.lastCpuNs = (c.user + c.system) * 1000;
    this.#next = (start + n) % WRAP;
    return Number(t1 - t0);
  }

  warmup(ms: number): void {
    const until = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
    let n = 1;
    while (process.hrtime.bigint() < until) {
      const t = this.time(n);
      if (t < 1e6) n = Math.min(n * 2, 1 << 24);
    }
  }

  calibrate(batchMs: number): void {
    const target = batchMs * 1e6;
    let n = 1;
    let t = this.time(n);
    while (t < target / 8) {
      n *= 4;
      t = this.time(n);
    }
    // Take the faster of two timings so one interruption does not shrink the batch.
    t = Math.min(t, this.time(n));
    this.n = Math.max(1, Math.round((n * target) / t));
  }
}

/**
 * Times `candidates` side by side: each is warmed up and its batch size calibrated, then
 * `samples` rounds run; in each round every candidate runs one timed batch, the order rotating
 * from round to round.
 */
export function compare(candidates: readonly Candidate[], options: HarnessOptions): Measured[] {
  const runners = candidates.map((c) => new Runner(c));
  for (const r of runners) r.warmup(options.warmupMs);
  for (const r of runners) r.calibrate(options.batchMs);
  const perRound: number[][] = runners.map(() => []);
  const cpu: number[][] = runners.map(() => []);
  const k = runners.length;
  for (let round = 0; round < options.samples; round++) {
    for (let j = 0; j < k; j++) {
      const idx = (round + j) % k;
      const r = runners[idx]!;
      perRound[idx]!.push(r.time(r.n) / r.n);
      cpu[idx]!.push(r.lastCpuNs / r.n);
    }
  }
  return runners.map((r, i) => ({
    name: r.name,
    batch: r.n,
    ns: summarize(perRound[i]!),
    samples: perRound[i]!,
    cpuNs: summarize(cpu[i]!),
  }));
}

/** Per-round ratio `numerator / denominator`, summarised (e.g. how many times slower). */
export function pairedRatio(numerator: Measured, denominator: Measured): Summary {
  const n = Math.min(numerator.samples.length, denominator.samples.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(numerator.samples[i]! / denominator.samples[i]!);
  return summarize(ratios);
}

/** The measured row called `name` (throws when missing: a typo in the bench itself). */
export function row(results: readonly Measured[], name: string): Measured {
  const found = results.find((r) => r.name === name);
  if (!found) throw new Error(`bench: no row named ${JSON.stringify(name)}`);
  return found;
}

/**
 * A bounded, closed-loop load generator over keep-alive connections: `concurrency`
 * connections per target each send one request, wait for its answer, and send the next, until
 * `stop()` is called, `maxRequests` were sent, or `maxMs` passed (whichever comes first).
 * Every response is checked against the status its request kind must get.
 * @module
 */
import type { RunningApp } from './apps.js';
import { RawConnection } from './raw-http.js';
import { Latencies } from './stats.js';
import { prng, type Rand, type RawRequest, serialize } from './traffic.js';

/** One request to send, what it is, and the status it must get (undefined: not checked). */
export interface Planned {
  readonly kind: string;
  readonly request: RawRequest;
  readonly expect: number | undefined;
}

/** A response that did not get the expected status. */
export interface Violation {
  readonly at: number;
  readonly target: string;
  readonly kind: string;
  readonly expected: number | undefined;
  readonly status: number;
  readonly note: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly ms: number;
  readonly byKind: Readonly<Record<string, { sent: number; ok: number; bad: number }>>;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly latency: Readonly<Record<string, ReturnType<Latencies['summary']>>>;
  readonly violations: readonly Violation[];
  readonly violationCount: number;
  readonly errors: number;
}

export interface LoadOptions {
  readonly targets: readonly RunningApp[];
  readonly concurrencyPerTarget: number;
  /** Build the i-th request of a connection. */
  readonly plan: (rand: Rand, target: RunningApp) => Planned;
  readonly seed: number;
  readonly maxRequests: number;
  readonly maxMs: number;
  /** Latency is recorded per kind; set to false to skip. Defaults to true. */
  readonly latency?: boolean;
  /** Called with every violation (only the first 50 are kept in the result). */
  readonly onViolation?: (v: Violation) => void;
  /** Called with every response (status 0: no response). */
  readonly onResponse?: (planned: Planned, status: number, ms: number) => void;
}

export interface Load {
  /** Resolves when the load has stopped by itself (bound reached) or after `stop()`. */
  readonly done: Promise<LoadResult>;
  stop(): Promise<LoadResult>;
  /** Requests sent so far. */
  readonly sent: number;
}

export function startLoad(options: LoadOptions): Load {
  const started = Date.now();
  const deadline = started + options.maxMs;
  let stopped = false;
  let sent = 0;
  let errors = 0;
  let violationCount = 0;
  const byKind: Record<string, { sent: number; ok: number; bad: number }> = {};
  const byStatus: Record<string, number> = {};
  const latency: Record<string, Latencies> = {};
  const violations: Violation[] = [];
  const record = (v: Violation) => {
    violationCount++;
    options.onViolation?.(v);
    if (violations.length < 50) violations.push(v);
  };
  let worker = 0;
  const workers = options.targets.flatMap((target) =>
    Array.from({ length: options.concurrencyPerTarget }, async () => {
      const rand = prng(options.seed + worker++ * 7919);
      const connection = new RawConnection(target.port, 15_000);
      try {
        while (!stopped && sent < options.maxRequests && Date.now() < deadline) {
          const planned = options.plan(rand, target);
          sent++;
          let k = byKind[planned.kind];
          if (k === undefined) {
            k = { sent: 0, ok: 0, bad: 0 };
            byKind[planned.kind] = k;
          }
          k.sent++;
          const t0 = performance.now();
          try {
            const res = await connection.request(
              serialize(planned.request),
              planned.request.method === 'HEAD',
            );
            const ms = performance.now() - t0;
            if (options.latency !== false) {
              let l = latency[planned.kind];
              if (l === undefined) {
                l = new Latencies(100_000);
                latency[planned.kind] = l;
              }
              l.add(ms);
            }
            byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
            options.onResponse?.(planned, res.status, ms);
            if (planned.expect === undefined || res.status === planned.expect) k.ok++;
            else {
              k.bad++;
              record({
                at: Date.now(),
                target: target.framework,
                kind: planned.kind,
                expected: planned.expect,
                status: res.status,
                note: res.body.toString('utf8').slice(0, 120),
              });
            }
          } catch (error) {
            errors++;
            options.onResponse?.(planned, 0, performance.now() - t0);
            k.bad++;
            record({
              at: Date.now(),
              target: target.framework,
              kind: planned.kind,
              expected: planned.expect,
              status: 0,
              note: (error as Error).message,
            });
          }
        }
      } finally {
        connection.close();
      }
    }),
  );
  const done = Promise.all(workers).then(
    (): LoadResult => ({
      requests: sent,
      ms: Date.now() - started,
      byKind,
      byStatus,
      latency: Object.fromEntries(Object.entries(latency).map(([k, l]) => [k, l.summary()])),
      violations,
      violationCount,
      errors,
    }),
  );
  return {
    done,
    stop() {
      stopped = true;
      return done;
    },
    get sent() {
      return sent;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Wait until `test()` holds, polling every `everyMs`; false when `timeoutMs` passed first. */
export async function waitUntil(
  test: () => boolean,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
  return true;
}

/**
 * `npm run bench:engine-transport`: what the server-level check's engine.io test adds to an
 * ordinary request (4 December, seventh session). Every `'request'` event of a guarded server
 * that starts with none of `requestPaths` now also asks `namesEngineTransport(req.url)`: a search
 * for `?`, and for a query, a search for `transport`, a `%` escape of one of its letters, or a
 * tab or newline; the URL is parsed only when one is there.
 *
 * Measured, per target, against the test the wrapper already made on every request (one
 * `startsWith('/socket.io')`), in the same run: calls in tight loops of 200,000, rounds
 * alternating the two, the median per-call time of each over rounds and the median of the
 * per-round differences (with p25–p75).
 *
 * Run: `npm run bench:engine-transport` (about 10 s); with another Node on PATH for its figures.
 * `BENCH_ENGINE_TRANSPORT_ROUNDS` (default 41).
 * @module
 */
import { namesEngineTransport } from '../packages/core/src/upgrade.js';
import { table } from './lib/report.js';
import { formatNsSummary, summarize } from './lib/stats.js';

const ROUNDS = Number(process.env.BENCH_ENGINE_TRANSPORT_ROUNDS) || 41;
const CALLS = 200_000;
const TARGETS = [
  '/',
  '/orders/8812/items',
  '/search?q=shoes&page=2',
  '/search?q=caf%C3%A9&page=2',
  '/socket.io/?EIO=4&transport=polling&t=abc',
];

/** Keeps results alive so the loops are not optimised away. */
let sink = 0;

function perCall(fn: (target: string) => boolean, target: string): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) if (fn(target)) sink++;
  return Number(process.hrtime.bigint() - start) / CALLS;
}

const prefix = (target: string) => target.startsWith('/socket.io');

const rows: string[][] = [];
for (const target of TARGETS) {
  const base: number[] = [];
  const test: number[] = [];
  const diff: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [a, b] =
      r % 2 === 0
        ? [perCall(prefix, target), perCall(namesEngineTransport, target)]
        : ((x, y) => [y, x])(perCall(namesEngineTransport, target), perCall(prefix, target));
    base.push(a);
    test.push(b);
    diff.push(b - a);
  }
  rows.push([
    `\`${target}\``,
    formatNsSummary(summarize(base)),
    formatNsSummary(summarize(test)),
    formatNsSummary(summarize(diff)),
  ]);
}

process.stdout.write(
  `Node ${process.version}, ${ROUNDS} rounds of ${CALLS} calls each, median (p25–p75) per call\n\n${table(
    [
      'target',
      "the wrapper's prefix test (baseline)",
      'namesEngineTransport',
      'added per request (paired)',
    ],
    rows,
  )}\n\n(${sink} calls named a transport: the last target's.)\n`,
);

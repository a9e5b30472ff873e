/**
 * `npm run bench:cold`: what each step of `verify` costs when its code is still in the CPU's
 * caches (a tight loop) and when it is not (right after other code ran), issue 12 §2.
 *
 * Inside a request, `verify` costs several times its tight-loop time (`npm run bench:in-context`,
 * bench/RESULTS.md section 12). This diagnostic shows where that goes without a framework: each
 * step is timed alone, one call at a time, (a) warm: called again and again, (b) after running
 * 3,000 small generated functions (other code: evicts instruction caches, branch history and
 * V8's code and metadata, as a framework's 15-60 µs of work per request does), and (c) after
 * writing 8 MB of memory (other data only). Each figure is the median of single timed calls
 * (`process.hrtime.bigint()`; the "empty" row is the cost of the timing itself and a call).
 *
 * Run: `npm run bench:cold` (about 15 s). No socket, no framework.
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { checkCfId } from '../packages/core/src/checks/cf-id.js';
import { EdgeWalker, newEdgeHit } from '../packages/core/src/checks/edge.js';
import { parseIp } from '../packages/core/src/net/address.js';
import { RangeMatcher } from '../packages/core/src/net/matcher.js';
import { forwardedForLines } from '../packages/core/src/request/forwarded.js';
import { SecretMatcher } from '../packages/core/src/secret/compare.js';
import { createOriginVerifier } from '../packages/core/src/verifier.js';
import {
  benchGuardOptions,
  CLOUDFRONT_LIKE,
  legitRequest,
  prng,
  SECRET_CURRENT,
  SECRET_HEADER,
  SECRET_PREVIOUS,
  SEED,
} from './lib/fixtures.js';
import { table } from './lib/report.js';
import { formatNs, summarize } from './lib/stats.js';

const rand = prng(SEED + 5);
const REQUESTS = Array.from({ length: 64 }, () => legitRequest(rand, CLOUDFRONT_LIKE));
const RAW_HEADERS = REQUESTS.map((r) => Object.entries(r.headers).flat());
const PEER = '10.0.1.23';
const TRUSTED = ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

const scratch = new Uint32Array(4);
const trusted = RangeMatcher.compile(TRUSTED);
const ranges = RangeMatcher.compile(CLOUDFRONT_LIKE.all);
const walker = new EdgeWalker({ trusted, proxyHops: 1, maxForwardedForLength: 2048, scratch });
const edgeHit = newEdgeHit();
const cfIdHit = { cfId: undefined as string | undefined };
const secret = new SecretMatcher([
  { value: SECRET_CURRENT, stage: 'AWSCURRENT' },
  { value: SECRET_PREVIOUS, stage: 'AWSPREVIOUS' },
]);
const bytes = Buffer.alloc(128);
const slot = Buffer.alloc(128);
slot.write(SECRET_CURRENT, 0, 'latin1');
const probe = bytes.subarray(0, 56);
const slotView = slot.subarray(0, 56);
const verifier = createOriginVerifier({ ...benchGuardOptions(), logLevel: 'silent' });
const inputs = REQUESTS.map((r) => ({
  headers: r.headers,
  remoteAddress: PEER,
  method: 'GET',
  path: '/',
}));

let n = 0;
/** The steps, each returning whether it gave the expected answer. */
const STEPS: readonly (readonly [string, () => boolean])[] = [
  ['empty (timing and call)', () => true],
  [
    'peer: parse + trusted lookup',
    () => parseIp(PEER, scratch) === 4 && trusted.contains(4, scratch),
  ],
  ['X-Forwarded-For lines in rawHeaders', () => forwardedForLines(RAW_HEADERS[n & 63]!) === 1],
  [
    'edge walk (parse, lookup, text)',
    () => walker.walk(true, REQUESTS[n & 63]!.forwardedFor, ranges, edgeHit) === undefined,
  ],
  [
    'cf-id check (regular expression)',
    () => checkCfId(REQUESTS[n & 63]!.cfId, cfIdHit) === undefined,
  ],
  [
    'secret match (write + compare)',
    () => secret.match(REQUESTS[n & 63]!.headers[SECRET_HEADER]!) === 0,
  ],
  [
    '  of which Buffer.write (utf8)',
    () => bytes.write(REQUESTS[n & 63]!.headers[SECRET_HEADER]!, 0, 'utf8') === 52,
  ],
  ['  of which timingSafeEqual (56 B)', () => timingSafeEqual(probe, slotView) || true],
  ['whole verify', () => verifier.verify(inputs[n & 63]!).allowed],
];

// Other code: 3,000 distinct small functions (each compiled on its own), run one after another.
const OTHER_CODE = Array.from(
  { length: 3000 },
  (_, k) =>
    new Function(
      'x',
      `let y = x ^ ${k}; for (let i = 0; i < 3; i++) y = (y * ${k + 7} + ${k}) | 0; return y;`,
    ) as (x: number) => number,
);
function runOtherCode(): number {
  let s = 0;
  for (const f of OTHER_CODE) s = (s + f(s)) | 0;
  return s;
}
// Other data: 8 MB written, a word per cache line.
const OTHER_DATA = new Float64Array((8 * 1024 * 1024) / 8);
function touchOtherData(): number {
  for (let i = 0; i < OTHER_DATA.length; i += 8) OTHER_DATA[i] = OTHER_DATA[i]! + 1;
  return OTHER_DATA[0]!;
}

/** Median time of `count` single calls of `step`, each after `before()`. */
function single(step: () => boolean, before: () => unknown, count: number): number {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    before();
    n++;
    const t0 = process.hrtime.bigint();
    const ok = step();
    times.push(Number(process.hrtime.bigint() - t0));
    if (!ok) throw new Error('bench: a step gave an unexpected answer');
  }
  return summarize(times).median;
}

/** Median time per call over batches of 20,000 calls in a tight loop. */
function tight(step: () => boolean): number {
  const perCall: number[] = [];
  for (let b = 0; b < 15; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20_000; i++) {
      n++;
      if (!step()) throw new Error('bench: a step gave an unexpected answer');
    }
    perCall.push(Number(process.hrtime.bigint() - t0) / 20_000);
  }
  return summarize(perCall).median;
}

async function main(): Promise<void> {
  await verifier.ready();
  const nothing = () => 0;
  // Warm every step and both kinds of other work up (compiled and optimised) first.
  for (const [, step] of STEPS) {
    single(step, nothing, 5000);
    single(step, runOtherCode, 50);
    single(step, touchOtherData, 10);
  }
  const rows = STEPS.map(([name, step]) => [
    name,
    formatNs(tight(step)),
    formatNs(single(step, nothing, 2000)),
    formatNs(single(step, runOtherCode, 300)),
    formatNs(single(step, touchOtherData, 100)),
  ]);
  console.log(`Node ${process.version}`);
  console.log(
    table(
      [
        'step',
        'tight loop / call',
        'single call, warm',
        'single call after other code',
        'single call after other data (8 MB)',
      ],
      rows,
    ),
  );
  await verifier.close();
}

await main();

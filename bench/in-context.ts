/**
 * `npm run bench:in-context`: how much more a piece of JavaScript costs inside a request than in
 * a tight loop, on Express and Fastify (issue 12 §2). The "guard − plain − verify" target of
 * section 9 subtracts `verify` timed in a tight loop; this diagnostic measures what the same
 * `verify`, and a fixed loop that has nothing to do with the guard, cost inside a request.
 *
 * Per framework, in one process, seven hello-world apps answer requests injected with
 * light-my-request (Express: `server.emit('request')`; Fastify: `app.inject`), taking turns
 * 4 requests at a time in random order, each request timed:
 * - plain, and plain again (A/A);
 * - pass: a pass-through middleware / `onRequest` hook;
 * - loop: the pass-through plus a fixed loop (summing 672 character codes) whose tight-loop
 *   cost is measured in the same process;
 * - verify: the pass-through plus one `verify` of the next of the 64 inputs (the requests'
 *   headers, read from a table, not from the request), and verify x2: two of them;
 * - guard: the adapter.
 * Per round (256 requests per app), each app's mean over requests under twice the round's
 * median; figures are the median over rounds of the per-round difference to plain, with the
 * p25–p75 of those differences. Everything runs in this process; no socket is opened.
 *
 * Run: `npm run bench:in-context` (about 30 s); `BENCH_IN_CONTEXT_ROUNDS` (default 30).
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { OriginGuardOptions, VerifyInput } from '../packages/core/src/index.js';
import { createOriginVerifier } from '../packages/core/src/verifier.js';
import { benchGuardOptions, CLOUDFRONT_LIKE, legitRequest, prng, SEED } from './lib/fixtures.js';
import { compare } from './lib/harness.js';
import { table } from './lib/report.js';
import { formatNs, summarize } from './lib/stats.js';

const KINDS = ['plain', 'plain again', 'pass', 'loop', 'verify', 'verify x2', 'guard'] as const;
type Kind = (typeof KINDS)[number];
type Inject = (i: number) => Promise<{ statusCode: number }>;

const rand = prng(SEED + 5);
const REQUESTS = Array.from({ length: 64 }, () => legitRequest(rand, CLOUDFRONT_LIKE));
const PEER = '10.0.1.23';
const OPTIONS: OriginGuardOptions = { ...benchGuardOptions(), logLevel: 'silent' };
/** What the guard sees for the injected requests, as `verify` inputs (cycled). */
const INPUTS: readonly VerifyInput[] = REQUESTS.map((r) => ({
  headers: r.headers,
  remoteAddress: PEER,
  method: 'GET',
  path: '/',
}));
let next = 0;
/** The next input of the cycle (the same mix of IPv4 and IPv6 edges as the requests). */
function nextInput(): VerifyInput {
  next = (next + 1) & 63;
  return INPUTS[next]!;
}
const CF_IDS = REQUESTS.slice(0, 12).map((r) => r.cfId);

/** The fixed work: sums 12 x 56 character codes (a cf-id's length). */
function fixedLoop(): number {
  let h = 0;
  for (const id of CF_IDS) for (let i = 0; i < 56; i++) h = (h + id.charCodeAt(i)) | 0;
  return h;
}

/** What the pass-through variants do besides passing the request on; throws on a surprise. */
function extraWork(kind: Kind, verify: (input: VerifyInput) => { allowed: boolean }): () => void {
  if (kind === 'loop')
    return () => {
      if (fixedLoop() === 7) throw new Error('bench: unexpected sum');
    };
  if (kind === 'verify')
    return () => {
      if (!verify(nextInput()).allowed) throw new Error('bench: not verified');
    };
  if (kind === 'verify x2')
    return () => {
      if (!verify(nextInput()).allowed || !verify(nextInput()).allowed)
        throw new Error('bench: not verified');
    };
  return () => {};
}

async function expressApp(kind: Kind): Promise<Inject> {
  const { default: express } = await import('express');
  const { default: lightMyRequest } = await import('light-my-request');
  const { cdnOriginGuard } = await import('../packages/express/src/index.js');
  const app = express();
  if (kind === 'guard') {
    const guard = cdnOriginGuard(OPTIONS);
    await guard.ready();
    app.use(guard);
  } else if (kind !== 'plain' && kind !== 'plain again') {
    const verifier = createOriginVerifier(OPTIONS);
    const work = extraWork(kind, (input) => verifier.verify(input));
    app.use(function passThrough(_req, _res, next) {
      work();
      next();
    });
  }
  app.get('/', (_req, res) => {
    res.send('hello world');
  });
  const server = createServer(app);
  const dispatch = (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res);
  return (i) =>
    lightMyRequest(dispatch, {
      method: 'GET',
      url: '/',
      headers: REQUESTS[i & 63]!.headers,
      remoteAddress: PEER,
    });
}

async function fastifyApp(kind: Kind): Promise<Inject> {
  const { default: Fastify } = await import('fastify');
  const { cdnOriginGuard } = await import('../packages/fastify/src/index.js');
  const app = Fastify({ logger: false });
  if (kind === 'guard') await app.register(cdnOriginGuard, OPTIONS);
  else if (kind !== 'plain' && kind !== 'plain again') {
    const verifier = createOriginVerifier(OPTIONS);
    const work = extraWork(kind, (input) => verifier.verify(input));
    app.addHook('onRequest', function passThrough(_request, _reply, done) {
      work();
      done();
    });
  }
  app.get('/', async () => 'hello world');
  await app.ready();
  return (i) =>
    app.inject({
      method: 'GET',
      url: '/',
      headers: REQUESTS[i & 63]!.headers,
      remoteAddress: PEER,
    });
}

/** Median (p25–p75) of the per-round differences to plain, in µs. */
function diffSummary(times: readonly number[], plain: readonly number[]): string {
  const s = summarize(times.map((t, r) => t - plain[r]!));
  return `${formatNs(s.median)} (${formatNs(s.p25)}–${formatNs(s.p75)})`;
}

async function measure(build: (kind: Kind) => Promise<Inject>): Promise<Map<Kind, number[]>> {
  const apps = await Promise.all(KINDS.map(build));
  const rounds = Number(process.env.BENCH_IN_CONTEXT_ROUNDS) || 30;
  const warmup = 5;
  const means = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
  let n = 0;
  for (let round = 0; round < rounds + warmup; round++) {
    const samples = KINDS.map(() => [] as number[]);
    for (let turn = 0; turn < 64; turn++) {
      const order = KINDS.map((_, k) => k).sort(() => Math.random() - 0.5);
      for (const k of order) {
        for (let j = 0; j < 4; j++) {
          const started = process.hrtime.bigint();
          const res = await apps[k]!(n++);
          samples[k]!.push(Number(process.hrtime.bigint() - started));
          if (res.statusCode !== 200)
            throw new Error(`bench: ${KINDS[k]} answered ${res.statusCode}`);
        }
      }
    }
    if (round < warmup) continue;
    samples.forEach((times, k) => {
      const median = summarize(times).median;
      const kept = times.filter((t) => t < 2 * median);
      means.get(KINDS[k]!)!.push(kept.reduce((a, b) => a + b, 0) / kept.length);
    });
  }
  return means;
}

async function main(): Promise<void> {
  // The same two pieces of work in a tight loop, in this process.
  const verifier = createOriginVerifier(OPTIONS);
  const [loop, verify] = compare(
    [
      { name: 'loop', fn: () => fixedLoop() !== 7 },
      { name: 'verify', fn: () => verifier.verify(nextInput()).allowed },
    ],
    { warmupMs: 300, batchMs: 5, samples: 15 },
  );
  const rows: string[][] = [];
  for (const [name, build] of [
    ['Express 5', expressApp],
    ['Fastify 5', fastifyApp],
  ] as const) {
    const means = await measure(build);
    const plain = means.get('plain')!;
    const pass = means.get('pass')!;
    const d = (k: Kind) => diffSummary(means.get(k)!, plain);
    const overPass = (k: Kind) => diffSummary(means.get(k)!, pass);
    rows.push([
      name,
      formatNs(summarize(plain).median),
      d('plain again'),
      d('pass'),
      `${overPass('loop')} (tight loop ${formatNs(loop!.ns.median)})`,
      `${overPass('verify')} (tight loop ${formatNs(verify!.ns.median)})`,
      overPass('verify x2'),
      d('guard'),
    ]);
  }
  console.log(
    table(
      [
        'app',
        'plain / request',
        'plain again − plain (A/A)',
        'pass-through − plain',
        'fixed loop, in a request (over pass-through)',
        'verify, in a request (over pass-through)',
        'verify x2 (over pass-through)',
        'guard − plain',
      ],
      rows,
    ),
  );
}

await main();

/**
 * `npm run bench:floor`: the cheapest checks a hand-written middleware could make, timed inside
 * an injected hello-world request next to the guard (issue 12 §3). The whole-server targets
 * (guard overhead ≤ 2 % of an Express hello world, ≤ 3 % of Fastify's) are missed by the check
 * made inside a request (bench/RESULTS.md, section 12): this asks whether any check that meets
 * the brief could meet them, by timing floors in the same rounds as the guard.
 *
 * Per framework, in each of `BENCH_FLOOR_PROCESSES` child processes (default 3), these apps
 * answer requests injected with light-my-request (Express: `server.emit('request')`; Fastify:
 * `app.inject`), taking turns 4 requests at a time in random order, each request timed:
 * - plain, and control (a second plain app: the A/A comparison, the method's own error);
 * - pass: a pass-through middleware / `onRequest` hook;
 * - equals: the pass-through comparing `X-Origin-Verify` with `===` to two values (not constant
 *   time, so not acceptable: the floor of reading one header and deciding at all);
 * - secret: the constant-time compare a hand-written middleware would make (`Buffer.from` of the
 *   header, `crypto.timingSafeEqual` against each of two values of the same length): the floor of
 *   what the brief requires of the secret check alone;
 * - naive: `secret` plus the other two checks written with Node's own parts: the socket peer
 *   in a `net.BlockList` of trusted proxies, the last `X-Forwarded-For` entry (split on `,`,
 *   trimmed) in a `net.BlockList` of the 150 ranges, `X-Amz-Cf-Id` against a regular expression;
 * - direct: the pass-through calling the core's `verify` on the request, as section 9's direct;
 * - guard: the adapter.
 * Every checking app answers 403 when its check fails; each is first checked to answer the
 * benchmark's legitimate requests and to refuse one without the headers.
 * Per round (512 requests per app), each app's mean over requests under twice the round's
 * median; the figures are the median over rounds of the per-round difference (and ratio) to
 * plain, with the distribution-free 95 % confidence interval, judged against the limit widened
 * by the A/A bound, as section 9 judges. No socket is opened; nothing listens.
 *
 * Run: `npm run bench:floor` (about 1 minute per Node version); `BENCH_FLOOR_ROUNDS` (default
 * 31 per process), `BENCH_FLOOR_PROCESSES` (3), `BENCH_FLOOR_FRAMEWORKS` (`express,fastify`).
 * Another Node: `path/to/node --import ./bench/lib/register.mjs bench/floor.ts`.
 * @module
 */
import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Request } from 'express';
import type { InjectOptions, Response as InjectResponse } from 'light-my-request';
import type { OriginVerifier } from '../packages/core/src/verifier.js';
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
import { TS_FLAGS } from './lib/node.js';
import { table } from './lib/report.js';
import {
  decide,
  filteredMean,
  formatNs,
  formatPercent,
  type MedianCI,
  medianCI,
  summarize,
} from './lib/stats.js';

const KINDS = ['plain', 'control', 'pass', 'equals', 'secret', 'naive', 'direct', 'guard'] as const;
type Kind = (typeof KINDS)[number];
type Framework = 'express' | 'fastify';
const LIMIT: Record<Framework, number> = { express: 0.02, fastify: 0.03 };
const LABEL: Record<Framework, string> = { express: 'Express 5', fastify: 'Fastify 5' };

const POOL = 64;
const STRIDE = 4;
const PEERS = ['10.0.1.23', '10.0.2.187', '10.0.3.74'] as const;
const rand = prng(SEED + 5);
const REQUESTS: readonly InjectOptions[] = Array.from({ length: POOL }, (_, i) => ({
  method: 'GET',
  url: '/',
  headers: legitRequest(rand, CLOUDFRONT_LIKE).headers,
  remoteAddress: PEERS[i % PEERS.length]!,
}));
const HELLO = 'hello world';

/** What a check is handed: the request's headers and its socket peer. */
interface Seen {
  readonly headers: IncomingMessage['headers'];
  readonly peer: string | undefined;
}

// The hand-written checks' state, built once as a hand-written middleware would.
const CURRENT = Buffer.from(SECRET_CURRENT);
const PREVIOUS = Buffer.from(SECRET_PREVIOUS);
const CF_ID = /^[A-Za-z0-9_-]{54}==$/;
const EDGES = new BlockList();
for (const cidr of CLOUDFRONT_LIKE.all) {
  const [net, bits] = cidr.split('/') as [string, string];
  EDGES.addSubnet(net, Number(bits), isIPv6(net) ? 'ipv6' : 'ipv4');
}
const PROXIES = new BlockList();
PROXIES.addSubnet('10.0.0.0', 8, 'ipv4');
PROXIES.addSubnet('127.0.0.0', 8, 'ipv4');

/** `===` against both values: not constant time (the floor of deciding on one header). */
function equalsCheck(seen: Seen): boolean {
  const v = seen.headers[SECRET_HEADER];
  return v === SECRET_CURRENT || v === SECRET_PREVIOUS;
}

/** The constant-time compare a hand-written middleware makes, against both values. */
function secretCheck(seen: Seen): boolean {
  const v = seen.headers[SECRET_HEADER];
  if (typeof v !== 'string') return false;
  const candidate = Buffer.from(v);
  let ok = false;
  if (candidate.length === CURRENT.length && timingSafeEqual(candidate, CURRENT)) ok = true;
  if (candidate.length === PREVIOUS.length && timingSafeEqual(candidate, PREVIOUS)) ok = true;
  return ok;
}

/** `secretCheck` plus the peer, the ALB-appended hop and the request id, with Node's parts. */
function naiveCheck(seen: Seen): boolean {
  if (!secretCheck(seen)) return false;
  const peer = seen.peer;
  if (peer === undefined || !PROXIES.check(peer, 'ipv4')) return false;
  const xff = seen.headers['x-forwarded-for'];
  if (typeof xff !== 'string') return false;
  const edge = xff.slice(xff.lastIndexOf(',') + 1).trim();
  if (!EDGES.check(edge, isIPv6(edge) ? 'ipv6' : 'ipv4')) return false;
  const id = seen.headers['x-amz-cf-id'];
  return typeof id === 'string' && CF_ID.test(id);
}

/** The check a variant makes (undefined: none), given the core verifier for `direct`. */
function checkOf(kind: Kind, direct: OriginVerifier, path: () => string) {
  if (kind === 'equals') return equalsCheck;
  if (kind === 'secret') return secretCheck;
  if (kind === 'naive') return naiveCheck;
  if (kind === 'direct')
    return (seen: Seen, rawHeaders: string[], method: string | undefined) =>
      direct.verify({
        headers: seen.headers,
        rawHeaders,
        remoteAddress: seen.peer,
        method,
        path: path(),
      }).allowed;
  return undefined;
}

type Inject = (options: InjectOptions) => Promise<InjectResponse>;

async function expressApp(kind: Kind, direct: OriginVerifier): Promise<Inject> {
  const { default: express } = await import('express');
  const { default: lightMyRequest } = await import('light-my-request');
  const { cdnOriginGuard } = await import('../packages/express/src/index.js');
  const app = express();
  if (kind === 'guard') {
    const guard = cdnOriginGuard({ ...benchGuardOptions(), logLevel: 'silent' });
    await guard.ready();
    app.use(guard);
  } else if (kind === 'pass') {
    app.use(function passThrough(req, _res, next) {
      if (req.headers['x-forwarded-for'] === '' && req.socket.remoteAddress === '') return;
      next();
    });
  } else if (kind !== 'plain' && kind !== 'control') {
    let current: Request | undefined;
    const check = checkOf(kind, direct, () => current!.path)!;
    app.use(function checked(req, res, next) {
      current = req;
      if (
        check({ headers: req.headers, peer: req.socket.remoteAddress }, req.rawHeaders, req.method)
      )
        next();
      else res.status(403).send('Forbidden');
    });
  }
  app.get('/', (_req, res) => {
    res.send(HELLO);
  });
  const server = createServer(app);
  const dispatch = (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res);
  return (options) => lightMyRequest(dispatch, { validate: false, ...options });
}

async function fastifyApp(kind: Kind, direct: OriginVerifier): Promise<Inject> {
  const { default: Fastify } = await import('fastify');
  const { cdnOriginGuard } = await import('../packages/fastify/src/index.js');
  const app = Fastify({ logger: false });
  if (kind === 'guard')
    await app.register(cdnOriginGuard, { ...benchGuardOptions(), logLevel: 'silent' });
  else if (kind === 'pass')
    app.addHook('onRequest', (_request, _reply, done) => {
      done();
    });
  else if (kind !== 'plain' && kind !== 'control') {
    let url = '/';
    const check = checkOf(kind, direct, () => url)!;
    app.addHook('onRequest', (request, reply, done) => {
      url = request.url;
      const raw = request.raw;
      if (
        check(
          { headers: request.headers, peer: raw.socket?.remoteAddress },
          raw.rawHeaders,
          raw.method,
        )
      )
        done();
      else reply.code(403).send('Forbidden');
    });
  }
  app.get('/', async () => HELLO);
  await app.ready();
  return (options) => app.inject(options);
}

/** Express writes into light-my-request's null socket: only the status and length come back. */
function answered(res: InjectResponse): boolean {
  return (
    res.statusCode === 200 &&
    (res.payload === HELLO || (res.payload === '' && res.headers['content-length'] === '11'))
  );
}

/** 0 … n − 1 in a uniformly random order (Fisher–Yates). */
function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One child: builds the apps, checks them, measures; prints `{ kind: per-round means }`. */
async function child(framework: Framework, rounds: number): Promise<void> {
  const direct = createOriginVerifier({ ...benchGuardOptions(), logLevel: 'silent' });
  await direct.ready();
  const build = framework === 'express' ? expressApp : fastifyApp;
  await build('plain', direct); // built and dropped: the first app built runs slower (section 9)
  // Built in a fresh random order in each process: on Fastify the app built right after the
  // dropped one ran ~1 % slower than the next (A/A), whichever it was.
  const apps: Inject[] = new Array(KINDS.length);
  const buildOrder = shuffled(KINDS.length);
  for (const k of buildOrder) {
    const kind = KINDS[k]!;
    const app = await build(kind, direct);
    for (const r of REQUESTS)
      if (!answered(await app(r)))
        throw new Error(`${framework} ${kind}: legitimate request refused`);
    const bare = await app({ method: 'GET', url: '/', remoteAddress: PEERS[0] });
    const checks = kind !== 'plain' && kind !== 'control' && kind !== 'pass';
    if (checks !== (bare.statusCode === 403))
      throw new Error(
        `${framework} ${kind}: a request without the headers answered ${bare.statusCode}`,
      );
    apps[k] = app;
  }
  const perRound = 512;
  const warmup = 4;
  const means: Record<string, number[]> = Object.fromEntries(KINDS.map((k) => [k, []]));
  let n = 0;
  for (let round = 0; round < rounds + warmup; round++) {
    const times = KINDS.map(() => [] as number[]);
    for (let t = 0; t < perRound / STRIDE; t++) {
      const order = shuffled(KINDS.length);
      for (const k of order)
        for (let j = 0; j < STRIDE; j++) {
          const started = process.hrtime.bigint();
          const res = await apps[k]!(REQUESTS[n++ & (POOL - 1)]!);
          await turn();
          times[k]!.push(Number(process.hrtime.bigint() - started));
          if (!answered(res))
            throw new Error(`${framework} ${KINDS[k]}: answered ${res.statusCode}`);
        }
    }
    if (round < warmup) continue;
    for (const [k, ts] of times.entries()) means[KINDS[k]!]!.push(filteredMean(ts).mean);
  }
  process.stdout.write(`${JSON.stringify({ version: process.version, means })}\n`);
  await direct.close();
}

function runChild(framework: Framework, rounds: number): Promise<Record<Kind, number[]>> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [...TS_FLAGS, fileURLToPath(import.meta.url), '--child', framework, String(rounds)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 600_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`floor child ${framework} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!).means);
    });
  });
}

const ci = (c: MedianCI, f: (x: number) => string) => `${f(c.median)} [${f(c.lo)}, ${f(c.hi)}]`;
const pct = (x: number) => formatPercent(x * 100);

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_FLOOR_ROUNDS) || 31;
  const processes = Number(process.env.BENCH_FLOOR_PROCESSES) || 3;
  const frameworks = (process.env.BENCH_FLOOR_FRAMEWORKS ?? 'express,fastify')
    .split(',')
    .filter((f): f is Framework => f === 'express' || f === 'fastify');
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const framework of frameworks) {
    const pooled: Record<Kind, number[]> = Object.fromEntries(KINDS.map((k) => [k, []])) as never;
    for (let p = 0; p < processes; p++) {
      const means = await runChild(framework, rounds);
      for (const k of KINDS) pooled[k].push(...means[k]);
    }
    const plain = pooled.plain;
    const diff = (k: Kind) => medianCI(pooled[k].map((t, r) => t - plain[r]!));
    const ratio = (k: Kind) => medianCI(pooled[k].map((t, r) => t / plain[r]! - 1));
    const aa = ratio('control');
    const bound = Math.max(Math.abs(aa.lo), Math.abs(aa.hi));
    const limit = LIMIT[framework];
    const cells = (k: Kind) => {
      const r = ratio(k);
      const widened = { ...r, lo: r.lo - bound, hi: r.hi + bound };
      return `${ci(diff(k), formatNs)}; ${ci(r, pct)} ${decide(widened, limit)}`;
    };
    rows.push([
      LABEL[framework],
      formatNs(summarize(plain).median),
      `${ci(aa, pct)} (±${pct(bound)})`,
      ...(['pass', 'equals', 'secret', 'naive', 'direct', 'guard'] as const).map(cells),
    ]);
    verdicts.push(
      `${LABEL[framework]}: limit ${pct(limit)}; ${plain.length} paired rounds (${processes} processes × ${rounds})`,
    );
  }
  console.log(`Node ${process.version}\n`);
  console.log(
    table(
      [
        'app',
        'plain / request',
        'A/A: control / plain − 1 (bound)',
        'pass-through − plain; / plain − 1',
        '`===` on the secret header',
        'constant-time secret compare (two values)',
        'naive: secret + peer + last XFF hop (BlockList) + cf-id',
        'direct: the core’s `verify` in a hand-written middleware',
        'guard',
      ],
      rows,
    ),
  );
  console.log(`\n${verdicts.join('\n')}`);
  console.log(
    'Each cell: added time per request, median [95 % CI]; then as a share of plain, median [95 % CI], and its verdict against the limit (interval widened by the A/A bound).',
  );
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] as Framework, Number(args[2]));
else await main();

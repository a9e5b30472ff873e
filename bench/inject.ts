/**
 * In-process request injection: the hello-world apps of bench/server.ts (Express 5, Fastify 5,
 * Nest on both platforms), plain, with a pass-through middleware/hook/guard ("noop") and with
 * the guard, each in its own child process, answering requests injected without a socket
 * (light-my-request's fake request/response dispatched as Node's server does, or
 * `fastify.inject`). No network, no load generator, no event-loop wait: each child times a batch
 * of sequential requests with `process.cpuUsage()` (its own CPU time, user + system), the
 * variants take turns batch by batch with the order rotating every round, and every figure is
 * a per-round paired difference or ratio, summarised as a median with a distribution-free 95 %
 * confidence interval. The guard's child also times `verify` alone on the same inputs.
 *
 * A second part profiles a guarded app under the same injected load with node:inspector and
 * attributes the samples to guard frames (packages/core, packages/<adapter>), the framework
 * and the rest (bench/lib/profile.ts).
 *
 * Run alone: `tsx bench/inject.ts [--quick]`. The children run
 * `node --import ./bench/lib/register.mjs bench/inject.ts --child FRAMEWORK MODE`.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLOUDFRONT_LIKE, legitRequest, prng, SEED } from './lib/fixtures.js';
import { otherNodes, TS_FLAGS } from './lib/node.js';
import { type Attribution, attribute, BUCKETS, type CpuProfile } from './lib/profile.js';
import { progress, type Section, type Target, table, targetVerdict } from './lib/report.js';
import {
  decide,
  filteredMean,
  formatInt,
  formatNs,
  formatPercent,
  type MedianCI,
  medianCI,
  summarize,
} from './lib/stats.js';
import { type BenchApp, buildApp, type Framework, type GuardMode } from './server.js';

/** Run lengths. */
export interface InjectConfig {
  /** Paired rounds per framework and process (>= 30 for a useful interval). */
  readonly rounds: number;
  /** Child processes measured one after another per framework, their rounds pooled. */
  readonly processes: number;
  /** Requests per variant per round (and `perRound / 4` runs of 64 `verify` calls). */
  readonly perRound: number;
  /** Injected load on each child before the rounds, in ms. */
  readonly warmupMs: number;
  /** Injected load under the profiler per framework, in ms (0: no profile). */
  readonly profileMs: number;
}

/** Rounds and durations from the environment, with quick and full defaults. */
export function injectConfig(quick: boolean): InjectConfig {
  return {
    rounds: Number(process.env.BENCH_INJECT_ROUNDS) || (quick ? 21 : 31),
    processes: Number(process.env.BENCH_INJECT_PROCESSES) || (quick ? 3 : 4),
    perRound: Number(process.env.BENCH_INJECT_PER_ROUND) || (quick ? 256 : 512),
    warmupMs: Number(process.env.BENCH_INJECT_WARMUP_MS) || (quick ? 1_500 : 3_000),
    profileMs: Number(process.env.BENCH_PROFILE_MS ?? (quick ? 2_000 : 5_000)),
  };
}

const FRAMEWORKS: readonly { id: Framework; label: string }[] = [
  { id: 'express', label: 'Express 5' },
  { id: 'fastify', label: 'Fastify 5' },
  { id: 'nest', label: 'NestJS 12 (Express platform)' },
  { id: 'nest-fastify', label: 'NestJS 12 (Fastify platform)' },
];

/** Limits from issue 12: adapter CPU beyond `verify`, and whole-request overhead. */
export const INJECT_TARGETS = {
  /** Guard − plain − verify, ns (Express, Fastify). */
  adapterNs: 300,
  /** Guard − pass-through guard − verify, ns (Nest). */
  nestAdapterNs: 2_000,
  /** Guard over plain, % of CPU per request. */
  overheadPercent: { express: 2, fastify: 3 } as Partial<Record<Framework, number>>,
} as const;

const POOL = 64;
const MASK = POOL - 1;
/** ALB nodes in three availability zones: the socket peers (trusted as `uniquelocal`). */
const PEERS = ['10.0.1.23', '10.0.2.187', '10.0.3.74'] as const;

// ---------------------------------------------------------------------------------------------
// Child: the apps of one framework, measured side by side
// ---------------------------------------------------------------------------------------------

/**
 * `control` is a second plain app: control − plain is an A/A comparison, the method's own
 * error on a difference that is zero by construction.
 */
const VARIANTS = ['plain', 'control', 'noop', 'direct', 'guard', 'verify'] as const;
type Variant = (typeof VARIANTS)[number];
type AppVariant = Exclude<Variant, 'verify'>;
const APPS: readonly AppVariant[] = ['plain', 'control', 'noop', 'direct', 'guard'];
const modeOf = (v: AppVariant): GuardMode => (v === 'control' ? 'plain' : v);

/** Per-round mean time per request (per call for `verify`) of each variant, in ns. */
type Rounds = Record<Variant, number[]>;

/** What the child measured. */
interface Measurement {
  readonly rounds: Rounds;
  /** Fraction of each variant's requests a round left out of its mean (one figure per round and variant). */
  readonly dropped: readonly number[];
  /** Decisions of the guard's verifier during the measurement (requests and `verify` calls). */
  readonly verified: number;
  readonly denied: number;
  /** Requests answered per variant (warm-up included). */
  readonly requests: number;
  /** The child's `process.version`. */
  readonly version: string;
}

type ToChild =
  | {
      readonly type: 'measure';
      readonly rounds: number;
      readonly perRound: number;
      readonly warmupMs: number;
    }
  | { readonly type: 'profile'; readonly warmupMs: number; readonly ms: number };
type FromChild =
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'measure'; readonly result: Measurement }
  | { readonly type: 'profile'; readonly attribution: Attribution };

/** Requests per variant in a row before the next variant's turn. */
const STRIDE = 4;

/** The benchmark's requests: legitimate CloudFront requests through an ALB, all verified. */
function fixtures() {
  const rand = prng(SEED + 5);
  const requests = Array.from({ length: POOL }, (_, i) => ({
    headers: legitRequest(rand, CLOUDFRONT_LIKE).headers,
    remoteAddress: PEERS[i % PEERS.length]!,
  }));
  return {
    inject: requests.map((r) => ({
      method: 'GET' as const,
      url: '/',
      headers: r.headers,
      remoteAddress: r.remoteAddress,
    })),
    // What the adapters hand the core: the request's headers, socket peer, method and path.
    verify: requests.map((r) => ({
      headers: r.headers,
      remoteAddress: r.remoteAddress,
      method: 'GET',
      path: '/',
    })),
  };
}

/**
 * A `hello world` answer. Express gives each response its own prototype (replacing
 * light-my-request's, which records the body), so on Express Node's `ServerResponse` writes the
 * response into light-my-request's null socket and only the status and headers come back: the
 * body is checked by its length there.
 */
function answered(res: { statusCode: number; payload: string; headers: Record<string, unknown> }) {
  return (
    res.statusCode === 200 &&
    (res.payload === 'hello world' ||
      (res.payload === '' && res.headers['content-length'] === '11'))
  );
}

/** Builds the app and checks it answers the benchmark's requests (and that the guard is on). */
async function checkedApp(
  framework: Framework,
  mode: GuardMode,
  inputs: ReturnType<typeof fixtures>,
) {
  const app = await buildApp(framework, mode);
  for (const r of inputs.inject) {
    const res = await app.inject(r);
    if (!answered(res))
      throw new Error(`${framework} ${mode}: legitimate request answered ${res.statusCode}`);
  }
  const direct = await app.inject({ method: 'GET', url: '/', remoteAddress: PEERS[0] });
  if ((mode === 'guard' || mode === 'direct') !== (direct.statusCode === 403))
    throw new Error(`${framework} ${mode}: direct request answered ${direct.statusCode}`);
  return app;
}

// One event-loop turn after each request, as a server has: the fake socket's write callbacks and
// 'close' events run in it (in a chain of awaits alone they would pile up and hold memory).
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function child(framework: Framework, profileOnly: boolean): Promise<void> {
  const send = (m: FromChild) => process.send!(m);
  const inputs = fixtures();
  const apps: Partial<Record<AppVariant, BenchApp>> = {};
  try {
    // A first app built and dropped: in a trial run the first instance built was 1.5-2.5 %
    // slower than a second, identical one on the Fastify platforms (A/A), whichever it was.
    if (!profileOnly) await (await checkedApp(framework, 'plain', inputs)).close();
    for (const v of profileOnly ? (['guard'] as const) : APPS)
      apps[v] = await checkedApp(framework, modeOf(v), inputs);
  } catch (error) {
    send({ type: 'error', message: (error as Error)?.stack ?? String(error) });
    process.exit(1);
  }
  const verifier = apps.guard!.verifier!;
  let next = 0;
  let bad = 0;
  let requests = 0;

  /** Runs `count` requests on `app`, writing each one's time (ns) into `out` from `at`. */
  const injectRun = async (app: BenchApp, count: number, out: Float64Array, at: number) => {
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      const res = await app.inject(inputs.inject[next++ & MASK]!);
      if (!answered(res)) bad++;
      await turn();
      out[at + i] = Number(process.hrtime.bigint() - t0);
    }
    requests += count;
  };
  /** `POOL` calls of `verify`; returns the time per call (ns). */
  const verifyRun = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < POOL; i++)
      if (!verifier.verify(inputs.verify[next++ & MASK]!).allowed) bad++;
    return Number(process.hrtime.bigint() - t0) / POOL;
  };

  const measure = async (m: Extract<ToChild, { type: 'measure' }>): Promise<Measurement> => {
    const strides = Math.max(1, Math.round(m.perRound / STRIDE));
    const times: Record<Variant, Float64Array> = {
      plain: new Float64Array(strides * STRIDE),
      control: new Float64Array(strides * STRIDE),
      noop: new Float64Array(strides * STRIDE),
      direct: new Float64Array(strides * STRIDE),
      guard: new Float64Array(strides * STRIDE),
      verify: new Float64Array(strides),
    };
    // A fresh random order for every turn: a variant's first request pays for whatever ran
    // before it (caches, branch predictors), so each must follow every other equally often. A
    // rotation would not do: it keeps who follows whom fixed, and a first A/A run showed the
    // control 2-4 % faster than plain because it always followed plain.
    const rand = prng(SEED + 7);
    const order = [...VARIANTS];
    const round = async () => {
      for (let k = 0; k < strides; k++) {
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (const v of order) {
          if (v === 'verify') times.verify[k] = verifyRun();
          else await injectRun(apps[v]!, STRIDE, times[v], k * STRIDE);
        }
      }
    };
    const until = performance.now() + m.warmupMs;
    while (performance.now() < until) await round();
    requests = 0;
    const base = verifier.stats();
    const rounds: Rounds = { plain: [], control: [], noop: [], direct: [], guard: [], verify: [] };
    const dropped: number[] = [];
    for (let r = 0; r < m.rounds; r++) {
      await round();
      for (const v of VARIANTS) {
        const f = filteredMean(times[v]);
        rounds[v].push(f.mean);
        dropped.push(f.dropped / times[v].length);
      }
      if ((r + 1) % 10 === 0 || r + 1 === m.rounds)
        progress(
          `inject: ${framework} round ${r + 1}/${m.rounds}: plain ${formatNs(rounds.plain[r]!)}, guard ${formatNs(rounds.guard[r]!)} per request`,
        );
    }
    if (bad > 0) throw new Error(`${framework}: ${bad} requests not answered or not verified`);
    const s = verifier.stats();
    return {
      rounds,
      dropped,
      verified: s.byReason.verified - base.byReason.verified,
      denied: s.denied - base.denied,
      requests: requests / APPS.length,
      version: process.version,
    };
  };

  const profile = async (m: Extract<ToChild, { type: 'profile' }>): Promise<Attribution> => {
    const scratch = new Float64Array(256);
    const until = performance.now() + m.warmupMs;
    while (performance.now() < until) await injectRun(apps.guard!, 256, scratch, 0);
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const stop = performance.now() + m.ms;
    while (performance.now() < stop) await injectRun(apps.guard!, 256, scratch, 0);
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    if (bad > 0) throw new Error(`${framework}: ${bad} requests not answered or not verified`);
    return attribute(profile as CpuProfile, ROOT);
  };

  process.on('message', (m: ToChild) => {
    const work =
      m.type === 'measure'
        ? measure(m).then((result) => send({ type: 'measure', result }))
        : profile(m).then((attribution) => send({ type: 'profile', attribution }));
    work.catch((error) => {
      send({ type: 'error', message: (error as Error)?.stack ?? String(error) });
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(0), 30 * 60_000).unref();
  send({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// Parent: one child per framework (and one per profile)
// ---------------------------------------------------------------------------------------------

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A child driven over IPC: one request, one answer. */
interface Driven {
  ask<T extends FromChild['type']>(m: ToChild, reply: T): Promise<Extract<FromChild, { type: T }>>;
  close(): void;
}

function startChild(
  framework: Framework,
  profileOnly: boolean,
  node: string = process.execPath,
): Promise<Driven> {
  const label = `${framework}${profileOnly ? ' (profile)' : ''}`;
  const proc: ChildProcess = spawn(
    node,
    [...TS_FLAGS, SELF, '--child', framework, ...(profileOnly ? ['--profile'] : [])],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  let failure: Error | undefined;
  const waiters = new Set<(m: FromChild | Error) => void>();
  proc.on('message', (m: FromChild) => {
    if (m.type === 'error') failure = new Error(`${label}: ${m.message.split('\n')[0]}`);
    for (const w of [...waiters]) w(failure ?? m);
  });
  proc.on('exit', (code) => {
    failure ??= new Error(`${label}: exited with code ${code}`);
    for (const w of [...waiters]) w(failure);
  });
  const wait = <T extends FromChild['type']>(type: T, timeoutMs: number) =>
    new Promise<Extract<FromChild, { type: T }>>((resolve, reject) => {
      if (failure) return reject(failure);
      const timer = setTimeout(() => done(new Error(`${label}: no ${type} reply`)), timeoutMs);
      const done = (m: FromChild | Error) => {
        if (!(m instanceof Error) && m.type !== type) return;
        clearTimeout(timer);
        waiters.delete(done);
        if (m instanceof Error) reject(m);
        else resolve(m as Extract<FromChild, { type: T }>);
      };
      waiters.add(done);
    });
  const driven: Driven = {
    ask: (m, reply) => {
      const answer = wait(reply, 20 * 60_000);
      proc.send(m);
      return answer;
    },
    close: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    },
  };
  return wait('ready', 120_000).then(
    () => driven,
    (error) => {
      driven.close();
      throw error;
    },
  );
}

interface FrameworkRun {
  readonly id: Framework;
  readonly label: string;
  readonly measured: Measurement;
  readonly profile: Attribution | undefined;
}

async function runFramework(
  id: Framework,
  label: string,
  config: InjectConfig,
  node: string = process.execPath,
): Promise<FrameworkRun> {
  // Each process makes its own JIT decisions: in two runs of this benchmark the guard's added
  // time on Fastify differed by ~2 µs while each run's interval was a fraction of that. Rounds
  // from several processes, pooled, put that variation into the interval.
  const parts: Measurement[] = [];
  for (let i = 0; i < config.processes; i++) {
    progress(
      `inject: ${label}${node === process.execPath ? '' : ` on ${node}`}${config.processes > 1 ? ` (process ${i + 1}/${config.processes})` : ''}`,
    );
    const c = await startChild(id, false, node);
    try {
      const ask = {
        type: 'measure',
        rounds: config.rounds,
        perRound: config.perRound,
        warmupMs: config.warmupMs,
      } as const;
      parts.push((await c.ask(ask, 'measure')).result);
    } finally {
      c.close();
    }
  }
  const measured: Measurement = {
    rounds: Object.fromEntries(
      VARIANTS.map((v) => [v, parts.flatMap((p) => p.rounds[v])]),
    ) as Rounds,
    dropped: parts.flatMap((p) => p.dropped),
    verified: parts.reduce((sum, p) => sum + p.verified, 0),
    denied: parts.reduce((sum, p) => sum + p.denied, 0),
    requests: parts.reduce((sum, p) => sum + p.requests, 0),
    version: parts[0]?.version ?? process.version,
  };
  let profile: Attribution | undefined;
  if (config.profileMs > 0) {
    progress(`inject: ${label} profile (${config.profileMs} ms)`);
    const p = await startChild(id, true);
    try {
      profile = (
        await p.ask({ type: 'profile', warmupMs: config.warmupMs, ms: config.profileMs }, 'profile')
      ).attribution;
    } finally {
      p.close();
    }
  }
  return { id, label, measured, profile };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const per = (rounds: Rounds, f: (i: number) => number) => rounds.plain.map((_, i) => f(i));

/** `1.23 µs [1.10 µs, 1.40 µs]`. */
function nsCI(ci: MedianCI): string {
  return `${formatNs(ci.median)} [${formatNs(ci.lo)}, ${formatNs(ci.hi)}]`;
}
function pctCI(ci: MedianCI): string {
  return `${formatPercent(ci.median)} [${formatPercent(ci.lo)}, ${formatPercent(ci.hi)}]`;
}
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The figures of one framework, each a median of per-round values with its 95 % CI. */
function figures(r: Rounds) {
  const { plain, control, noop, direct, guard, verify } = r;
  return {
    plain: medianCI(plain),
    aa: medianCI(per(r, (i) => (control[i]! / plain[i]! - 1) * 100)),
    aaNs: medianCI(per(r, (i) => control[i]! - plain[i]!)),
    guardCpu: medianCI(guard),
    noopAdded: medianCI(per(r, (i) => noop[i]! - plain[i]!)),
    guardAdded: medianCI(per(r, (i) => guard[i]! - plain[i]!)),
    verify: medianCI(verify),
    overPlain: medianCI(per(r, (i) => guard[i]! - plain[i]! - verify[i]!)),
    overNoop: medianCI(per(r, (i) => guard[i]! - noop[i]! - verify[i]!)),
    /** The adapter over a hand-written middleware calling `verify` in the same place. */
    directAdded: medianCI(per(r, (i) => direct[i]! - plain[i]!)),
    overDirect: medianCI(per(r, (i) => guard[i]! - direct[i]!)),
    overhead: medianCI(per(r, (i) => (guard[i]! / plain[i]! - 1) * 100)),
    /** Spread of the per-batch CPU per request itself, to show what pairing removes. */
    plainSpread: summarize(plain),
    overheadSpread: summarize(per(r, (i) => (guard[i]! / plain[i]! - 1) * 100)),
  };
}

/** The farthest from zero of an A/A interval's bounds: the method's own error, at most. */
const bound = (aa: MedianCI) => Math.max(Math.abs(aa.lo), Math.abs(aa.hi));

/**
 * Judged on the median's 95 % interval widened on both sides by the A/A bound, so that a
 * systematic error of the method (which the interval of one comparison does not show) cannot
 * turn into a verdict.
 */
function judge(goal: string, ci: MedianCI, aaBound: number, limit: number, figure: string): Target {
  const d = decide({ ...ci, lo: ci.lo - aaBound, hi: ci.hi + aaBound }, limit);
  return { goal, figure, pass: d === 'PASS', ...(d === 'UNDECIDED' ? { undecided: true } : {}) };
}

/**
 * The targets judged on every Node version: the guard over a hand-written `verify` in the same
 * place (the `direct` app), and the whole overhead where issue 12 sets a limit for it.
 */
function inPlaceTargets(
  run: FrameworkRun,
  f: ReturnType<typeof figures>,
  onNode: string,
): Target[] {
  const isNest = run.id === 'nest' || run.id === 'nest-fastify';
  const limit = isNest ? INJECT_TARGETS.nestAdapterNs : INJECT_TARGETS.adapterNs;
  const aaNs = bound(f.aaNs);
  const targets = [
    judge(
      `${run.label}: guard − a hand-written ${isNest ? 'Nest guard' : run.id === 'fastify' ? '`onRequest` hook' : 'middleware'} calling \`verify\` in the same place <= ${formatNs(limit)} (injected)${onNode}`,
      f.overDirect,
      aaNs,
      limit,
      `${nsCI(f.overDirect)} (median [95 % CI] of ${f.overDirect.n} paired rounds; judged with the A/A bound ±${formatNs(aaNs)}: [${formatNs(f.overDirect.lo - aaNs)}, ${formatNs(f.overDirect.hi + aaNs)}])`,
    ),
  ];
  const overheadLimit = INJECT_TARGETS.overheadPercent[run.id];
  if (overheadLimit !== undefined)
    targets.push(
      judge(
        `guard overhead on ${run.label} hello world <= ${overheadLimit} % of time per request (injected, paired)${onNode}`,
        f.overhead,
        bound(f.aa),
        overheadLimit,
        `${pctCI(f.overhead)} (median [95 % CI] of ${f.overhead.n} paired rounds; A/A control ${pctCI(f.aa)}; judged on [${formatPercent(f.overhead.lo - bound(f.aa))}, ${formatPercent(f.overhead.hi + bound(f.aa))}])`,
      ),
    );
  return targets;
}

/**
 * Section 9's Express and Fastify rows on the other Node binaries (users run 22 and 24; V8's
 * version changes what a request costs, e.g. a property added to an Express request), with the
 * in-place targets judged per version. The first rows repeat section 9 (judged there).
 */
function byNodeSection(runs: readonly FrameworkRun[], config: InjectConfig): Section {
  const rows: string[][] = [];
  const targets: Target[] = [];
  for (const run of runs) {
    const f = figures(run.measured.rounds);
    rows.push([
      run.measured.version,
      run.label,
      nsCI(f.plain),
      `${nsCI(f.aaNs)} (${pctCI(f.aa)})`,
      nsCI(f.directAdded),
      nsCI(f.overDirect),
      pctCI(f.overhead),
    ]);
    if (run.measured.version !== process.version)
      targets.push(...inPlaceTargets(run, f, ` on Node ${run.measured.version}`));
  }
  const md = [
    `Section 9's Express and Fastify apps, method and inputs, run by each other Node binary of section 1a (${config.processes} child process${config.processes > 1 ? 'es' : ''} per framework and version, ${config.rounds} rounds each, of ${config.perRound} requests per variant; no profile). Users run Node 22 and 24, and what a request costs changes with V8: on Node 20 and 22 a property added to an Express request builds a new hidden class every time (section 12, 3 December), on Node 24 it does not. The first rows are this run's own Node, from section 9 (and judged there). Medians [95 % CI] of the per-round paired values.`,
    '',
    table(
      [
        'Node',
        'app',
        'plain: time / request',
        'A/A: control − plain',
        'direct − plain',
        'guard − direct',
        'guard / plain − 1',
      ],
      rows,
    ),
    '',
    ...targets.map((t) => `**${targetVerdict(t)}**: ${t.goal}: ${t.figure}.`),
  ].join('\n');
  return { title: '9a. In-process injection by Node version', markdown: md, targets };
}

function injectSection(runs: readonly FrameworkRun[], config: InjectConfig): Section {
  const rows: string[][] = [];
  const targets: Target[] = [];
  const notes: string[] = [];
  for (const run of runs) {
    const f = figures(run.measured.rounds);
    const isNest = run.id === 'nest' || run.id === 'nest-fastify';
    rows.push([
      run.label,
      `${nsCI(f.plain)} (p25–p75 ${formatNs(f.plainSpread.p25)}–${formatNs(f.plainSpread.p75)})`,
      `${pctCI(f.aa)} (${nsCI(f.aaNs)})`,
      nsCI(f.noopAdded),
      nsCI(f.guardAdded),
      nsCI(f.verify),
      nsCI(f.overPlain),
      nsCI(f.overNoop),
      nsCI(f.directAdded),
      nsCI(f.overDirect),
      `${pctCI(f.overhead)} (rounds ${formatPercent(f.overheadSpread.min)} to ${formatPercent(f.overheadSpread.max)})`,
    ]);
    const adapter = isNest ? f.overNoop : f.overPlain;
    const limit = isNest ? INJECT_TARGETS.nestAdapterNs : INJECT_TARGETS.adapterNs;
    const aaNs = bound(f.aaNs);
    targets.push(
      judge(
        `${run.label}: guard time per request − verify <= ${formatNs(limit)}${isNest ? ' over a pass-through guard (same Reflector lookup)' : ' over the plain app'} (injected)`,
        adapter,
        aaNs,
        limit,
        `${nsCI(adapter)} (median [95 % CI] of ${adapter.n} paired rounds; judged with the A/A bound ±${formatNs(aaNs)}: [${formatNs(adapter.lo - aaNs)}, ${formatNs(adapter.hi + aaNs)}])`,
      ),
    );
    // The same limit against `verify` as it costs inside a request: a hand-written
    // middleware / hook / Nest guard calling it in the same place (the `direct` app).
    targets.push(...inPlaceTargets(run, f, ''));
    const m = run.measured;
    const dropped = summarize(m.dropped);
    notes.push(
      m.denied === 0 && m.verified > 0
        ? `${run.label}: ${formatInt(m.requests)} requests per variant; the guard's verifier verified all ${formatInt(m.verified)} requests and \`verify\` calls of the measured rounds (0 denied) and every response was 200 \`hello world\`; requests left out of a round's mean (over twice its median): median ${pct(dropped.median)}, at most ${pct(dropped.max)}.`
        : `${run.label}: ${m.denied} denied, ${m.verified} verified: the guard did not take the verified path for every request.`,
    );
  }
  const total = config.rounds * config.processes;
  const rank = medianCI(Array.from({ length: total }, (_, i) => i));
  const md = [
    `The hello-world apps of section 5 (plus Nest on its Fastify platform) answer \`GET /\` to requests injected in process: light-my-request's fake request and response, dispatched as Node's HTTP server dispatches (\`server.emit('request', req, res)\`) for Express and Nest on Express, and \`fastify.inject\` (the same library) for Fastify and Nest on Fastify. No socket, no load generator, one request at a time, with one event-loop turn after each (where the fake socket's callbacks run). ${POOL} legitimate CloudFront requests are cycled (3 ALB peers in 10.0.0.0/8; \`X-Forwarded-For\` client, viewer, edge; \`X-Amz-Cf-Id\`; the secret); the guard is configured as in section 5.`,
    '',
    `Variants, built side by side in one child process per framework (after a first app built and dropped: in a trial the first instance built ran 1.5–2.5 % slower than an identical second one on the Fastify platforms): plain; "control", a second plain app (control − plain is an A/A comparison: its true value is zero, so its interval is the method's own error); "noop", a pass-through middleware / \`onRequest\` hook / Nest guard (on Nest it makes the same \`Reflector.getAllAndOverride\` lookup and request read as the real guard); "direct", the same pass-through calling the core's \`verify\` itself on the request (headers, raw headers, socket peer, method, path), as a hand-written middleware / hook / Nest guard would, with a verifier of the guard's options, and answering 403 when denied; the guard; and \`verify\` alone on the same ${POOL} inputs (headers, peer, method, path), with the guard's own verifier. The variants take turns ${STRIDE} requests (or ${POOL} \`verify\` calls) at a time, in a fresh random order each turn (so that each follows every other equally often: a variant's first request pays for what ran before it), so every variant runs within a millisecond of the others under the same machine conditions. Each request is timed with \`process.hrtime\`; a round is ${config.perRound} requests per variant, and a variant's figure for the round is the mean time of its requests, leaving out those over twice the round's median (requests during which the process lost the CPU to another process, or a major GC ran: this machine's interference only ever adds, by milliseconds). ${(config.warmupMs / 1000).toFixed(1)} s of the same alternation first warms every app up. Every figure below is computed per round (a difference or a ratio of the variants' figures in that round), then summarised as the median over ${total} rounds${config.processes > 1 ? ` (${config.rounds} in each of ${config.processes} processes, pooled)` : ''} with its distribution-free 95 % confidence interval [x(${rank.rank}), x(${total + 1 - rank.rank})] of the sorted per-round values (order statistics: no normality assumed; exact coverage ${(rank.coverage * 100).toFixed(1)} %). ${config.processes > 1 ? `Rounds come from ${config.processes} child processes per framework, one after another: each process makes its own JIT decisions, and in two single-process runs of this section on the same code the guard's added time on Fastify differed by ~2 µs (+9.9 % vs +16.9 %) while each run's interval was under 1 µs wide; pooled, the variation between processes is inside the interval. ` : ''}A target is judged on that interval widened on both sides by the A/A bound (the A/A interval's bound farthest from zero: the method's own error, which one comparison's interval does not show): PASS when all of it is within the target, MISS when all of it is beyond, UNDECIDED otherwise.`,
    '',
    table(
      [
        'app',
        'plain: time / request, median [95 % CI]',
        'A/A: control / plain − 1 (control − plain)',
        'noop − plain',
        'guard − plain',
        '`verify` alone',
        'guard − plain − verify',
        'guard − noop − verify',
        'direct − plain',
        'guard − direct',
        'guard / plain − 1',
      ],
      rows,
    ),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    "The overhead is relative to the injected request, which leaves out what a real server pays per request for the socket (llhttp parsing, kernel reads and writes: section 5's servers spend as much user CPU per request as these injected requests take, or several times more, plus system time) and adds light-my-request's fake request and response instead. The guard's added time is the same work either way, so over a real server's larger per-request cost the overhead is at most the injected figure, as long as the fake request costs no more than the socket path it replaces. Major-GC pauses are left out of the means with the other interference; section 10's profile shows the garbage collector's share.",
    '',
    ...targets.map((t) => `**${targetVerdict(t)}**: ${t.goal}: ${t.figure}.`),
  ].join('\n');
  return {
    title: '9. In-process injection: time per request, paired rounds',
    markdown: md,
    targets,
  };
}

function profileSection(runs: readonly FrameworkRun[], config: InjectConfig): Section | undefined {
  const profiled = runs.filter((r) => r.profile);
  if (profiled.length === 0) return undefined;
  const rows = profiled.map((r) => {
    const p = r.profile!;
    const f = figures(r.measured.rounds);
    const guard = p.owned['guard: core'] + p.owned['guard: adapter'];
    const selfGuard = p.self['guard: core'] + p.self['guard: adapter'];
    return [
      r.label,
      p.samples.toLocaleString('en-US'),
      `${pct(guard)} (slices ${pct(p.guardBySlice.min)}–${pct(p.guardBySlice.max)})`,
      pct(guard / (1 - p.owned['garbage collector'])),
      `${pct(p.owned['guard: core'])} / ${pct(p.owned['guard: adapter'])}`,
      pct(selfGuard),
      pct(f.guardAdded.median / f.guardCpu.median),
      ...BUCKETS.filter((b) => !b.startsWith('guard')).map((b) => pct(p.owned[b])),
    ];
  });
  const tops = profiled.map((r) => {
    const list = r.profile!.topGuardFrames.slice(0, 8);
    return `- ${r.label}: ${list.map((x) => `\`${x.frame}\` ${pct(x.share)}`).join('; ')}`;
  });
  const md = [
    `A fresh child per framework holds the guarded app alone (one app in the process, unlike section 9, so no call site in the framework sees a second app) and runs it under the same injected load (after the same warm-up) for ${(config.profileMs / 1000).toFixed(1)} s with V8's sampling profiler on (node:inspector \`Profiler\`, 100 µs interval). Each sample goes to the bucket of its top frame by script URL: guard = packages/core/src (core) or packages/{express,fastify,nestjs}/src (adapter); framework = node_modules (Express, router, Fastify, find-my-way, Nest, ...); injection harness = light-my-request and bench/. Frames of Node's own modules (\`node:*\`) and native frames without a script are charged to the nearest calling guard, framework or harness frame (so \`timingSafeEqual\` counts for the guard); "self" is the guard's share without that. Idle samples are left out. Spread: the guard's share in each tenth of the profile (min–max over 10 consecutive slices). Cross-check: the guard's share expected from section 9's medians, (guard − plain) / guard time per request, to compare with the share of non-GC samples (section 9 leaves GC pauses out). The profile counts only the guard's own frames: work the guard causes in framework code (e.g. a property added to the request object changing its shape) or in the collector shows up under those buckets instead, which is why it can read lower than the paired measurement.`,
    '',
    table(
      [
        'app',
        'samples',
        'guard share (10 slices min–max)',
        'guard share of non-GC samples',
        'of which core / adapter',
        'guard, self frames only',
        'expected from section 9',
        ...BUCKETS.filter((b) => !b.startsWith('guard')),
      ],
      rows,
    ),
    '',
    'Top guard frames (share of all samples, node-internal and native callees included):',
    '',
    ...tops,
  ].join('\n');
  return {
    title: '10. CPU profile of the guarded app under injected load',
    markdown: md,
    targets: [],
  };
}

/** The line of RESULTS.md's method list about this benchmark. */
export function injectMethodBullet(config: InjectConfig): string {
  return `- In-process injection (sections 9, 10): in each of ${config.processes} child processes per framework, the framework's apps (plain, a second plain as an A/A control, pass-through, a hand-written \`verify\` middleware, guard) answer requests injected without a socket (light-my-request), taking turns ${STRIDE} requests at a time in random order; ${config.rounds} rounds per process of ${config.perRound} requests per variant, each request timed, the figure per round the mean of the requests under twice the round's median; paired per round, summarised as the median with its distribution-free 95 % confidence interval. Then a V8 CPU profile (${(config.profileMs / 1000).toFixed(1)} s) of the guarded app alone.`;
}

/** Runs every framework (or `BENCH_FRAMEWORKS`) and returns the injection and profile sections. */
export async function benchInject(config: InjectConfig): Promise<Section[]> {
  const only = process.env.BENCH_FRAMEWORKS?.split(',');
  const runs: FrameworkRun[] = [];
  for (const { id, label } of FRAMEWORKS) {
    if (only && !only.includes(id)) continue;
    runs.push(await runFramework(id, label, config));
  }
  const profile = profileSection(runs, config);
  const sections = [injectSection(runs, config), ...(profile ? [profile] : [])];
  // The adapters with a per-request limit of 0.3 µs, on the Node versions users run.
  const perNode: InjectConfig = {
    ...config,
    processes: Math.min(2, config.processes),
    profileMs: 0,
  };
  const here = runs.filter((r) => r.id === 'express' || r.id === 'fastify');
  const nodes = here.length > 0 ? otherNodes() : [];
  const byNode = [...here];
  for (const node of nodes)
    for (const { id, label } of here) byNode.push(await runFramework(id, label, perNode, node));
  if (nodes.length > 0) sections.push(byNodeSection(byNode, perNode));
  return sections;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Framework, process.argv[4] === '--profile');
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  for (const s of await benchInject(injectConfig(quick)))
    console.log(`## ${s.title}\n\n${s.markdown}\n`);
}

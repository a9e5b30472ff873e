/**
 * `npm run bench:in-place`: what the Express middleware and the Fastify hook cost inside a real
 * request over a socket, against a hand-written `verify` in the same place (issue 12 §2).
 *
 * Section 9 injects requests in process (light-my-request objects, not `http.IncomingMessage`)
 * and times whole requests, so its guard − direct interval is ±0.3–1 µs wide and the 0.3 µs
 * limit often cannot be judged. Here every app is a real server on 127.0.0.1 (in this process,
 * closed at the end) answering a keep-alive connection, with three clocks per request:
 * - step: a timestamp middleware / `onRequest` hook right before the step under test and a
 *   second right after it (the step plus one dispatch by the framework, the same in every app);
 * - to the handler: from the first timestamp to the route handler (catches work the step moves
 *   into the router: a slower property access further on);
 * - whole request: from the server's request listener to the response's `finish` (wider, but
 *   sees everything the request costs in this process).
 * Apps:
 * - `noop` and `noop2`: a pass-through middleware / hook in the step's place (noop2 − noop is an
 *   A/A comparison, whose true value is zero: its interval is the method's own error);
 * - `direct`: a hand-written middleware / hook calling the core's `verify` on the request, as
 *   bench/server.ts's `direct` app does;
 * - `guard`: the cdn-origin-guard adapter;
 * - with `BENCH_IN_PLACE_PARTS=1` (or a comma-separated list of parts), the direct app with one
 *   of the adapter's parts added, to attribute guard − direct: `check` instead of `verify`;
 *   `record`, the decision as an own property of the request (what the Express adapter did
 *   until 4 December, under a name of its own here, so that the adapter's accessor does not
 *   intercept it; a decorated request property on Fastify); `route`, the route read (Express:
 *   the adapter's routed path; Fastify: `request.routeOptions.config`, the per-route opt-out);
 *   on Express also the places the decision could be kept instead of an own property: `raw`,
 *   the request's `rawHeaders` array under a symbol (what the adapter does now), `locals`,
 *   `res.locals` under a symbol, and `weakmap`, a module-level `WeakMap` keyed by the request.
 * Requests are legitimate CloudFront requests (all allowed), the apps taking turns 4 requests at
 * a time in random order. Per round (100 turns) the median of each clock per app; figures are
 * medians over rounds of the per-round difference, with a distribution-free 95 % interval; the
 * step is judged (PASS / MISS / UNDECIDED) against 0.3 µs on that interval widened by the A/A
 * bound, as section 9 judges.
 *
 * Run: `npm run bench:in-place` (about 1 minute; 2 with the parts); with another Node binary:
 * `node --import ./bench/lib/register.mjs bench/in-place.ts`. `BENCH_IN_PLACE_ROUNDS`
 * (default 40), `BENCH_FRAMEWORKS` (`express,fastify`; `nest` adds Nest on its Express platform), `BENCH_IN_PLACE_PARTS` (`1` or e.g. `record,raw`).
 * @module
 */
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import parseurl from 'parseurl';
import type { Decision } from '../packages/core/src/decision.js';
import { benchGuardOptions, CLOUDFRONT_LIKE, legitRequest, prng, SEED } from './lib/fixtures.js';
import { table } from './lib/report.js';
import { decide, formatNs, type MedianCI, medianCI, summarize } from './lib/stats.js';

/** What a `direct+…` app adds to the direct app (see the module's comment). */
type Part = 'check' | 'record' | 'route' | 'locals' | 'weakmap' | 'raw';
type App = 'noop' | 'noop2' | 'direct' | 'guard' | `direct+${Part}`;
type Framework = 'express' | 'fastify' | 'nest';
const PARTS_ENV = process.env.BENCH_IN_PLACE_PARTS ?? '';
const PARTS: Record<Framework, readonly Part[]> = {
  express: ['check', 'record', 'route', 'locals', 'weakmap', 'raw'],
  fastify: ['check', 'record', 'route'],
  nest: [],
};
/** The parts measured for `framework`: all with `BENCH_IN_PLACE_PARTS=1`, or those it lists. */
function partsFor(framework: Framework): readonly Part[] {
  if (PARTS_ENV === '1') return PARTS[framework];
  const named = new Set(PARTS_ENV.split(',').map((p) => p.trim()));
  return PARTS[framework].filter((p) => named.has(p));
}
/** The apps measured for `framework`. */
function appsOf(framework: Framework): readonly App[] {
  const base: App[] = ['noop', 'noop2', 'direct', 'guard'];
  return [...base, ...partsFor(framework).map((p) => `direct+${p}` as const)];
}
/** Where the `weakmap` part keeps the decision. */
const DECISIONS = new WeakMap<object, Decision>();
/** Where the `locals` part keeps the decision. */
const LOCALS_KEY = Symbol.for('@cdn-origin-guard/bench-decision');

/** Which of the adapter's parts a direct app has. */
function partsOf(app: App): ReadonlySet<Part> | undefined {
  if (app === 'direct') return new Set();
  if (!app.startsWith('direct+')) return undefined;
  return new Set([app.slice('direct+'.length) as Part]);
}
const ROUNDS = Number(process.env.BENCH_IN_PLACE_ROUNDS) || 40;
const TURNS = 100;
const STRIDE = 4;
/** Issue 12 §2: guard − direct ≤ 0.3 µs on Express and Fastify, ≤ 2 µs on Nest. */
const LIMIT_NS: Record<Framework, number> = { express: 300, fastify: 300, nest: 2000 };
const HELLO = 'hello world';

/** hrtime at the first stamp of the request in flight (one request at a time). */
let started = 0n;
/** Step times of the app whose turn it is, this round. */
let sink: number[] = [];
/** Times from the first stamp to the route handler, of the app whose turn it is. */
let reachSink: number[] = [];

function stampBefore(): void {
  started = process.hrtime.bigint();
}
function stampAfter(): void {
  sink.push(Number(process.hrtime.bigint() - started));
}
function stampHandler(): void {
  reachSink.push(Number(process.hrtime.bigint() - started));
}
/** Whole request times (arrival at the server's listener to the response's `finish`). */
let wholeSink: number[] = [];

/** The server's request listener, timing the whole request around the framework's handler. */
function timed(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const list = wholeSink;
    const t0 = process.hrtime.bigint();
    res.once('finish', () => list.push(Number(process.hrtime.bigint() - t0)));
    handler(req, res);
  };
}

interface Running {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('bench: no port');
  return address.port;
}

async function expressApp(app: App): Promise<Running> {
  const { default: express } = await import('express');
  const { createOriginVerifier } = await import('../packages/core/src/verifier.js');
  const { cdnOriginGuard } = await import('../packages/express/src/index.js');
  const parts = partsOf(app);
  const e = express();
  const closers: (() => Promise<void>)[] = [];
  e.use(function before(_req, _res, next) {
    stampBefore();
    next();
  });
  if (app === 'guard') {
    const guard = cdnOriginGuard(benchGuardOptions());
    await guard.verifier.ready();
    closers.push(() => guard.verifier.close());
    e.use(guard);
  } else if (parts) {
    const direct = createOriginVerifier(benchGuardOptions());
    await direct.ready();
    closers.push(() => direct.close());
    const check = parts.has('check');
    const record = parts.has('record');
    const route = parts.has('route');
    const locals = parts.has('locals');
    const weakmap = parts.has('weakmap');
    const raw = parts.has('raw');
    e.use(function verifyDirectly(req, res, next) {
      const input = {
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        remoteAddress: req.socket.remoteAddress,
        method: req.method,
        path: route
          ? req.originalUrl === req.url
            ? (parseurl(req)?.pathname ?? undefined)
            : (parseurl.original(req)?.pathname ?? undefined)
          : req.path,
      };
      const decision = check ? (direct.check(input) as Decision) : direct.verify(input);
      if (record) (req as { ownDecision?: Decision }).ownDecision = decision;
      if (locals) (res.locals as Record<symbol, unknown>)[LOCALS_KEY] = decision;
      if (weakmap) DECISIONS.set(req, decision);
      if (raw) (input.rawHeaders as unknown as Record<symbol, unknown>)[LOCALS_KEY] = decision;
      if (decision.allowed) next();
      else res.status(403).send('Forbidden');
    });
  } else {
    e.use(function noop(req, _res, next) {
      if (req.headers['x-forwarded-for'] === '' && req.socket.remoteAddress === '') return;
      next();
    });
  }
  e.use(function after(_req, _res, next) {
    stampAfter();
    next();
  });
  e.get('/', (_req, res) => {
    stampHandler();
    res.send(HELLO);
  });
  const server = createServer(timed(e));
  const port = await listen(server);
  return {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      for (const close of closers) await close();
    },
  };
}

async function fastifyApp(app: App): Promise<Running> {
  const { default: Fastify } = await import('fastify');
  const { createOriginVerifier } = await import('../packages/core/src/verifier.js');
  const { cdnOriginGuard } = await import('../packages/fastify/src/index.js');
  const f = Fastify({
    logger: false,
    serverFactory: (handler) => createServer(timed(handler)),
  });
  f.addHook('onRequest', (_request, _reply, done) => {
    stampBefore();
    done();
  });
  const parts = partsOf(app);
  const direct = parts ? createOriginVerifier(benchGuardOptions()) : undefined;
  if (app === 'guard') await f.register(cdnOriginGuard, benchGuardOptions());
  else if (parts && direct) {
    await direct.ready();
    const check = parts.has('check');
    const record = parts.has('record');
    const route = parts.has('route');
    if (record) f.decorateRequest('cdnOriginGuard', null);
    f.addHook('onRequest', (request, reply, done) => {
      if (route && request.routeOptions.config.cdnOriginGuard === false) {
        done();
        return;
      }
      const input = {
        headers: request.headers,
        rawHeaders: request.raw.rawHeaders,
        remoteAddress: request.raw.socket?.remoteAddress,
        method: request.method,
        path: request.url,
      };
      const decision = check ? (direct.check(input) as Decision) : direct.verify(input);
      if (record) request.cdnOriginGuard = decision;
      if (decision.allowed) done();
      else reply.code(403).send('Forbidden');
    });
  } else {
    f.addHook('onRequest', (_request, _reply, done) => {
      done();
    });
  }
  // Added after the guard plugin has loaded (awaited above), so it runs after the guard's hook.
  f.addHook('onRequest', (_request, _reply, done) => {
    stampAfter();
    done();
  });
  f.get('/', async () => {
    stampHandler();
    return HELLO;
  });
  await f.listen({ port: 0, host: '127.0.0.1' });
  const address = f.server.address();
  if (address === null || typeof address !== 'object') throw new Error('bench: no port');
  return {
    port: address.port,
    close: async () => {
      await f.close();
      await direct?.close();
    },
  };
}

/**
 * Nest on its Express platform. The module's all-paths check runs on the platform before
 * anything an app can add, so there is no stamp right before it: the first stamp is the server's
 * request listener and the step ends at the route handler (step and "to the handler" are the
 * same clock). `noop`/`noop2`: a global Nest guard making the same Reflector lookup and request
 * read as the module's guard; `direct`: that guard calling `verify` on the request, as a
 * hand-written Nest guard would (bench/server.ts's Nest apps); `guard`: the module, applied
 * globally.
 */
async function nestApp(app: App): Promise<Running> {
  await import('reflect-metadata');
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { APP_GUARD, NestFactory } = await import('@nestjs/core');
  const { createOriginVerifier } = await import('../packages/core/src/verifier.js');
  const nest = await import('../packages/nestjs/src/index.js');
  const { nestPassThroughGuard } = await import('./server.js');
  class HelloController {
    hello(): string {
      stampAfter();
      stampHandler();
      return HELLO;
    }
  }
  const hello = Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello')!;
  Get()(HelloController.prototype, 'hello', hello);
  Controller()(HelloController);
  const direct = app === 'direct' ? createOriginVerifier(benchGuardOptions()) : undefined;
  await direct?.ready();
  const PassThroughGuard = await nestPassThroughGuard(direct);
  class AppModule {}
  Module({
    imports:
      app === 'guard'
        ? [nest.CdnOriginGuardModule.forRoot({ ...benchGuardOptions(), applyGlobally: true })]
        : [],
    providers: app === 'guard' ? [] : [{ provide: APP_GUARD, useClass: PassThroughGuard }],
    controllers: [HelloController],
  })(AppModule);
  const nestApplication = await NestFactory.create(AppModule, { logger: false });
  await nestApplication.init();
  const server = nestApplication.getHttpServer() as Server;
  const [listener] = server.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  if (listener === undefined) throw new Error('bench: Nest server has no request listener');
  server.removeAllListeners('request');
  server.on(
    'request',
    timed((req, res) => {
      stampBefore();
      listener(req, res);
    }),
  );
  await nestApplication.listen(0, '127.0.0.1');
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('bench: no port');
  return {
    port: address.port,
    close: async () => {
      await nestApplication.close();
      await direct?.close();
    },
  };
}

/** One client per server: a keep-alive connection, one request at a time. */
function client(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const rand = prng(SEED + 9);
  const pool = Array.from({ length: 64 }, () => legitRequest(rand, CLOUDFRONT_LIKE).headers);
  let i = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const headers = pool[i++ & 63]!;
      const req = request({ host: '127.0.0.1', port, path: '/', headers, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`bench: ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  return { one, close: () => agent.destroy() };
}

/** A comparison of two apps: over the step alone, and from the first stamp to the handler. */
interface Compared {
  readonly step: MedianCI;
  readonly reach: MedianCI;
  readonly whole: MedianCI;
}

interface Result {
  readonly aa: Compared;
  readonly directAdded: Compared;
  readonly overDirect: Compared;
  /** direct+part − direct, per part measured. */
  readonly parts: readonly (readonly [Part, Compared])[];
  readonly guardStep: number;
  readonly directStep: number;
}

async function measure(framework: Framework): Promise<Result> {
  const apps = appsOf(framework);
  const running = new Map<App, Running>();
  const clients = new Map<App, ReturnType<typeof client>>();
  for (const app of apps) {
    const r =
      framework === 'express'
        ? await expressApp(app)
        : framework === 'fastify'
          ? await fastifyApp(app)
          : await nestApp(app);
    running.set(app, r);
    clients.set(app, client(r.port));
  }
  const steps = new Map<App, number[]>(apps.map((a) => [a, []]));
  const reaches = new Map<App, number[]>(apps.map((a) => [a, []]));
  const wholes = new Map<App, number[]>(apps.map((a) => [a, []]));
  const turn = async () => {
    const order = [...apps].sort(() => Math.random() - 0.5);
    for (const app of order) {
      sink = steps.get(app)!;
      reachSink = reaches.get(app)!;
      wholeSink = wholes.get(app)!;
      const { one } = clients.get(app)!;
      for (let k = 0; k < STRIDE; k++) await one();
    }
  };
  for (let k = 0; k < 300; k++) await turn(); // warm-up
  const pairs: [string, App, App][] = [
    ['aa', 'noop2', 'noop'],
    ['directAdded', 'direct', 'noop'],
    ['overDirect', 'guard', 'direct'],
    ...apps.filter((a) => a.startsWith('direct+')).map((a): [string, App, App] => [a, a, 'direct']),
  ];
  const diffs = new Map(
    pairs.map(([name]) => [
      name,
      { step: [] as number[], reach: [] as number[], whole: [] as number[] },
    ]),
  );
  const guardSteps: number[] = [];
  const directSteps: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const list of steps.values()) list.length = 0;
    for (const list of reaches.values()) list.length = 0;
    for (const list of wholes.values()) list.length = 0;
    for (let k = 0; k < TURNS; k++) await turn();
    const median = (of: Map<App, number[]>, app: App) => {
      const list = of.get(app)!;
      if (list.length !== TURNS * STRIDE) throw new Error(`bench: ${app} timed ${list.length}`);
      return summarize(list).median;
    };
    for (const [name, a, b] of pairs) {
      const d = diffs.get(name)!;
      d.step.push(median(steps, a) - median(steps, b));
      d.reach.push(median(reaches, a) - median(reaches, b));
      d.whole.push(median(wholes, a) - median(wholes, b));
    }
    guardSteps.push(median(steps, 'guard'));
    directSteps.push(median(steps, 'direct'));
  }
  for (const c of clients.values()) c.close();
  for (const r of running.values()) await r.close();
  const compared = (name: string): Compared => {
    const d = diffs.get(name)!;
    return { step: medianCI(d.step), reach: medianCI(d.reach), whole: medianCI(d.whole) };
  };
  return {
    aa: compared('aa'),
    directAdded: compared('directAdded'),
    overDirect: compared('overDirect'),
    parts: PARTS[framework]
      .filter((p) => apps.includes(`direct+${p}`))
      .map((p) => [p, compared(`direct+${p}`)] as const),
    guardStep: summarize(guardSteps).median,
    directStep: summarize(directSteps).median,
  };
}

const ci = (c: MedianCI) => `${formatNs(c.median)} [${formatNs(c.lo)}, ${formatNs(c.hi)}]`;

/** Judged as section 9 judges: the interval widened on both sides by the A/A bound. */
function judge(c: MedianCI, aa: MedianCI, limit: number) {
  const bound = Math.max(Math.abs(aa.lo), Math.abs(aa.hi));
  return decide({ ...c, lo: c.lo - bound, hi: c.hi + bound }, limit);
}

async function main(): Promise<void> {
  const frameworks = (process.env.BENCH_FRAMEWORKS ?? 'express,fastify')
    .split(',')
    .filter((f): f is Framework => f === 'express' || f === 'fastify' || f === 'nest');
  const rows: string[][] = [];
  const partRows: string[][] = [];
  for (const framework of frameworks) {
    const r = await measure(framework);
    const name =
      framework === 'express'
        ? 'Express 5'
        : framework === 'fastify'
          ? 'Fastify 5'
          : 'NestJS 12 (Express platform; step = to the handler)';
    rows.push([
      name,
      formatNs(r.directStep),
      formatNs(r.guardStep),
      ci(r.aa.step),
      ci(r.directAdded.step),
      ci(r.overDirect.step),
      judge(r.overDirect.step, r.aa.step, LIMIT_NS[framework]),
      ci(r.overDirect.reach),
      ci(r.aa.whole),
      ci(r.overDirect.whole),
    ]);
    for (const [part, c] of r.parts)
      partRows.push([name, part, ci(c.step), ci(c.reach), ci(c.whole)]);
  }
  console.log(`Node ${process.version}, ${ROUNDS} rounds × ${TURNS * STRIDE} requests per app`);
  console.log(
    table(
      [
        'app',
        'direct step',
        'guard step',
        'A/A (noop2 − noop)',
        'direct − noop',
        'guard − direct',
        `verdict (≤ ${formatNs(LIMIT_NS.express)}; Nest ≤ ${formatNs(LIMIT_NS.nest)})`,
        'guard − direct, to the handler',
        'A/A, whole request',
        'guard − direct, whole request',
      ],
      rows,
    ),
  );
  if (partRows.length > 0)
    console.log(
      `\n${table(
        [
          'app',
          'part added to direct',
          'direct+part − direct: step',
          'to the handler',
          'whole request',
        ],
        partRows,
      )}`,
    );
}

await main();

/**
 * Child server for the whole-server benchmark: a hello-world app, with or without the guard,
 * on 127.0.0.1.
 *
 * Usage: `tsx bench/server.ts express|fastify|nest|nest-fastify guard|plain|noop PORT` (PORT 0
 * picks a free port; `noop` puts a pass-through middleware where the guard would be; on Nest a
 * pass-through guard making the same Reflector lookup as the real one). The in-process
 * injection benchmark (bench/inject.ts) builds the same apps with {@link buildApp} and never
 * listens. The benchmark
 * starts it with `node --import ./bench/lib/register.mjs` instead of tsx (see ts-hooks.mjs).
 * With an IPC channel (as `bench/run.ts` starts it) it sends `{ type: 'listening', port }`,
 * answers `{ type: 'stats' }` with the verifier's stats and `{ type: 'cpu' }` with its CPU
 * time, and exits when the parent goes away; without one it prints the port. It always exits
 * by itself after `BENCH_SERVER_MAX_MS` (default 20 minutes).
 *
 * Guard: static secret + static ranges (the benchmark's generated list) + `trustedProxies`
 * loopback/uniquelocal; with `BENCH_SECRET_ID` the secret comes from Secrets Manager instead
 * (endpoint from the AWS SDK's environment), refreshed every `BENCH_SECRET_REFRESH_MS`.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ExecutionContext, INestApplication } from '@nestjs/common';
import lightMyRequest, {
  type InjectOptions,
  type Response as InjectResponse,
} from 'light-my-request';
import type { OriginGuardOptions } from '../packages/core/src/options.js';
import { createOriginVerifier, type OriginVerifier } from '../packages/core/src/verifier.js';
import { benchGuardOptions } from './lib/fixtures.js';

/** `nest` is Nest on its Express platform, `nest-fastify` on its Fastify platform. */
export type Framework = 'express' | 'fastify' | 'nest' | 'nest-fastify';
/**
 * `guard`: the cdn-origin-guard adapter; `plain`: nothing; `noop`: a pass-through middleware /
 * hook / guard in the same place (what any middleware costs, for comparison); `direct`: the same
 * pass-through calling the core's `verify` itself, as a hand-written middleware / hook / Nest
 * guard would, with a verifier of the guard's options, and answering 403 when denied (what the
 * check costs inside a request with nothing of the adapter around it).
 */
export type GuardMode = 'guard' | 'plain' | 'noop' | 'direct';

/** What the child tells its parent over IPC. */
export type ServerMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'stats'; readonly stats: ReturnType<OriginVerifier['stats']> | null }
  | { readonly type: 'cpu'; readonly user: number; readonly system: number }
  | { readonly type: 'error'; readonly message: string };

const HELLO = 'hello world';

function guardOptions(): OriginGuardOptions {
  const base = benchGuardOptions();
  const secretId = process.env.BENCH_SECRET_ID;
  if (!secretId) return base;
  const { secret: _static, ...rest } = base;
  return {
    ...rest,
    secretId,
    secretRefreshMs: Number(process.env.BENCH_SECRET_REFRESH_MS ?? 10_000),
    mismatchRefreshMs: Number(process.env.BENCH_MISMATCH_REFRESH_MS ?? 30_000),
  };
}

/** The verifier of a `direct` app: the guard's options, loaded (static sources: at once). */
async function directVerifier(): Promise<OriginVerifier> {
  const verifier = createOriginVerifier(guardOptions());
  await verifier.ready();
  return verifier;
}

/** A hello-world app, built but not listening: requests can be injected or it can listen. */
export interface BenchApp {
  /** The guard's verifier, or a `direct` app's own (undefined otherwise). */
  readonly verifier: OriginVerifier | undefined;
  /**
   * Answers one request in process, without a socket: light-my-request's fake request and
   * response, dispatched as Node's HTTP server dispatches (`server.emit('request', req, res)`),
   * or `fastify.inject` (the same library) on the Fastify platforms.
   */
  inject(options: InjectOptions): Promise<InjectResponse>;
  /** Listens on 127.0.0.1 and resolves with the port. */
  listen(port: number): Promise<number>;
  close(): Promise<void>;
}

/** light-my-request on a Node `http.Server`: the request goes to its `'request'` listeners. */
function injectInto(server: Server): BenchApp['inject'] {
  const dispatch = (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res);
  return (options) => lightMyRequest(dispatch, { validate: false, ...options });
}

function listenOn(server: Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function buildExpress(mode: GuardMode): Promise<BenchApp> {
  const { default: express } = await import('express');
  const { cdnOriginGuard } = await import('../packages/express/src/index.js');
  const app = express();
  let verifier: OriginVerifier | undefined;
  if (mode === 'guard') {
    const guard = cdnOriginGuard(guardOptions());
    await guard.verifier.ready();
    verifier = guard.verifier;
    app.use(guard);
  } else if (mode === 'noop') {
    // Reads what any middleware reads (Node builds `req.headers` lazily on first access).
    app.use(function noop(req, _res, next) {
      if (req.headers['x-forwarded-for'] === '' && req.socket.remoteAddress === '') return;
      next();
    });
  } else if (mode === 'direct') {
    const direct = await directVerifier();
    verifier = direct;
    app.use(function verifyDirectly(req, res, next) {
      const decision = direct.verify({
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        remoteAddress: req.socket.remoteAddress,
        method: req.method,
        path: req.path,
      });
      if (decision.allowed) next();
      else res.status(403).send('Forbidden');
    });
  }
  app.get('/', (_req, res) => {
    res.send(HELLO);
  });
  const server = createServer(app);
  return {
    verifier,
    inject: injectInto(server),
    listen: (port) => listenOn(server, port),
    close: async () => {
      if (server.listening) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await verifier?.close();
    },
  };
}

async function buildFastify(mode: GuardMode): Promise<BenchApp> {
  const { default: Fastify } = await import('fastify');
  const { cdnOriginGuard } = await import('../packages/fastify/src/index.js');
  const app = Fastify({ logger: false });
  const direct = mode === 'direct' ? await directVerifier() : undefined;
  if (mode === 'guard') await app.register(cdnOriginGuard, guardOptions());
  else if (direct) {
    app.addHook('onRequest', (request, reply, done) => {
      const decision = direct.verify({
        headers: request.headers,
        rawHeaders: request.raw.rawHeaders,
        remoteAddress: request.raw.socket?.remoteAddress,
        method: request.method,
        path: request.url,
      });
      if (decision.allowed) done();
      else reply.code(403).send('Forbidden');
    });
  } else if (mode === 'noop') {
    app.addHook('onRequest', (_request, _reply, done) => {
      done();
    });
  }
  app.get('/', async () => HELLO);
  await app.ready();
  return {
    verifier: mode === 'guard' ? app.cdnOriginGuard : direct,
    inject: (options) => app.inject(options),
    listen: async (port) => {
      await app.listen({ port, host: '127.0.0.1' });
      const address = app.server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    close: () => app.close(),
  };
}

/**
 * The Nest pass-through guard of the `noop` and `direct` apps: the same Reflector lookup and
 * request read as the real guard; with `direct`, it then calls `verify` on the request, as a
 * hand-written Nest guard would. Also used by bench/in-place.ts.
 */
export async function nestPassThroughGuard(direct: OriginVerifier | undefined) {
  const { Inject, Injectable } = await import('@nestjs/common');
  const { Reflector } = await import('@nestjs/core');
  const { ORIGIN_GUARD_RULE } = await import('../packages/nestjs/src/constants.js');
  class PassThroughGuard {
    constructor(private readonly reflector: InstanceType<typeof Reflector>) {}
    canActivate(context: ExecutionContext): boolean {
      if (context.getType() !== 'http') return true;
      const rule = this.reflector.getAllAndOverride<string | undefined>(ORIGIN_GUARD_RULE, [
        context.getHandler(),
        context.getClass(),
      ]);
      if (rule === 'skip') return true;
      const req = context.switchToHttp().getRequest<IncomingMessage | { raw: IncomingMessage }>();
      if (direct === undefined) return req !== null;
      const raw = 'raw' in req ? req.raw : req;
      return direct.verify({
        headers: raw.headers,
        rawHeaders: raw.rawHeaders,
        remoteAddress: raw.socket?.remoteAddress,
        method: raw.method,
        path: raw.url,
      }).allowed;
    }
  }
  Inject(Reflector)(PassThroughGuard, undefined, 0);
  Injectable()(PassThroughGuard);
  return PassThroughGuard;
}

async function buildNest(mode: GuardMode, platform: 'express' | 'fastify'): Promise<BenchApp> {
  await import('reflect-metadata');
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { APP_GUARD, NestFactory } = await import('@nestjs/core');
  const nest = await import('../packages/nestjs/src/index.js');

  class HelloController {
    hello(): string {
      return HELLO;
    }
  }
  // Decorators applied as functions: the classes are built at run time, after the imports.
  const hello = Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello')!;
  Get()(HelloController.prototype, 'hello', hello);
  Controller()(HelloController);
  const direct = mode === 'direct' ? await directVerifier() : undefined;
  const PassThroughGuard = await nestPassThroughGuard(direct);
  class AppModule {}
  Module({
    imports:
      mode === 'guard'
        ? [nest.CdnOriginGuardModule.forRoot({ ...guardOptions(), applyGlobally: true })]
        : [],
    providers:
      mode === 'noop' || mode === 'direct'
        ? [{ provide: APP_GUARD, useClass: PassThroughGuard }]
        : [],
    controllers: [HelloController],
  })(AppModule);

  let app: INestApplication;
  let inject: BenchApp['inject'];
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const adapter = new FastifyAdapter();
    app = await NestFactory.create(AppModule, adapter, { logger: false });
    await app.init();
    const instance = adapter.getInstance();
    await instance.ready();
    inject = (options) => instance.inject(options);
  } else {
    app = await NestFactory.create(AppModule, { logger: false });
    await app.init();
    inject = injectInto(app.getHttpServer() as Server);
  }
  return {
    verifier: mode === 'guard' ? app.get<OriginVerifier>(nest.CDN_ORIGIN_GUARD_VERIFIER) : direct,
    inject,
    listen: async (port) => {
      await app.listen(port, '127.0.0.1');
      const address = (app.getHttpServer() as Server).address();
      return typeof address === 'object' && address ? address.port : port;
    },
    close: () => app.close(),
  };
}

/** Builds one app (not listening yet). */
export function buildApp(framework: Framework, mode: GuardMode): Promise<BenchApp> {
  switch (framework) {
    case 'express':
      return buildExpress(mode);
    case 'fastify':
      return buildFastify(mode);
    case 'nest':
      return buildNest(mode, 'express');
    case 'nest-fastify':
      return buildNest(mode, 'fastify');
  }
}

/** Every framework id the CLI accepts. */
export const FRAMEWORK_IDS: readonly Framework[] = ['express', 'fastify', 'nest', 'nest-fastify'];
const MODES: readonly GuardMode[] = ['guard', 'plain', 'noop', 'direct'];

async function main(): Promise<void> {
  const [framework, mode, portText = '0'] = process.argv.slice(2);
  if (!FRAMEWORK_IDS.includes(framework as Framework) || !MODES.includes(mode as GuardMode)) {
    console.error(`usage: tsx bench/server.ts ${FRAMEWORK_IDS.join('|')} ${MODES.join('|')} PORT`);
    process.exit(2);
  }
  const send = (m: ServerMessage) => process.send?.(m);
  const maxMs = Number(process.env.BENCH_SERVER_MAX_MS ?? 20 * 60_000);
  setTimeout(() => process.exit(0), maxMs).unref();

  let running: BenchApp;
  let port: number;
  try {
    running = await buildApp(framework as Framework, mode as GuardMode);
    port = await running.listen(Number(portText));
  } catch (error) {
    send({ type: 'error', message: (error as Error)?.stack ?? String(error) });
    console.error(error);
    process.exit(1);
  }
  const stop = () => {
    running.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (process.send) {
    process.on('disconnect', stop);
    process.on('message', (m: { type?: string }) => {
      if (m?.type === 'stats') send({ type: 'stats', stats: running.verifier?.stats() ?? null });
      if (m?.type === 'cpu') {
        const { user, system } = process.cpuUsage();
        send({ type: 'cpu', user, system });
      }
    });
    send({ type: 'listening', port });
  } else {
    console.log(`${framework} ${mode} listening on http://127.0.0.1:${port}`);
  }
}

if (process.argv[1]?.endsWith('server.ts')) await main();

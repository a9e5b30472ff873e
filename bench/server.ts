/**
 * Child server for the whole-server benchmark: a hello-world app, with or without the guard,
 * on 127.0.0.1.
 *
 * Usage: `tsx bench/server.ts express|fastify|nest guard|plain|noop PORT` (PORT 0 picks a
 * free port; `noop` puts a pass-through middleware where the guard would be). The benchmark
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
import type { Server } from 'node:http';
import type { OriginGuardOptions } from '../packages/core/src/options.js';
import type { OriginVerifier } from '../packages/core/src/verifier.js';
import { benchGuardOptions } from './lib/fixtures.js';

export type Framework = 'express' | 'fastify' | 'nest';
/**
 * `guard`: the cdn-origin-guard adapter; `plain`: nothing; `noop`: a pass-through middleware /
 * hook / guard in the same place (what any middleware costs, for comparison).
 */
export type GuardMode = 'guard' | 'plain' | 'noop';

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

interface Running {
  readonly port: number;
  readonly verifier: OriginVerifier | undefined;
  close(): Promise<void>;
}

async function startExpress(mode: GuardMode, port: number): Promise<Running> {
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
  }
  app.get('/', (_req, res) => {
    res.send(HELLO);
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', (error?: Error) =>
      error ? reject(error) : resolve(s),
    );
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    verifier,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await verifier?.close();
    },
  };
}

async function startFastify(mode: GuardMode, port: number): Promise<Running> {
  const { default: Fastify } = await import('fastify');
  const { cdnOriginGuard } = await import('../packages/fastify/src/index.js');
  const app = Fastify({ logger: false });
  if (mode === 'guard') await app.register(cdnOriginGuard, guardOptions());
  else if (mode === 'noop') app.addHook('onRequest', (_request, _reply, done) => done());
  app.get('/', async () => HELLO);
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    verifier: mode === 'guard' ? app.cdnOriginGuard : undefined,
    close: () => app.close(),
  };
}

async function startNest(mode: GuardMode, port: number): Promise<Running> {
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
  class AllowAll {
    canActivate(): boolean {
      return true;
    }
  }
  class AppModule {}
  Module({
    imports:
      mode === 'guard'
        ? [nest.CdnOriginGuardModule.forRoot({ ...guardOptions(), applyGlobally: true })]
        : [],
    providers: mode === 'noop' ? [{ provide: APP_GUARD, useClass: AllowAll }] : [],
    controllers: [HelloController],
  })(AppModule);

  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(port, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    verifier:
      mode === 'guard' ? app.get<OriginVerifier>(nest.CDN_ORIGIN_GUARD_VERIFIER) : undefined,
    close: () => app.close(),
  };
}

/** Starts one server; used by the CLI below. */
export function startServer(framework: Framework, mode: GuardMode, port: number) {
  switch (framework) {
    case 'express':
      return startExpress(mode, port);
    case 'fastify':
      return startFastify(mode, port);
    case 'nest':
      return startNest(mode, port);
  }
}

async function main(): Promise<void> {
  const [framework, mode, portText = '0'] = process.argv.slice(2);
  if (
    (framework !== 'express' && framework !== 'fastify' && framework !== 'nest') ||
    (mode !== 'guard' && mode !== 'plain' && mode !== 'noop')
  ) {
    console.error('usage: tsx bench/server.ts express|fastify|nest guard|plain|noop PORT');
    process.exit(2);
  }
  const send = (m: ServerMessage) => process.send?.(m);
  const maxMs = Number(process.env.BENCH_SERVER_MAX_MS ?? 20 * 60_000);
  setTimeout(() => process.exit(0), maxMs).unref();

  let running: Running;
  try {
    running = await startServer(framework, mode, Number(portText));
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
    send({ type: 'listening', port: running.port });
  } else {
    console.log(`${framework} ${mode} listening on http://127.0.0.1:${running.port}`);
  }
}

if (process.argv[1]?.endsWith('server.ts')) await main();

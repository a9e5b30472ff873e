/**
 * The Express and Fastify example apps, built in-process with their `createApp(...)` and
 * listening on 127.0.0.1 on an ephemeral port.
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OriginGuardOptions, OriginVerifier } from '@cdn-origin-guard/core';
import type { FastifyServerOptions } from 'fastify';
import { createApp as createExpressApp } from '../../../examples/express/src/app.js';
import { createApp as createFastifyApp } from '../../../examples/fastify/src/app.js';

export type Framework = 'express' | 'fastify';

/** A running example app. */
export interface RunningApp {
  readonly framework: Framework;
  readonly port: number;
  readonly verifier: OriginVerifier;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Environment the app reads its options from (CDN_ORIGIN_GUARD_*). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Guard options over the environment's. */
  readonly guard?: Partial<OriginGuardOptions>;
  /** Express: where deny lines go. Defaults to dropping them. */
  readonly log?: (line: string) => void;
  /** Fastify: its logger option. Defaults to `false`. */
  readonly logger?: FastifyServerOptions['logger'];
  /** Express: the server's `maxHeaderSize`. Defaults to Node's (16 KiB). */
  readonly maxHeaderSize?: number;
  /** Wait for the guard's sources before listening. Defaults to `true`. */
  readonly waitReady?: boolean;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startExpress(options: StartOptions): Promise<RunningApp> {
  const { app, guard } = createExpressApp({
    env: options.env,
    guard: options.guard,
    log: options.log ?? (() => undefined),
  });
  if (options.waitReady ?? true) await guard.verifier.ready();
  const server = createServer(
    options.maxHeaderSize === undefined ? {} : { maxHeaderSize: options.maxHeaderSize },
    app,
  );
  server.keepAliveTimeout = 30_000;
  const port = await listen(server);
  return {
    framework: 'express',
    port,
    verifier: guard.verifier,
    async close() {
      await guard.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startFastify(options: StartOptions): Promise<RunningApp> {
  const app = createFastifyApp({
    env: options.env,
    guard: options.guard,
    logger: options.logger ?? false,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  app.server.keepAliveTimeout = 30_000;
  return {
    framework: 'fastify',
    port,
    verifier: app.cdnOriginGuard,
    async close() {
      await app.close();
    },
  };
}

export function startApp(framework: Framework, options: StartOptions): Promise<RunningApp> {
  return framework === 'express' ? startExpress(options) : startFastify(options);
}

/**
 * Start the example Nest app: `npm start --workspace examples/nestjs`.
 *
 * Environment: CDN_ORIGIN_GUARD_* (see `optionsFromEnv`), the AWS SDK's variables, `PORT`
 * (default 3000) and `HOST` (default 127.0.0.1). Exits 1 with a message naming the variable
 * when one is bad, or when the guard's sources cannot load.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

function fail(message: string): never {
  process.stderr.write(`example-nestjs: ${message}\n`);
  process.exit(1);
}

const host = process.env.HOST?.trim() || '127.0.0.1';
const rawPort = process.env.PORT?.trim() || '3000';
const port = Number(rawPort);
if (!/^\d+$/.test(rawPort) || port > 65_535)
  fail(`PORT is "${rawPort}"; expected a port number from 0 to 65535.`);

// Nest's own logs: warnings and errors only, so stdout holds the deny lines.
const app = await NestFactory.create(AppModule, {
  logger: ['error', 'warn'],
  abortOnError: false,
}).catch((error: Error) => fail(error.message));

try {
  // init() runs the module's onModuleInit, which loads the guard's sources.
  await app.listen(port, host);
} catch (error) {
  await app.close().catch(() => undefined);
  fail(`cannot start: ${(error as Error).message}`);
}
const { port: actual } = app.getHttpServer().address() as AddressInfo;
const shown = host.includes(':') ? `[${host}]` : host;
process.stdout.write(`listening on http://${shown}:${actual}\n`);

function shutdown(signal: NodeJS.Signals): void {
  process.stdout.write(`${signal} received, closing\n`);
  // Stops accepting, lets requests in flight finish, then closes the guard (its timers).
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
  setTimeout(() => process.exit(1), 10_000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

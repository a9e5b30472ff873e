/**
 * Start the example Fastify app: `npm start --workspace examples/fastify`.
 *
 * Environment: CDN_ORIGIN_GUARD_* (see `optionsFromEnv`), the AWS SDK's variables, `PORT`
 * (default 3000) and `HOST` (default 127.0.0.1). Exits 1 with a message naming the variable
 * when one is bad, or when the guard's sources cannot load.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createApp } from './app.js';

function fail(message: string): never {
  process.stderr.write(`example-fastify: ${message}\n`);
  process.exit(1);
}

const host = process.env.HOST?.trim() || '127.0.0.1';
const rawPort = process.env.PORT?.trim() || '3000';
const port = Number(rawPort);
if (!/^\d+$/.test(rawPort) || port > 65_535)
  fail(`PORT is "${rawPort}"; expected a port number from 0 to 65535.`);

let app: FastifyInstance;
try {
  app = createApp();
} catch (error) {
  fail((error as Error).message);
}

try {
  // The guard plugin loads its sources during boot; this rejects with NotReadyError if it can't.
  await app.ready();
} catch (error) {
  await app.close().catch(() => undefined);
  fail(
    `cdn-origin-guard could not load its sources, so every request would be denied. ${(error as Error).message}`,
  );
}

try {
  await app.listen({ port, host });
} catch (error) {
  fail(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
}
const { port: actual } = app.server.address() as AddressInfo;
process.stdout.write(`listening on http://${host.includes(':') ? `[${host}]` : host}:${actual}\n`);

function shutdown(signal: NodeJS.Signals): void {
  app.log.info(`${signal} received, closing`);
  // Stops accepting, lets requests in flight finish, and closes the guard (its onClose hook).
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
  setTimeout(() => process.exit(1), 10_000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

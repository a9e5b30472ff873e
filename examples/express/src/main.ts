/**
 * Start the example Express app: `npm start --workspace examples/express`.
 *
 * Environment: CDN_ORIGIN_GUARD_* (see `optionsFromEnv`), the AWS SDK's variables, `PORT`
 * (default 3000) and `HOST` (default 127.0.0.1). Exits 1 with a message naming the variable
 * when one is bad, or when the guard's sources cannot load.
 */
import type { AddressInfo } from 'node:net';
import { createApp, type ExampleApp } from './app.js';

function fail(message: string): never {
  process.stderr.write(`example-express: ${message}\n`);
  process.exit(1);
}

const host = process.env.HOST?.trim() || '127.0.0.1';
const rawPort = process.env.PORT?.trim() || '3000';
const port = Number(rawPort);
if (!/^\d+$/.test(rawPort) || port > 65_535)
  fail(`PORT is "${rawPort}"; expected a port number from 0 to 65535.`);

let example: ExampleApp;
try {
  example = createApp();
} catch (error) {
  fail((error as Error).message);
}
const { app, guard } = example;

try {
  await guard.ready();
} catch (error) {
  await guard.close();
  fail(
    `cdn-origin-guard could not load its sources, so every request would be denied. ${(error as Error).message}`,
  );
}

const server = app.listen(port, host, () => {
  const { port: actual } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  process.stdout.write(`listening on http://${shown}:${actual}\n`);
});
server.on('error', (error) => fail(`cannot listen on ${host}:${port}: ${error.message}`));

function shutdown(signal: NodeJS.Signals): void {
  process.stdout.write(`${signal} received, closing\n`);
  // Stop accepting, let requests in flight finish, then stop the guard's refresh timers.
  server.close(() => {
    guard.close().then(() => process.exit(0));
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(1), 10_000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

/**
 * `ServerWatch`: the net under `guardUpgrades` that the Express middleware and the Nest module
 * share. Each rule came from a review of one adapter's copy; here it is proved once, on real
 * (not listening) Node servers. The adapters' suites prove it over HTTP.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BASE } from '../../../test/support/adapter-fixtures.js';
import {
  createOriginVerifier,
  EXPRESS_APP,
  guardUpgrades,
  isGuardingUpgrades,
  listenersBeforeFramework,
  type OriginGuardOptions,
  type OriginVerifier,
  ServerWatch,
  type ServerWatchEvent,
  type UpgradeServer,
} from '../src/index.js';

const verifier = () => createOriginVerifier(BASE as OriginGuardOptions);

/** A watch that guards with `v`, keeping what it reports. */
function watching(v: OriginVerifier, app = EXPRESS_APP) {
  const events: ServerWatchEvent[] = [];
  const watch = new ServerWatch({ report: (event) => events.push(event) });
  const start = () => watch.start({ guard: (server) => guardUpgrades(server, v), app });
  start();
  return { watch, events, start };
}

/** What an adapter does on each request: one comparison, the watch only on a change. */
function request(watch: ServerWatch, server: unknown): void {
  if (server !== watch.last) watch.see(server);
}

async function closed(server: Server): Promise<void> {
  const closing = once(server, 'close');
  server.close(); // not listening: Node emits 'close' all the same
  await closing;
}

describe('ServerWatch', () => {
  it("guards a server nobody guards at its first request, naming what answered before the app: 'upgrade' listeners and a 'request' listener that is not the app", () => {
    const v = verifier();
    const { watch, events } = watching(v);
    const server = createServer();
    server.on('upgrade', () => {});
    server.on('request', () => {}); // Socket.IO's engine, say

    request(watch, server);
    request(watch, server);

    expect(isGuardingUpgrades(server, v)).toBe(true);
    expect(events).toEqual([
      {
        type: 'guarded-late',
        listeners: [
          "'upgrade' listeners (WebSocket handshakes)",
          "a 'request' listener that is not the Express app (Socket.IO's engine)",
        ],
      },
    ]);
  });

  it('guards a server whose only listener is the app quietly', () => {
    const v = verifier();
    const { watch, events } = watching(v);
    const app = Object.assign(() => {}, { handle() {}, use() {} });
    const server = createServer(app);

    request(watch, server);

    expect(isGuardingUpgrades(server, v)).toBe(true);
    expect(events).toEqual([]);
  });

  it('leaves a server another verifier guards, and takes it over when requests come from it anew after that guard is gone', () => {
    const v = verifier();
    const other = verifier();
    const { watch } = watching(v);
    const server = createServer();
    const removeOther = guardUpgrades(server, other);

    request(watch, server);
    expect(isGuardingUpgrades(server, v)).toBe(false);

    removeOther(); // the other app closed
    request(watch, createServer()); // a request from elsewhere in between
    request(watch, server);

    expect(isGuardingUpgrades(server, v)).toBe(true);
  });

  it('records nothing before start(), and start() looks again at a server met before it', () => {
    const v = verifier();
    const events: ServerWatchEvent[] = [];
    const watch = new ServerWatch({ report: (event) => events.push(event) });
    const server = createServer();

    request(watch, server);
    expect(watch.last).toBeUndefined();
    watch.start({ guard: (s) => guardUpgrades(s, v) });
    request(watch, server);

    expect(isGuardingUpgrades(server, v)).toBe(true);
  });

  it('keeps a server guarded when it closes while started, and releases it when it closes after stop()', async () => {
    const v = verifier();
    const { watch } = watching(v);
    const server = createServer();
    request(watch, server);

    await closed(server);
    expect(isGuardingUpgrades(server, v)).toBe(true);

    watch.stop();
    expect(isGuardingUpgrades(server, v)).toBe(true); // until it closes
    await closed(server);
    expect(isGuardingUpgrades(server, v)).toBe(false);
  });

  it('reports a server guardUpgrades refuses once, and never throws, even from a throwing logger', () => {
    const v = verifier();
    let reports = 0;
    const watch = new ServerWatch({
      report: () => {
        reports++;
        throw new Error('logger down');
      },
    });
    watch.start({ guard: (server) => guardUpgrades(server, v) });
    const notAServer = { listenerCount: () => 0, emit: () => false };

    expect(() => request(watch, notAServer)).not.toThrow();
    request(watch, {});
    request(watch, notAServer);

    expect(reports).toBe(1);
  });

  it("says once, as a process warning, that the adapter's logger failed", async () => {
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const watch = new ServerWatch({
        report: () => {
          throw new Error('log sink down');
        },
      });
      watch.start({
        guard: () => {
          throw new Error('not a server');
        },
      });
      request(watch, { listenerCount: () => 0 });
      request(watch, {});
      request(watch, { listenerCount: () => 0 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(
        warnings
          .filter((w) => w.code === 'CDN_ORIGIN_GUARD_LOGGER_THREW')
          .map((w) => w.message)
          .filter((m) => m.includes('log sink down')),
      ).toEqual([
        "@cdn-origin-guard: the logger's error() threw (log sink down); its guard lines are lost. Further throws are not reported.",
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('passes the adapter guard its server as an UpgradeServer and ignores non-objects', () => {
    const seen: UpgradeServer[] = [];
    const watch = new ServerWatch({ report: () => {} });
    watch.start({
      guard: (server) => {
        seen.push(server);
        return () => {};
      },
    });
    const server = createServer();

    request(watch, undefined);
    request(watch, 'server');
    request(watch, server);

    expect(seen).toEqual([server]);
  });
});

describe('listenersBeforeFramework', () => {
  it("names a 'request' listener only when told which is the app's", () => {
    const server = createServer(() => {});

    expect(listenersBeforeFramework(server)).toEqual([]);
    expect(
      listenersBeforeFramework(server, { name: "Fastify's request handler", is: () => false }),
    ).toEqual(["a 'request' listener that is not Fastify's request handler (Socket.IO's engine)"]);
  });
});

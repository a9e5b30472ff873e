/**
 * `guardUpgrades(server, guard)`: an Express app's HTTP upgrade requests (WebSocket handshakes)
 * never reach its middleware (Node emits them as `'upgrade'`), so they are checked on the server.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CdnOriginGuardMiddleware,
  type CdnOriginGuardOptions,
  cdnOriginGuard,
  guardUpgrades,
} from '@cdn-origin-guard/express';
import express from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import {
  answer101,
  BASE,
  BOT,
  expectContinueOutcomes,
  OUR_CLOUDFRONT,
  rawRequest,
  rawUpgrade,
  SWITCHED,
  UPGRADE_DENY,
  withPollutedPrototype,
} from '../../../test/support/adapter-fixtures.js';

const guards: CdnOriginGuardMiddleware[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A logger keeping its lines. */
function recordingLogger() {
  const lines: string[] = [];
  const keep = (level: string) => (line: string) => lines.push(`${level} ${line}`);
  return { lines, logger: { error: keep('error'), warn: keep('warn'), info: keep('info') } };
}

/** The repro of the outside review: the guard in front of every route, an 'upgrade' listener. */
async function appWithUpgrades(
  framework: typeof express,
  options: Partial<CdnOriginGuardOptions> = {},
) {
  const { lines, logger } = recordingLogger();
  const guard = cdnOriginGuard({ ...BASE, logger, ...options } as CdnOriginGuardOptions);
  guards.push(guard);
  const app = framework();
  app.use(guard);
  app.get('/admin', (_req, res) => {
    res.send('admin');
  });
  await guard.ready();
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  const ws = answer101();
  return { guard, server, ws, lines, port: (server.address() as AddressInfo).port };
}

describe.each([
  ['Express 5', express],
  ['Express 4', express4],
])('guardUpgrades on %s', (_name, framework) => {
  it("denies a bot's upgrade with the uniform deny bytes; the listener is never called", async () => {
    const { guard, server, ws, lines, port } = await appWithUpgrades(framework);
    server.on('upgrade', ws.listener);
    guardUpgrades(server, guard);

    expect((await rawRequest(port, '/admin', BOT)).startsWith('HTTP/1.1 403 Forbidden')).toBe(true);
    expect(await rawUpgrade(port, '/admin', BOT)).toBe(UPGRADE_DENY);
    expect(ws.seen).toEqual([]);
    // Logged like the middleware's denies: both lines name the reason, method and path.
    expect(lines.filter((l) => l.includes('reason=edge-not-cloudfront'))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(
      /^info cdn-origin-guard denied request: reason=edge-not-cloudfront .* method=GET path=\/admin /,
    );
  });

  it('lets an upgrade through our CloudFront reach a listener added after it, with req.cdnOriginGuard set', async () => {
    const { guard, server, ws, port } = await appWithUpgrades(framework);
    guardUpgrades(server, guard);
    server.on('upgrade', ws.listener);

    expect(await rawUpgrade(port, '/chat', OUR_CLOUDFRONT)).toBe(SWITCHED);
    expect(await rawUpgrade(port, '/chat', BOT)).toBe(UPGRADE_DENY);
    expect(ws.seen).toHaveLength(1);
    expect(ws.seen[0]?.decision).toMatchObject({ allowed: true, reason: 'verified' });
  });

  it('leaves ordinary requests to the middleware', async () => {
    const { guard, server, ws, port } = await appWithUpgrades(framework);
    server.on('upgrade', ws.listener);
    guardUpgrades(server, guard);

    const allowed = await rawRequest(port, '/admin', OUR_CLOUDFRONT);
    expect(allowed.startsWith('HTTP/1.1 200 OK')).toBe(true);
    expect(allowed.endsWith('admin')).toBe(true);
  });

  it('in report mode passes the upgrade and logs the would-be deny', async () => {
    const { guard, server, ws, lines, port } = await appWithUpgrades(framework, {
      mode: 'report',
    });
    server.on('upgrade', ws.listener);
    guardUpgrades(server, guard);

    expect(await rawUpgrade(port, '/chat', BOT)).toBe(SWITCHED);
    expect(ws.seen[0]?.decision).toMatchObject({ allowed: true, reason: 'reported' });
    expect(lines.at(-1)).toMatch(/would deny request \(report mode\).* path=\/chat /);
  });

  it('denies while the verifier cannot load', async () => {
    const { server, ws, port } = await appWithUpgrades(framework);
    const pending = cdnOriginGuard({
      ...BASE,
      secret: { name: 'failing', load: () => Promise.reject(new Error('AccessDeniedException')) },
      logger: recordingLogger().logger,
    } as CdnOriginGuardOptions);
    guards.push(pending);
    server.on('upgrade', ws.listener);
    guardUpgrades(server, pending);

    expect(await rawUpgrade(port, '/chat', OUR_CLOUDFRONT)).toBe(UPGRADE_DENY);
    expect(ws.seen).toEqual([]);
  });
});

describe('guardUpgrades arguments', () => {
  it('accepts a verifier with a logger, and refuses anything else naming the fix', async () => {
    const { guard, server, ws, port } = await appWithUpgrades(express);
    server.on('upgrade', ws.listener);
    const { lines, logger } = recordingLogger();
    guardUpgrades(server, guard.verifier, { logger });

    expect(await rawUpgrade(port, '/chat', BOT)).toBe(UPGRADE_DENY);
    expect(lines).toHaveLength(1);
    expect(() => guardUpgrades(server, {} as never)).toThrow(/pass the middleware/);
  });

  it('refuses the Express app in place of its server (it has an emit, but Node never emits upgrades on it)', async () => {
    // Accepted before, it guarded nothing and said nothing (outside review, 4 December, fifth
    // session).
    const { guard } = await appWithUpgrades(express);
    for (const framework of [express, express4]) {
      const app = framework();
      app.use(guard);
      expect(() => guardUpgrades(app as never, guard)).toThrow(
        /`guardUpgrades\(server\)` is not a server .*app\.listen\(\) returns/,
      );
    }
  });

  it('checks its options: unknown keys, null and a bad logger are errors naming the fix', async () => {
    const { guard, server } = await appWithUpgrades(express);
    expect(() => guardUpgrades(server, guard, { loger: console } as never)).toThrow(
      /`loger` is not an option of guardUpgrades; it takes `logger`, `requestPaths` and `continuePathRules`\. Did you mean `logger`\?/,
    );
    expect(() => guardUpgrades(server, guard, null as never)).toThrow(
      /`guardUpgrades\(options\)` is null; pass \{ logger, requestPaths, continuePathRules \} or leave it out/,
    );
    expect(() => guardUpgrades(server, guard, [] as never)).toThrow(/is an array/);
    // Given to the middleware, as Fastify and Nest take it: says where it belongs.
    for (const key of ['continuePathRules', 'requestPaths'])
      expect(() => cdnOriginGuard({ ...BASE, [key]: true } as never)).toThrow(
        `\`${key}\` is not a known option. It is an option of the check on the server, not of the verifier: pass it to guardUpgrades(server, guard, { ${key} })`,
      );
    expect(() => guardUpgrades(server, guard, { logger: {} } as never)).toThrow(
      /`logger` has no error\(\) method/,
    );
  });
});

// Until 4 December (sixth session) an app that forgot guardUpgrades(server, guard) left its
// WebSocket handshakes (and Socket.IO's long-polling) open to any bot, silently. The middleware
// now guards the server its first request came from, and says so at `error` when listeners that
// answer before Express were already there.
describe.each([
  ['Express 5', express],
  ['Express 4', express4],
])('the middleware on a server nobody called guardUpgrades on (%s)', (_name, framework) => {
  it('guards its upgrades from the first request on, and logs the window with the fix', async () => {
    const { server, ws, lines, port } = await appWithUpgrades(framework);
    server.on('upgrade', ws.listener);

    // Before any ordinary request the middleware has not met the server: the documented window.
    expect(await rawUpgrade(port, '/before', BOT)).toBe(SWITCHED);
    await rawRequest(port, '/healthz', BOT);
    const after = await rawUpgrade(port, '/after', BOT);
    const ours = await rawUpgrade(port, '/ours', OUR_CLOUDFRONT);

    expect(after).toBe(UPGRADE_DENY);
    expect(ours).toBe(SWITCHED);
    expect(ws.seen.map((seen) => seen.url)).toEqual(['/before', '/ours']);
    const warned = lines.filter((l) => l.includes('guardUpgrades(server, guard) was not called'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(
      /^error .*'upgrade' listeners \(WebSocket handshakes\).*call guardUpgrades\(server, guard\) right after app\.listen\(\)/,
    );
  });

  // Outside review, 8th session: Node hands a request with `Expect:` to these listeners instead
  // of Express, so they answer before the middleware too.
  it("names 'checkContinue' listeners in that line, and checks their requests from then on", async () => {
    const { server, lines, port } = await appWithUpgrades(framework);
    const seen: string[] = [];
    server.on('checkContinue', (req, res) => {
      seen.push(String(req.headers['x-forwarded-for']));
      res.writeHead(413).end('too large');
    });

    await rawRequest(port, '/healthz', BOT);
    const bot = await rawRequest(port, '/upload', { ...BOT, expect: '100-continue' });

    expect(bot).toMatch(/^HTTP\/1\.1 403 /);
    expect(seen).toEqual([]);
    const warned = lines.filter((l) => l.includes('guardUpgrades(server, guard) was not called'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain("'checkContinue' listeners (requests with an Expect header)");
  });

  // Review, eleventh session: the path rules applied to such requests by default, so a listener
  // answering by itself ran for a bot on an excluded path; `continuePathRules` says the
  // listener hands each request on to Express, which routes it.
  it("applies excludePaths to 'checkContinue' requests only with continuePathRules", async () => {
    for (const continuePathRules of [undefined, true]) {
      const { guard, server, port } = await appWithUpgrades(framework, {
        excludePaths: ['/webhooks/stripe'],
      });
      const app = server.listeners('request')[0] as express.Express;
      app.post('/webhooks/stripe', (_req, res) => {
        res.send('webhook');
      });
      const seen: string[] = [];
      server.on('checkContinue', (req, res) => {
        seen.push(req.url ?? '');
        res.writeContinue();
        app(req, res);
      });
      guardUpgrades(server, guard, continuePathRules ? { continuePathRules } : {});

      const outcomes = await expectContinueOutcomes(port, ['/webhooks/stripe', '/admin']);

      expect(outcomes, String(continuePathRules)).toEqual([
        continuePathRules ? '100 200 webhook' : '403 Forbidden',
        '403 Forbidden',
      ]);
      expect(seen).toEqual(continuePathRules ? ['/webhooks/stripe'] : []);
    }
    expect(() =>
      guardUpgrades(servers[0] as Server, guards[0] as CdnOriginGuardMiddleware, {
        continuePathRules: 'yes' as never,
      }),
    ).toThrow(/`continuePathRules` is string; expected true/);
    // Never from a polluted prototype (review, eleventh session).
    const { guard, server, port } = await appWithUpgrades(framework, {
      excludePaths: ['/webhooks/stripe'],
    });
    const seen: string[] = [];
    server.on('checkContinue', (req, res) => {
      seen.push(req.url ?? '');
      res.writeContinue();
      res.end('app');
    });
    withPollutedPrototype('continuePathRules', true, () => guardUpgrades(server, guard, {}));
    expect(await expectContinueOutcomes(port, ['/webhooks/stripe'])).toEqual(['403 Forbidden']);
    expect(seen).toEqual([]);
  });

  it('guards a server without such listeners quietly, so one added later is checked too', async () => {
    const { server, ws, lines, port } = await appWithUpgrades(framework);

    await rawRequest(port, '/admin', OUR_CLOUDFRONT);
    server.on('upgrade', ws.listener);

    expect(await rawUpgrade(port, '/late', BOT)).toBe(UPGRADE_DENY);
    expect(ws.seen).toEqual([]);
    expect(lines.filter((l) => l.includes('was not called'))).toEqual([]);
  });

  it("with two guards (two distributions' secrets), guards the server once: the first met", async () => {
    const { lines, logger } = recordingLogger();
    const first = cdnOriginGuard({ ...BASE, logger });
    const second = cdnOriginGuard({
      ...BASE,
      secret: ['Another-Distribution-Value-0123456789'],
      logger,
    });
    guards.push(first, second);
    const app = framework();
    app.use('/a', first);
    app.use('/b', second);
    app.get('/a/x', (_req, res) => {
      res.send('a');
    });
    await Promise.all([first.ready(), second.ready()]);
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const ws = answer101();
    server.on('upgrade', ws.listener);

    await rawRequest(port, '/a/x', OUR_CLOUDFRONT);
    await rawRequest(port, '/b/x', BOT);

    // The first guard's CloudFront passes; the second guard added no check it would fail.
    expect(await rawUpgrade(port, '/ws', OUR_CLOUDFRONT)).toBe(SWITCHED);
    expect(await rawUpgrade(port, '/ws', BOT)).toBe(UPGRADE_DENY);
    expect(lines.filter((l) => l.includes('was not called'))).toHaveLength(1);
  });

  it('leaves a server the app guarded itself as it is: no second check, no line', async () => {
    const { guard, server, ws, lines, port } = await appWithUpgrades(framework);
    server.on('upgrade', ws.listener);
    guardUpgrades(server, guard, { requestPaths: [] });

    await rawRequest(port, '/admin', BOT);
    const open = await rawUpgrade(port, '/ws', OUR_CLOUDFRONT);
    const polling = await rawRequest(port, '/socket.io/?EIO=4&transport=polling', OUR_CLOUDFRONT);

    expect(open).toBe(SWITCHED);
    // requestPaths: [] kept: the polling request went to Express (its 404), not the server check.
    expect(polling).toMatch(/^HTTP\/1\.1 404 Not Found/);
    // One check each: the bot's request, the handshake (once, not twice), the polling request.
    expect(guard.verifier.stats()).toMatchObject({ denied: 1, allowed: 2 });
    expect(lines.filter((l) => l.includes('was not called'))).toEqual([]);
  });
});

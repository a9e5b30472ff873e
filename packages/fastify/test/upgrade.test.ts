/**
 * The plugin checks the HTTP upgrade requests (WebSocket handshakes) of `fastify.server`: Node
 * emits them as `'upgrade'`, which no Fastify hook sees.
 */
import type { AddressInfo } from 'node:net';
import {
  createOriginVerifier,
  isOriginVerifier,
  type OriginGuardOptions,
  type SecretSource,
} from '@cdn-origin-guard/core';
import { cdnOriginGuard } from '@cdn-origin-guard/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
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

interface LogLine {
  level: number;
  msg: string;
  cdnOriginGuard?: Record<string, unknown>;
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps) app.server.closeAllConnections();
  await Promise.allSettled(apps.splice(0).map((a) => a.close()));
});

/** A Fastify app capturing its log lines as JSON, with `/admin`; `register` adds the guard. */
function makeApp() {
  const logs: LogLine[] = [];
  const app = Fastify({
    logger: {
      level: 'info',
      stream: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
    },
  });
  apps.push(app);
  app.get('/admin', async () => 'admin');
  return { app, logs };
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

describe('the Fastify plugin and upgrade requests', () => {
  it("denies a bot's upgrade with the uniform deny bytes and logs it; the listener is never called", async () => {
    const { app, logs } = makeApp();
    const ws = answer101();
    app.server.on('upgrade', ws.listener);
    await app.register(cdnOriginGuard, BASE as OriginGuardOptions);
    const port = await listen(app);

    expect((await rawRequest(port, '/admin', BOT)).startsWith('HTTP/1.1 403 Forbidden')).toBe(true);
    expect(await rawUpgrade(port, '/admin?x=1', BOT)).toBe(UPGRADE_DENY);
    expect(ws.seen).toEqual([]);
    const upgradeLine = logs.filter((l) => l.cdnOriginGuard !== undefined).at(-1);
    expect(upgradeLine).toMatchObject({
      msg: 'cdn-origin-guard denied request',
      cdnOriginGuard: { reason: 'edge-not-cloudfront', method: 'GET', path: '/admin' },
    });
  });

  it('lets an upgrade through our CloudFront reach a listener added after registration, the decision recorded', async () => {
    const { app } = makeApp();
    await app.register(cdnOriginGuard, BASE as OriginGuardOptions);
    const ws = answer101();
    app.server.on('upgrade', ws.listener);
    const port = await listen(app);

    expect(await rawUpgrade(port, '/chat', OUR_CLOUDFRONT)).toBe(SWITCHED);
    expect(ws.seen[0]?.decision).toMatchObject({ allowed: true, reason: 'verified' });
    // Ordinary requests are the hook's, as before.
    expect((await rawRequest(port, '/admin', OUR_CLOUDFRONT)).endsWith('admin')).toBe(true);
  });

  it('in report mode passes the upgrade, recorded and logged as a would-be deny', async () => {
    const { app, logs } = makeApp();
    await app.register(cdnOriginGuard, { ...BASE, mode: 'report' } as OriginGuardOptions);
    const ws = answer101();
    app.server.on('upgrade', ws.listener);
    const port = await listen(app);

    expect(await rawUpgrade(port, '/chat', BOT)).toBe(SWITCHED);
    expect(ws.seen[0]?.decision).toMatchObject({ allowed: true, reason: 'reported' });
    expect(logs.at(-1)?.msg).toBe('cdn-origin-guard would deny request (report mode)');
  });

  it('denies while the sources are not loaded (failOnStartupError: false)', async () => {
    const { app } = makeApp();
    const failing: SecretSource = {
      name: 'failing',
      load: () => Promise.reject(new Error('AccessDeniedException')),
    };
    await app.register(cdnOriginGuard, {
      ...BASE,
      secret: failing,
      failOnStartupError: false,
    } as OriginGuardOptions);
    const ws = answer101();
    app.server.on('upgrade', ws.listener);
    const port = await listen(app);

    expect(await rawUpgrade(port, '/chat', OUR_CLOUDFRONT)).toBe(UPGRADE_DENY);
    expect(ws.seen).toEqual([]);
  });

  it('registered in two scopes with one verifier, checks an upgrade once', async () => {
    const { app, logs } = makeApp();
    const decisions: string[] = [];
    const counted = createOriginVerifier({
      ...BASE,
      onDecision: (d) => decisions.push(d.reason),
    } as OriginGuardOptions);
    await app.register(async (scope) => {
      await scope.register(cdnOriginGuard, { verifier: counted });
    });
    await app.register(async (scope) => {
      await scope.register(cdnOriginGuard, { verifier: counted });
    });
    const ws = answer101();
    app.server.on('upgrade', ws.listener);
    const port = await listen(app);

    expect(await rawUpgrade(port, '/chat', BOT)).toBe(UPGRADE_DENY);
    expect(decisions).toEqual(['edge-not-cloudfront']);
    expect(logs.filter((l) => l.cdnOriginGuard !== undefined)).toHaveLength(1);
    await counted.close();
  });

  // Review, eleventh session: the path rules applied to requests Node hands to 'checkContinue'
  // by default, so a listener answering by itself ran for a bot on an excluded path.
  it("applies excludePaths to 'checkContinue' requests only with continuePathRules", async () => {
    for (const continuePathRules of [undefined, true]) {
      const { app } = makeApp();
      app.post('/webhooks/stripe', async () => 'webhook');
      const seen: string[] = [];
      app.server.on('checkContinue', (req, res) => {
        seen.push(req.url ?? '');
        res.writeContinue();
        app.routing(req, res);
      });
      await app.register(cdnOriginGuard, {
        ...BASE,
        excludePaths: ['/webhooks/stripe'],
        ...(continuePathRules ? { continuePathRules } : {}),
      } as OriginGuardOptions);
      const port = await listen(app);

      const outcomes = await expectContinueOutcomes(port, ['/webhooks/stripe', '/admin']);

      expect(outcomes, String(continuePathRules)).toEqual([
        continuePathRules ? '100 200 webhook' : '403 Forbidden',
        '403 Forbidden',
      ]);
      expect(seen).toEqual(continuePathRules ? ['/webhooks/stripe'] : []);
    }
    const { app } = makeApp();
    await expect(
      app.register(cdnOriginGuard, { ...BASE, continuePathRules: 1 } as never).ready(),
    ).rejects.toThrow(/`continuePathRules` is number; expected true/);
    const typo = makeApp().app;
    await expect(
      typo.register(cdnOriginGuard, { ...BASE, continuePathRule: true } as never).ready(),
    ).rejects.toThrow(
      /`continuePathRule` is not a known option\. Did you mean `continuePathRules`\?/,
    );
    // Never from a polluted prototype (review, eleventh session).
    const polluted = makeApp().app;
    polluted.post('/webhooks/stripe', async () => 'webhook');
    polluted.server.on('checkContinue', (req, res) => {
      res.writeContinue();
      polluted.routing(req, res);
    });
    await withPollutedPrototype('continuePathRules', true, () =>
      polluted.register(cdnOriginGuard, { ...BASE, excludePaths: ['/webhooks/stripe'] }).ready(),
    );
    const port = await listen(polluted);
    expect(await expectContinueOutcomes(port, ['/webhooks/stripe'])).toEqual(['403 Forbidden']);
    // Nor `verifier`: a polluted one is not taken for `{ verifier }` (the options build one).
    const own = makeApp().app;
    await withPollutedPrototype('verifier', { not: 'a verifier' }, () =>
      own.register(cdnOriginGuard, { ...BASE }).ready(),
    );
    expect(isOriginVerifier(own.cdnOriginGuard)).toBe(true);
  });

  it('stops checking when the app closes', async () => {
    const { app } = makeApp();
    const emit = app.server.emit;
    await app.register(cdnOriginGuard, BASE as OriginGuardOptions);
    expect(app.server.emit).not.toBe(emit);
    await app.close();
    expect(app.server.emit).toBe(emit);
  });
});

import { once } from 'node:events';
import { createServer, IncomingMessage, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  DENY_REASONS,
  type Decision,
  type Reason,
  recordDecision,
  type SecretSnapshot,
  type SecretSource,
} from '@cdn-origin-guard/core';
import {
  type CdnOriginGuardMiddleware,
  type CdnOriginGuardOptions,
  cdnOriginGuard,
} from '@cdn-origin-guard/express';
import express from 'express';
import express4 from 'express4';
import request, { type Response } from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BASE,
  CF_ID,
  denyOfAnnouncedBody,
  EDGE,
  expireAndRecover,
  failAndRecover,
  OUR_CLOUDFRONT,
  RANGES_EXPIRED_LINE,
  RANGES_STALE_AFTER_1S,
  rawHttp,
  SECRET,
  skippingSecret,
  switchableRanges,
  switchableSecret,
  UNIFORM_DENY_CASES,
  UNIFORM_DENY_REASONS,
  VIEWER,
  WRONG_SECRET,
} from '../../../test/support/adapter-fixtures.js';
import { watchProcess } from '../../../test/support/process-watch.js';
import { decisionRecording as recording } from '../../core/src/request/record.js';

type ExpressFactory = typeof express;
type App = ReturnType<ExpressFactory>;

const frameworks: [string, ExpressFactory][] = [
  ['Express 5', express],
  ['Express 4', express4],
];

/** A logger that drops every line (tests that read lines pass their own). */
const QUIET = { error() {}, warn() {}, info() {} };

/** Every guard made in a test, closed after it. */
const guards: CdnOriginGuardMiddleware[] = [];
/** Plain Node servers made in a test (supertest listens on them), closed after it. */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.close()));
  for (const s of servers.splice(0)) if (s.listening) s.close();
});

function makeGuard(options: Partial<CdnOriginGuardOptions> = {}) {
  const decisions: Reason[] = [];
  const guard = cdnOriginGuard({
    ...BASE,
    onDecision: (d: Decision) => decisions.push(d.reason),
    logger: QUIET,
    ...options,
  } as CdnOriginGuardOptions);
  guards.push(guard);
  return { guard, decisions };
}

/** A real app: the guard in front of `/`, `/healthz` and a catch-all, each echoing the decision. */
function makeApp(
  framework: ExpressFactory,
  options: Partial<CdnOriginGuardOptions> = {},
  before?: (app: App) => void,
) {
  const app = framework();
  before?.(app);
  const { guard, decisions } = makeGuard(options);
  app.use(guard);
  app.get('/', (req, res) => {
    res.json(req.cdnOriginGuard);
  });
  app.get('/healthz', (req, res) => {
    res.json({ ok: true, reason: req.cdnOriginGuard?.reason });
  });
  return { app, guard, decisions };
}

function send(
  app: App,
  path: string,
  headers: Readonly<Record<string, string>> = {},
  method: 'get' | 'head' = 'get',
): Promise<Response> {
  return request(app)[method](path).set(headers);
}

/** What makes two deny responses identical, minus the per-response `Date`. */
function shape(res: Response) {
  const { date: _date, ...headers } = res.headers as Record<string, string>;
  return { status: res.status, headers, body: res.text };
}

/** The secret and every reason code, nowhere in the response (headers or body). */
function expectNothingRevealed(res: Response) {
  const raw = `${JSON.stringify(res.headers)}\n${res.text ?? ''}`;
  expect(raw).not.toContain(SECRET);
  for (const reason of DENY_REASONS) expect(raw).not.toContain(reason);
}

describe.each(frameworks)('%s adapter', (_name, framework) => {
  describe('the attack table', () => {
    it('denies a bot that hits the ALB directly (/.env, X-Forwarded-For = bot only)', async () => {
      const { app, decisions } = makeApp(framework);

      const env = await send(app, '/.env', { 'x-forwarded-for': '203.0.113.9' });
      const wp = await send(app, '/wp-admin', { 'x-forwarded-for': '203.0.113.9' });

      expect(env.status).toBe(403);
      expect(wp.status).toBe(403);
      expect(decisions).toEqual(['edge-not-cloudfront', 'edge-not-cloudfront']);
    });

    it("denies someone else's CloudFront distribution without our secret", async () => {
      const { app, decisions } = makeApp(framework);
      const { 'x-origin-verify': _secret, ...withoutSecret } = OUR_CLOUDFRONT;

      const res = await send(app, '/', withoutSecret);

      expect(res.status).toBe(403);
      expect(decisions).toEqual(['missing-secret']);
    });

    it("denies someone else's CloudFront distribution sending a wrong secret", async () => {
      const { app, decisions } = makeApp(framework);

      const res = await send(app, '/', {
        ...OUR_CLOUDFRONT,
        'x-origin-verify': 'their-own-secret-value-0123456789abcdef',
      });

      expect(res.status).toBe(403);
      expect(decisions).toEqual(['invalid-secret']);
    });

    it('denies a forged X-Forwarded-For whose right-most hop is not CloudFront', async () => {
      const { app, decisions } = makeApp(framework);

      const res = await send(app, '/', {
        ...OUR_CLOUDFRONT,
        'x-forwarded-for': `${EDGE}, 203.0.113.9`,
      });

      expect(res.status).toBe(403);
      expect(decisions).toEqual(['edge-not-cloudfront']);
    });

    it('denies a client that reaches the app around the ALB (socket peer not trusted)', async () => {
      const { app, decisions } = makeApp(framework, { trustedProxies: ['10.0.0.0/8'] });

      const res = await send(app, '/', OUR_CLOUDFRONT);

      expect(res.status).toBe(403);
      expect(decisions).toEqual(['untrusted-peer']);
    });

    it('allows our CloudFront and gives the route edge, viewer and cf-id on req.cdnOriginGuard', async () => {
      const { app } = makeApp(framework);

      const res = await send(app, '/', OUR_CLOUDFRONT);

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        allowed: true,
        reason: 'verified',
        edgeAddress: EDGE,
        viewerAddress: VIEWER,
        cfId: CF_ID,
        peerAddress: '127.0.0.1',
      });
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
    });

    it('allows our CloudFront over an IPv6 origin-facing edge', async () => {
      const { app } = makeApp(framework);

      const res = await send(app, '/', {
        ...OUR_CLOUDFRONT,
        'x-forwarded-for': `2001:db8::7, 2600:9000:eee::12`,
      });

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        edgeAddress: '2600:9000:eee::12',
        viewerAddress: '2001:db8::7',
      });
    });
  });

  describe('the deny response', () => {
    it('is byte-identical whatever the reason, and reveals neither the secret nor the reason', async () => {
      const { app, decisions } = makeApp(framework);
      const { app: aroundAlb } = makeApp(framework, { trustedProxies: ['10.0.0.0/8'] });
      const responses = [];
      for (const c of UNIFORM_DENY_CASES)
        responses.push(await send(c.aroundAlb ? aroundAlb : app, c.path, c.headers));

      expect(new Set(decisions).size).toBe(UNIFORM_DENY_REASONS);
      const first = shape(responses[0]!);
      expect(first.status).toBe(403);
      expect(first.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(first.body).toBe('Forbidden');
      for (const res of responses) {
        expect(shape(res)).toEqual(first);
        expectNothingRevealed(res);
      }
    });

    it('honours a custom denyResponse (404 with a JSON body)', async () => {
      const { app } = makeApp(framework, {
        denyResponse: { status: 404, body: { error: 'not found' } },
      });

      const res = await send(app, '/', { 'x-forwarded-for': '203.0.113.9' });

      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.text).toBe('{"error":"not found"}');
      expectNothingRevealed(res);
    });

    it('sends no body to a denied HEAD request, and lets an allowed HEAD through', async () => {
      // Raw bytes over a real socket: supertest would hide a HEAD body.
      const { app } = makeApp(framework);
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const head = (path: string, headers: Record<string, string> = {}) =>
        rawHttp(
          port,
          `HEAD ${path} HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n${Object.entries(headers)
            .map(([k, v]) => `${k}: ${v}\r\n`)
            .join('')}\r\n`,
        );

      try {
        const denied = await head('/.env');
        const allowed = await head('/', OUR_CLOUDFRONT);

        expect(denied).toMatch(/^HTTP\/1\.1 403 /);
        expect(denied).toMatch(/content-length: 9\r\n/i);
        expect(denied.endsWith('\r\n\r\n')).toBe(true);
        expect(allowed).toMatch(/^HTTP\/1\.1 200 /);
      } finally {
        server.close();
      }
    });

    // Outside review, 4 December (third session): a deny on a keep-alive connection let Node
    // read and discard whatever body the bot announced (no parser, so no body limit applied).
    it('closes the connection after a deny, so an announced body is not read to its end', async () => {
      const { app } = makeApp(framework);
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      try {
        const reply = await denyOfAnnouncedBody(port);
        expect(reply).toMatch(/^HTTP\/1\.1 403 /);
        expect(reply).toMatch(/\r\nconnection: close\r\n/i);
      } finally {
        server.close();
      }
    });
  });

  describe('Express integration', () => {
    it("ignores `trust proxy`: the peer is the socket's address, not req.ip", async () => {
      let ip: string | undefined;
      const { app } = makeApp(framework, {}, (a) => {
        a.set('trust proxy', true);
        a.use((req, _res, next) => {
          ip = req.ip;
          next();
        });
      });

      const allowed = await send(app, '/', OUR_CLOUDFRONT);
      const bot = await send(app, '/', { 'x-forwarded-for': '203.0.113.9' });

      expect(ip).toBe('203.0.113.9');
      expect(allowed.status).toBe(200);
      expect(allowed.body.peerAddress).toBe('127.0.0.1');
      expect(bot.status).toBe(403);
    });

    it('runs middleware mounted before the guard, and not the route after it, on a deny', async () => {
      const seen: string[] = [];
      const { app } = makeApp(framework, {}, (a) => {
        a.use((_req, _res, next) => {
          seen.push('before');
          next();
        });
      });
      app.get('/after', (_req, res) => {
        seen.push('route');
        res.send('ran');
      });

      const res = await send(app, '/after', { 'x-forwarded-for': '203.0.113.9' });

      expect(res.status).toBe(403);
      expect(seen).toEqual(['before']);
    });

    it('guards only the sub-path or router it is mounted on', async () => {
      const app = framework();
      const { guard } = makeGuard();
      const router = framework.Router();
      router.use(guard);
      router.get('/orders', (_req, res) => {
        res.send('orders');
      });
      app.use('/admin', guard);
      app.get('/admin/panel', (_req, res) => {
        res.send('panel');
      });
      app.use('/api', router);
      app.get('/public', (_req, res) => {
        res.send('public');
      });

      const admin = await send(app, '/admin/panel');
      const api = await send(app, '/api/orders');
      const publicPage = await send(app, '/public');
      const apiThroughCloudFront = await send(app, '/api/orders', OUR_CLOUDFRONT);

      expect(admin.status).toBe(403);
      expect(api.status).toBe(403);
      expect(publicPage.status).toBe(200);
      expect(apiThroughCloudFront.text).toBe('orders');
    });

    it('matches exclusions on the full original path when mounted on a sub-path, and on the routed path when not', async () => {
      const app = framework();
      const mounted = makeGuard({ excludePaths: ['/api/public'] });
      const unmounted = makeGuard({ excludePaths: ['/open'] });
      app.use('/api', mounted.guard);
      app.get('/api/:page', (req, res) => {
        res.send(req.cdnOriginGuard?.reason ?? 'none');
      });
      const other = framework.Router();
      other.use(unmounted.guard);
      other.get('/:page', (req, res) => {
        res.send(req.cdnOriginGuard?.reason ?? 'none');
      });
      app.use(other);

      const excluded = await send(app, '/api/public?x=1');
      const notExcludedByTail = await send(app, '/api/open');
      const guarded = await send(app, '/api/private');
      const open = await send(app, '/open?y=2');

      expect([excluded.status, excluded.text]).toEqual([200, 'excluded']);
      expect(notExcludedByTail.status).toBe(403);
      expect(guarded.status).toBe(403);
      expect([open.status, open.text]).toEqual([200, 'excluded']);
      expect(mounted.decisions).toEqual([
        'excluded',
        'missing-forwarded-for',
        'missing-forwarded-for',
      ]);
    });

    it('denies with the uniform response, not a 500, when a custom SecretSource rejects', async () => {
      const rejecting: SecretSource = {
        name: 'rejecting',
        load: () => Promise.reject(new Error('AccessDeniedException: boom')),
      };
      const { app, guard } = makeApp(framework, { secret: rejecting });

      const res = await send(app, '/', OUR_CLOUDFRONT);

      expect(shape(res)).toMatchObject({ status: 403, body: 'Forbidden' });
      expect(res.text).not.toMatch(/boom|Error|at /);
      expect(guard.verifier.stats().byReason['secret-unavailable']).toBe(1);
    });

    it('denies with the uniform response when a SecretSource throws synchronously in load', async () => {
      const throwing: SecretSource = {
        name: 'throwing',
        load(): Promise<SecretSnapshot> {
          throw new Error('sync boom');
        },
      };
      const { app, decisions } = makeApp(framework, { secret: throwing });

      const res = await send(app, '/', OUR_CLOUDFRONT);

      expect(shape(res)).toMatchObject({ status: 403, body: 'Forbidden' });
      expect(decisions).toEqual(['secret-unavailable']);
    });

    it('lets the first requests wait for a source that is still loading, then pass', async () => {
      const slow: SecretSource = {
        name: 'slow',
        load: () =>
          new Promise((resolve) =>
            setTimeout(
              () => resolve({ values: [{ stage: 'AWSCURRENT', value: SECRET }], version: 'v1' }),
              200,
            ),
          ),
      };
      const { app, guard } = makeApp(framework, { secret: slow });
      expect(guard.verifier.isReady).toBe(false);

      const responses = await Promise.all([1, 2, 3].map(() => send(app, '/', OUR_CLOUDFRONT)));

      for (const res of responses) {
        expect(res.status).toBe(200);
        expect(res.body.secretStage).toBe('AWSCURRENT');
      }
    });
  });

  describe.each([
    ['kept on rawHeaders, read through the accessor (V8 < 13: Node 20, 22)', false],
    ['an own property (V8 13+: Node 24)', true],
  ])('the decision on the request (req.cdnOriginGuard): %s', (_way, ownProperty) => {
    // Both ways on every Node version (the default follows the running V8).
    const initially = recording.ownProperty;
    beforeAll(() => {
      recording.ownProperty = ownProperty;
    });
    afterAll(() => {
      recording.ownProperty = initially;
    });

    it('is the decision of this request, an own property only where the V8 makes that free', async () => {
      const app = framework();
      const { guard } = makeGuard({ excludePaths: ['/open'] });
      app.use(guard);
      app.get('/:page', (req, res) => {
        res.json({ own: Object.hasOwn(req, 'cdnOriginGuard'), reason: req.cdnOriginGuard?.reason });
      });

      const verified = await send(app, '/page', OUR_CLOUDFRONT);
      const excluded = await send(app, '/open');
      const again = await send(app, '/page', OUR_CLOUDFRONT);

      expect(verified.body).toEqual({ own: ownProperty, reason: 'verified' });
      expect(excluded.body).toEqual({ own: ownProperty, reason: 'excluded' });
      expect(again.body).toEqual({ own: ownProperty, reason: 'verified' });
    });

    it('is undefined on a request no guard looked at, in an app with and without a guard', async () => {
      const guarded = framework();
      guarded.get('/before', (req, res) => {
        res.json({ has: req.cdnOriginGuard !== undefined });
      });
      guarded.use(makeGuard().guard);
      guarded.get('/after', (req, res) => {
        res.json({ has: req.cdnOriginGuard !== undefined });
      });
      const plain = framework();
      plain.get('/', (req, res) => {
        res.json({ has: req.cdnOriginGuard !== undefined });
      });

      const before = await send(guarded, '/before');
      const after = await send(guarded, '/after', OUR_CLOUDFRONT);
      const unguarded = await send(plain, '/');

      expect(before.body).toEqual({ has: false });
      expect(after.body).toEqual({ has: true });
      expect(unguarded.body).toEqual({ has: false });
    });

    it('is assignable: an assignment after the guard wins, and a guard after an assignment records its own decision', async () => {
      const app = framework();
      app.use('/preset', (req, _res, next) => {
        (req as { cdnOriginGuard?: unknown }).cdnOriginGuard = 'set before the guard';
        next();
      });
      app.use(makeGuard().guard);
      app.use('/override', (req, _res, next) => {
        (req as { cdnOriginGuard?: unknown }).cdnOriginGuard = { reason: 'set after the guard' };
        next();
      });
      app.get('/:page', (req, res) => {
        res.json({ own: Object.hasOwn(req, 'cdnOriginGuard'), reason: req.cdnOriginGuard?.reason });
      });

      const preset = await send(app, '/preset', OUR_CLOUDFRONT);
      const override = await send(app, '/override', OUR_CLOUDFRONT);
      const neither = await send(app, '/neither', OUR_CLOUDFRONT);

      expect(preset.body).toEqual({ own: true, reason: 'verified' });
      expect(override.body).toEqual({ own: true, reason: 'set after the guard' });
      expect(neither.body).toEqual({ own: ownProperty, reason: 'verified' });
    });

    it('is seen in a mounted sub-app and in the parent after it, whichever app ran the guard', async () => {
      const parent = framework();
      const sub = framework();
      sub.use('/guarded', makeGuard({ excludePaths: ['/sub/guarded/open'] }).guard);
      sub.get('/guarded/:page', (_req, _res, next) => {
        next(); // on to the parent's route below
      });
      parent.use(makeGuard().guard);
      parent.use('/sub', sub);
      parent.get('/sub/:a/:b', (req, res) => {
        res.send(req.cdnOriginGuard?.reason ?? 'none');
      });
      const child = framework();
      child.get('/', (req, res) => {
        res.send(req.cdnOriginGuard?.reason ?? 'none');
      });
      parent.use('/child', child);

      // A guard only in the sub-app, read in the parent once the sub-app passed the request on.
      const outer = framework();
      const inner = framework();
      inner.use(makeGuard().guard);
      inner.get('/x', (_req, _res, next) => {
        next();
      });
      outer.use('/inner', inner);
      outer.get('/inner/x', (req, res) => {
        res.send(req.cdnOriginGuard?.reason ?? 'none');
      });

      const inChild = await send(parent, '/child', OUR_CLOUDFRONT);
      const innerOnly = await send(outer, '/inner/x', OUR_CLOUDFRONT);
      // The parent's guard verified it, the sub-app's guard then excluded it: the last decision.
      const afterSub = await send(parent, '/sub/guarded/open', OUR_CLOUDFRONT);

      expect([inChild.status, inChild.text]).toEqual([200, 'verified']);
      expect([innerOnly.status, innerOnly.text]).toEqual([200, 'verified']);
      expect([afterSub.status, afterSub.text]).toEqual([200, 'excluded']);
    });

    it("is an own property when Express's base request prototype has someone else's cdnOriginGuard or is frozen", () => {
      // Chains shaped like Express's (request → app prototype → base → IncomingMessage).
      const decision = { allowed: true, reason: 'verified' } as Decision;
      const requestOn = (base: object) => {
        const appProto = Object.create(base) as object;
        const req = Object.create(appProto) as IncomingMessage & { cdnOriginGuard?: Decision };
        req.rawHeaders = ['host', 'example'];
        return req;
      };
      const foreign = Object.create(IncomingMessage.prototype) as object;
      Object.defineProperty(foreign, 'cdnOriginGuard', {
        value: 'theirs',
        writable: true,
        configurable: true,
      });
      const frozen = Object.freeze(Object.create(IncomingMessage.prototype) as object);
      const fresh = Object.create(IncomingMessage.prototype) as object;

      const onForeign = requestOn(foreign);
      recordDecision(onForeign, decision);
      const onFrozen = requestOn(frozen);
      recordDecision(onFrozen, decision);
      const onFresh = requestOn(fresh);
      recordDecision(onFresh, decision);

      expect([Object.hasOwn(onForeign, 'cdnOriginGuard'), onForeign.cdnOriginGuard]).toEqual([
        true,
        decision,
      ]);
      expect([Object.hasOwn(onFrozen, 'cdnOriginGuard'), onFrozen.cdnOriginGuard]).toEqual([
        true,
        decision,
      ]);
      expect([Object.hasOwn(onFresh, 'cdnOriginGuard'), onFresh.cdnOriginGuard]).toEqual([
        ownProperty,
        decision,
      ]);
      expect(requestOn(fresh).cdnOriginGuard).toBeUndefined();
    });

    it('is an own property on a plain Node server (no Express prototype)', async () => {
      const { guard } = makeGuard();
      const server = createServer((req, res) => {
        guard(req, res, () => {
          const r = req as typeof req & { cdnOriginGuard?: Decision };
          res.end(
            JSON.stringify({
              own: Object.hasOwn(r, 'cdnOriginGuard'),
              reason: r.cdnOriginGuard?.reason,
            }),
          );
        });
      });
      servers.push(server);

      const res = await request(server).get('/').set(OUR_CLOUDFRONT);

      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ own: true, reason: 'verified' });
    });
  });

  describe('health checks, report mode and stats', () => {
    it('lets an ALB health check through: health path, trusted peer, no X-Forwarded-For', async () => {
      const { app } = makeApp(framework);

      const res = await send(app, '/healthz');

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, reason: 'health-check' });
    });

    it('verifies the health path normally when it carries X-Forwarded-For', async () => {
      const { app } = makeApp(framework);

      const bot = await send(app, '/healthz', { 'x-forwarded-for': '203.0.113.9' });
      const ours = await send(app, '/healthz', OUR_CLOUDFRONT);

      expect(bot.status).toBe(403);
      expect(ours.body).toEqual({ ok: true, reason: 'verified' });
    });

    it("lets a bad request through in report mode with reason 'reported' and its failures", async () => {
      const { app } = makeApp(framework, { mode: 'report' });

      const res = await send(app, '/', { 'x-forwarded-for': '203.0.113.9' });

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        allowed: true,
        reason: 'reported',
        failures: ['edge-not-cloudfront', 'missing-cf-id', 'missing-secret'],
      });
    });

    it('counts decisions in guard.verifier.stats()', async () => {
      const { app, guard } = makeApp(framework);

      await send(app, '/', OUR_CLOUDFRONT);
      await send(app, '/', OUR_CLOUDFRONT);
      await send(app, '/.env', { 'x-forwarded-for': '203.0.113.9' });
      await send(app, '/healthz');

      const stats = guard.verifier.stats();
      expect(stats).toMatchObject({ total: 4, allowed: 3, denied: 1 });
      expect(stats.byReason).toMatchObject({
        verified: 2,
        'health-check': 1,
        'edge-not-cloudfront': 1,
      });
      expect(stats.bySecretStage).toEqual({ 'static:0': 2 });
      expect(JSON.stringify(stats)).not.toContain(SECRET);
    });
  });
});

/** A pino/winston-like logger that keeps every line. */
function recordingLogger() {
  const lines: { level: string; line: string }[] = [];
  const at = (level: string) => (line: string) => {
    lines.push({ level, line });
  };
  return {
    logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') },
    lines,
    text: () => lines.map((l) => `${l.level} ${l.line}`).join('\n'),
  };
}

describe('logging and startup (issue 10)', () => {
  const down: SecretSource = {
    name: 'down',
    load: () => Promise.reject(new Error('AccessDeniedException: not allowed')),
  };

  it('logs one deny line naming the offending hop, the hop count, method and path', async () => {
    const { logger, lines } = recordingLogger();
    const { app } = makeApp(express, { logger, logLevel: 'warn' });

    await send(app, '/orders?page=2', {
      ...OUR_CLOUDFRONT,
      'x-forwarded-for': `${EDGE}, 203.0.113.9`,
    });

    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('warn');
    expect(lines[0]!.line).toMatch(
      /denied request: reason=edge-not-cloudfront .*hop=203\.0\.113\.9 proxyHops=1 method=GET path=\/orders /,
    );
    expect(lines[0]!.line).not.toContain(SECRET);
  });

  it('denies with the uniform response and logs an error line when the verifier throws', async () => {
    const { logger, lines } = recordingLogger();
    const { app, guard } = makeApp(express, { logger, logLevel: 'warn' });
    const baseline = await send(app, '/', { 'x-forwarded-for': '203.0.113.9' });
    // Failure injection: the real verifier, made to throw (a bug in the core would look so).
    guard.verifier.check = () => {
      throw new Error('verifier exploded');
    };

    const res = await send(app, '/orders?page=2', OUR_CLOUDFRONT);

    expect(res.status).toBe(baseline.status);
    expect(res.text).toBe(baseline.text);
    const failure = lines.filter((l) => l.line.includes('the guard failed'));
    expect(failure).toEqual([
      {
        level: 'error',
        line: 'cdn-origin-guard denied request: the guard failed (verifier exploded) method=GET path=/orders',
      },
    ]);
  });

  it('reports a logger that throws once, as a process warning, and still answers', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const broken = () => {
        throw new Error('log sink down');
      };
      const { app } = makeApp(express, {
        logger: { error: broken, warn: broken, info: broken },
        logLevel: 'warn',
      });
      for (let i = 0; i < 3; i++)
        expect((await send(app, '/', { 'x-forwarded-for': '203.0.113.9' })).status).toBe(403);
      await new Promise((resolve) => setImmediate(resolve));
      const ours = warnings.filter(
        (w) => (w as Error & { code?: string }).code === 'CDN_ORIGIN_GUARD_LOGGER_THREW',
      );
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toContain("the logger's warn() threw (log sink down)");
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('reports an async logger whose promise rejects once, as a process warning, and the server lives on', async () => {
    const watch = watchProcess();
    const { warnings, unhandled } = watch;
    try {
      const broken = async () => {
        throw new Error('log backend down');
      };
      const { app } = makeApp(express, { logger: { error: broken, warn: broken, info: broken } });
      for (let i = 0; i < 3; i++)
        expect((await send(app, '/', { 'x-forwarded-for': '203.0.113.9' })).status).toBe(403);
      expect((await send(app, '/', OUR_CLOUDFRONT)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const ours = warnings.filter(
        (w) => (w as Error & { code?: string }).code === 'CDN_ORIGIN_GUARD_LOGGER_THREW',
      );
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toContain("the logger's info() threw (log backend down)");
      expect(unhandled).toEqual([]);
    } finally {
      watch.stop();
    }
  });

  it('logs report-mode lines at logLevel and nothing with logLevel: silent', async () => {
    const report = recordingLogger();
    const silent = recordingLogger();
    const { app: reporting } = makeApp(express, {
      mode: 'report',
      logLevel: 'info',
      logger: report.logger,
    });
    const { app: quiet } = makeApp(express, {
      logLevel: 'silent',
      logger: silent.logger,
    });

    await send(reporting, '/', { 'x-forwarded-for': '203.0.113.9' });
    await send(quiet, '/', { 'x-forwarded-for': '203.0.113.9' });

    expect(report.lines).toEqual([
      { level: 'info', line: expect.stringMatching(/would deny request \(report mode\)/) },
    ]);
    expect(silent.lines).toEqual([]);
  });

  it('rejects guard.ready() when a source cannot load, and logs a tolerated failure with failOnStartupError: false', async () => {
    const strict = recordingLogger();
    const lenient = recordingLogger();
    const failing = cdnOriginGuard({ ...BASE, secret: down, logger: strict.logger });
    const tolerant = cdnOriginGuard({
      ...BASE,
      secret: down,
      failOnStartupError: false,
      logger: lenient.logger,
    });
    guards.push(failing, tolerant);

    const strictReady = failing.ready();
    const lenientReady = tolerant.ready();

    await expect(strictReady).rejects.toThrow(/could not load down/);
    await expect(lenientReady).resolves.toBeUndefined();

    expect(strict.lines).toEqual([]);
    expect(lenient.lines).toEqual([
      { level: 'warn', line: expect.stringMatching(/not loaded yet; denying until they load/) },
    ]);
  });

  it('logs a loud error when loading fails and guard.ready() was never awaited', async () => {
    const { logger, lines } = recordingLogger();
    const guard = cdnOriginGuard({ ...BASE, secret: down, logger });
    guards.push(guard);

    await guard.verifier.ready().catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toEqual([
      {
        level: 'error',
        line: expect.stringMatching(
          /failed to load and guard\.ready\(\) was never awaited.*not allowed/,
        ),
      },
    ]);
  });

  // Outside review, 4 December (fourth session): close() during the first load logged that
  // error too, on every early shutdown and in every test suite closing its guards.
  it('logs nothing when guard.close() cuts the first load short', async () => {
    const { logger, lines } = recordingLogger();
    const slow: SecretSource = {
      name: 'slow',
      load: (signal) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    };
    const guard = cdnOriginGuard({ ...BASE, secret: slow, logger });

    await guard.close();
    await guard.verifier.ready().catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toEqual([]);
  });

  it('logs a source failure streak once and its recovery once', async () => {
    const { logger, lines } = recordingLogger();
    const { source, state } = switchableSecret();
    const { app, guard } = makeApp(express, {
      secret: source,
      mismatchRefreshMs: 1_000,
      logger,
    });
    await guard.ready();
    const matching = (re: RegExp) => lines.filter((l) => re.test(l.line));

    await failAndRecover(
      state,
      () => send(app, '/', WRONG_SECRET),
      () => matching(/source recovered/).length > 0,
    );

    expect(matching(/secret source failing/)).toEqual([
      { level: 'error', line: expect.stringMatching(/last-known-good.*unreadable/) },
    ]);
    expect(matching(/secret source recovered/)).toEqual([
      { level: 'info', line: expect.stringMatching(/after \d+ failed attempt/) },
    ]);
  });

  it('passes rangesMaxStaleMs to the core: denies once the ranges go unconfirmed that long, logging the expiry and the recovery', async () => {
    // Arrange
    const { logger, lines } = recordingLogger();
    const { source, state } = switchableRanges();
    const { app, guard } = makeApp(express, {
      ranges: source,
      ...RANGES_STALE_AFTER_1S,
      logger,
    });
    await guard.ready();
    const matching = (re: RegExp) => lines.filter((l) => re.test(l.line));

    // Act: the feed stops answering, then answers again.
    const { expired, meanwhile, recovered } = await expireAndRecover(
      state,
      (re) => matching(re).length > 0,
      () => send(app, '/', OUR_CLOUDFRONT),
    );

    // Assert
    expect([expired, meanwhile.status, recovered]).toEqual([true, 403, true]);
    expect(matching(/ranges source expired/)).toEqual([
      { level: 'error', line: RANGES_EXPIRED_LINE },
    ]);
    expect((await send(app, '/', OUR_CLOUDFRONT)).status).toBe(200);
  });

  // Outside review, 8th session: what a load left out (an AWSPENDING that cannot be a secret,
  // whose requests are then denied) reached only stats() and onSourceError, never the log.
  it('logs a warning once for what a load left out', async () => {
    const { logger, lines } = recordingLogger();
    const guard = cdnOriginGuard({
      ...BASE,
      secret: skippingSecret,
      logger,
      secretRefreshMs: 1_000,
    });
    await guard.ready();
    // A second load (same problem), however late the timer runs.
    for (let i = 0; i < 100 && guard.verifier.stats().sources.secret.loads < 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));

    expect(guard.verifier.stats().sources.secret.loads).toBeGreaterThanOrEqual(2);
    expect(lines.filter((l) => /source warning/.test(l.line))).toEqual([
      {
        level: 'warn',
        line: 'cdn-origin-guard secret source warning: @cdn-origin-guard: skipping: AWSPENDING is 152 characters long',
      },
    ]);
    await guard.close();
  });

  it('hints the adapter’s own option for a typo of it, and the core’s for theirs', () => {
    expect(() => cdnOriginGuard({ ...BASE, loger: console } as never)).toThrow(
      /option `loger` is not a known option\. Did you mean `logger`\?/,
    );
    expect(() => cdnOriginGuard({ ...BASE, logger: QUIET, proxyhops: 2 } as never)).toThrow(
      /Did you mean `proxyHops`\?/,
    );
  });

  it('takes the logger from its own options only, never from a polluted Object.prototype', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    const polluted = recordingLogger();
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      let guard: CdnOriginGuardMiddleware;
      try {
        proto.logger = polluted.logger;
        guard = cdnOriginGuard({ ...BASE, secret: down });
      } finally {
        delete proto.logger;
      }
      guards.push(guard);

      await guard.verifier.ready().catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));

      expect(polluted.lines).toEqual([]);
      expect(consoleError).toHaveBeenCalledWith(expect.stringMatching(/never awaited/));
    } finally {
      consoleError.mockRestore();
    }
  });

  it('rejects a logger without error/warn/info, naming the option', () => {
    expect(() => cdnOriginGuard({ ...BASE, logger: { info() {} } as never })).toThrow(
      /logger.*error\(\)/,
    );
  });
});

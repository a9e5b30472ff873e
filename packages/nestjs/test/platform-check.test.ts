/**
 * Where the module's all-paths check runs: on the platform itself (Express `app.use`, Fastify
 * `onRequest`) when no route is `@SkipOriginGuard()`, else as a Nest middleware that excludes
 * the skipped routes. Both must answer every path alike, and the guard must trust the check.
 */
import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { createOriginVerifier, type Decision } from '@cdn-origin-guard/core';
import {
  CdnOriginGuardModule,
  OriginDecision,
  RequireOriginGuard,
  SkipOriginGuard,
} from '@cdn-origin-guard/nestjs';
import {
  Controller,
  Get,
  Global,
  type INestApplication,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
} from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { markAllowed } from '../src/guard.js';
import {
  BASE_OPTIONS,
  PLATFORMS,
  type Reply,
  type Started,
  send,
  start,
  THROUGH_CLOUDFRONT,
} from './fixtures.js';

@Controller()
class GuardedController {
  @Get()
  root() {
    return { ok: true };
  }

  @Get('whoami')
  whoami(@OriginDecision() decision: Decision | undefined) {
    return { reason: decision?.reason ?? null };
  }
}

@Controller('open')
class SkippedRouteController {
  @SkipOriginGuard()
  @Get()
  open() {
    return { open: true };
  }
}

/** A middleware that answers every request itself, as a proxy or a static server would. */
@Injectable()
class AnsweringMiddleware implements NestMiddleware {
  use(_req: unknown, res: { end(body: string): void }, _next: () => void) {
    res.end('ANSWERED-BY-MIDDLEWARE');
  }
}

@Module({ providers: [AnsweringMiddleware] })
class AnsweringModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(AnsweringMiddleware).forRoutes('*');
  }
}

/** A global module whose middleware answers `/legacy` itself, as an old proxy would. */
@Global()
@Module({})
class GlobalLegacyModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer
      .apply(
        (
          req: { url?: string; originalUrl?: string },
          res: { end(body: string): void },
          next: () => void,
        ) => {
          // middie cuts the mount path from `url`; `originalUrl` keeps the whole target.
          if ((req.originalUrl ?? req.url)?.startsWith('/legacy'))
            res.end('LEGACY-MIDDLEWARE-ANSWERED');
          else next();
        },
      )
      .forRoutes('*');
  }
}

/** A route that asks for the guard (for `applyGlobally: false`). */
@Controller('required')
class RequiredController {
  @RequireOriginGuard()
  @Get()
  required(@OriginDecision() decision: Decision | undefined) {
    return { reason: decision?.reason ?? null };
  }
}

/**
 * A middleware that puts an allowed-looking decision on every request before the guard runs:
 * a forged one, or another verifier's allow, marked on the request as the module marks its own.
 */
@Injectable()
class DecisionPlantingMiddleware implements NestMiddleware {
  static plant: ((req: IncomingMessage) => void) | undefined;
  use(req: IncomingMessage & { cdnOriginGuard?: unknown }, _res: unknown, next: () => void) {
    if (DecisionPlantingMiddleware.plant) DecisionPlantingMiddleware.plant(req);
    else req.cdnOriginGuard = { allowed: true, reason: 'verified' };
    next();
  }
}

@Module({ providers: [DecisionPlantingMiddleware] })
class DecisionPlantingModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(DecisionPlantingMiddleware).forRoutes('*');
  }
}

const BOT = { 'x-forwarded-for': '203.0.113.9' };

/** Whether the check was installed on the platform (by its function's name), not as Nest middleware. */
function checkOnPlatform(app: INestApplication): boolean {
  const adapter = app.getHttpAdapter();
  const instance = adapter.getInstance();
  if (adapter.getType() === 'express') {
    const stack: { name?: string }[] = (instance.router ?? instance._router)?.stack ?? [];
    return stack.some((layer) => layer.name === 'cdnOriginGuardAllPaths');
  }
  return String(instance.printRoutes({ includeHooks: true })).includes('cdnOriginGuardOnRequest');
}

/** Status, body and headers but the date: what a bot could compare. */
function shape(reply: Reply): string {
  const headers = Object.fromEntries(reply.headers);
  delete headers.date;
  return JSON.stringify({ status: reply.status, body: reply.body, headers });
}

function expectUniformDeny(replies: Reply[], started: Started) {
  expect(new Set(replies.map(shape)).size).toBe(1);
  expect(replies[0]?.status).toBe(started.verifier.denyResponse.status);
  expect(replies[0]?.body).toBe(started.verifier.denyResponse.body);
}

const UNKNOWN_AND_GUARDED = ['/', '/whoami', '/.env', '/no/such/route', '/wp-admin/setup.php'];

describe.each(PLATFORMS)('the all-paths check on the %s platform', (platform, adapter) => {
  const apps: INestApplication[] = [];
  const boot = async (metadata: Parameters<typeof start>[1]) => {
    const started = await start(adapter, metadata);
    apps.push(started.app);
    return started;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  describe('with no @SkipOriginGuard() route', () => {
    const app = (decisions: Decision[] = []) =>
      boot({
        imports: [
          CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, onDecision: (d) => decisions.push(d) }),
        ],
        controllers: [GuardedController],
      });

    it('runs on the platform itself, not as a Nest middleware', async () => {
      const started = await app();

      expect(checkOnPlatform(started.app)).toBe(true);
    });

    it('answers unknown paths exactly as guarded ones', async () => {
      const started = await app();

      const replies = await Promise.all(UNKNOWN_AND_GUARDED.map((p) => send(started.url, p, BOT)));
      const post = await send(started.url, '/.env', BOT, 'POST');

      expectUniformDeny([...replies, post], started);
      expect(started.logger.text()).toContain('cdn-origin-guard denied request: reason=');
    });

    it('lets our CloudFront through, decided once and given to the handler', async () => {
      const decisions: Decision[] = [];
      const started = await app(decisions);

      const reply = await send(started.url, '/whoami', THROUGH_CLOUDFRONT);
      const unknown = await send(started.url, '/.env', THROUGH_CLOUDFRONT);

      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ reason: 'verified' });
      expect(unknown.status).toBe(404);
      expect(decisions).toHaveLength(2);
    });

    it('is built the same way by forRootAsync', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRootAsync({ useFactory: () => BASE_OPTIONS })],
        controllers: [GuardedController],
      });

      const replies = await Promise.all(UNKNOWN_AND_GUARDED.map((p) => send(started.url, p, BOT)));

      expect(checkOnPlatform(started.app)).toBe(true);
      expectUniformDeny(replies, started);
    });
  });

  describe('with a @SkipOriginGuard() route', () => {
    it('runs as a Nest middleware excluding the skipped route, and still denies unknown paths', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
        controllers: [GuardedController, SkippedRouteController],
      });

      const open = await send(started.url, '/open', BOT);
      const replies = await Promise.all(UNKNOWN_AND_GUARDED.map((p) => send(started.url, p, BOT)));

      expect(checkOnPlatform(started.app)).toBe(false);
      expect(open.status).toBe(200);
      expectUniformDeny(replies, started);
    });
  });

  it('denies before a middleware of another module that answers every request', async () => {
    const started = await boot({
      imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS), AnsweringModule],
      controllers: [GuardedController],
    });

    const replies = await Promise.all(UNKNOWN_AND_GUARDED.map((p) => send(started.url, p, BOT)));
    const ours = await send(started.url, '/', THROUGH_CLOUDFRONT);

    // Fastify runs Nest middleware in @fastify/middie's earlier onRequest hook: the module
    // keeps its own Nest middleware there, ahead of other modules' (global modules first).
    expect(checkOnPlatform(started.app)).toBe(platform === 'express');
    expectUniformDeny(replies, started);
    expect(ours.body).toBe('ANSWERED-BY-MIDDLEWARE');
  });

  it('decides itself when other code put a decision on the request that it did not make', async () => {
    const started = await boot({
      imports: [
        CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: false }),
        DecisionPlantingModule,
      ],
      controllers: [RequiredController],
    });
    // An allowed decision another verifier (another module instance) made and marked.
    const otherVerifier = createOriginVerifier({ ...BASE_OPTIONS, logLevel: 'silent' });
    await otherVerifier.ready();
    const input = { headers: THROUGH_CLOUDFRONT, remoteAddress: '10.0.1.23', path: '/required' };
    const othersDecision = otherVerifier.verify(input);
    expect(othersDecision.allowed).toBe(true);

    DecisionPlantingMiddleware.plant = undefined;
    const forged = await send(started.url, '/required', BOT);
    DecisionPlantingMiddleware.plant = (req) =>
      markAllowed(req, otherVerifier, othersDecision, input);
    const copied = await send(started.url, '/required', BOT);
    DecisionPlantingMiddleware.plant = undefined;
    const ours = await send(started.url, '/required', THROUGH_CLOUDFRONT);
    await otherVerifier.close();

    expect(forged.status).toBe(403);
    expect(copied.status).toBe(403);
    expect(ours.status).toBe(200);
    expect(JSON.parse(ours.body)).toEqual({ reason: 'verified' });
  });

  it('decides again when the request lost its mark between the all-paths check and the guard', async () => {
    const decisions: Decision[] = [];
    const started = await boot({
      imports: [
        CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, onDecision: (d) => decisions.push(d) }),
        DecisionPlantingModule,
      ],
      controllers: [RequiredController],
    });
    // The mark is kept on the request's rawHeaders array: an app that replaces the array drops it.
    DecisionPlantingMiddleware.plant = (req) => {
      req.rawHeaders = [...req.rawHeaders];
    };
    const replaced = await send(started.url, '/required', THROUGH_CLOUDFRONT);
    const replacedDecisions = decisions.splice(0).map((d) => d.reason);
    DecisionPlantingMiddleware.plant = () => {};
    const kept = await send(started.url, '/required', THROUGH_CLOUDFRONT);
    DecisionPlantingMiddleware.plant = undefined;

    expect(replaced.status).toBe(200);
    expect(replacedDecisions).toEqual(['verified', 'verified']);
    expect(kept.status).toBe(200);
    expect(decisions.map((d) => d.reason)).toEqual(['verified']);
  });

  it('warns at startup when a global module with middleware comes before it, and not when it comes first', async () => {
    const late = await boot({
      imports: [GlobalLegacyModule, CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
      controllers: [GuardedController],
    });
    const first = await boot({
      imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS), GlobalLegacyModule],
      controllers: [GuardedController],
    });
    const warning =
      /the middleware of GlobalLegacyModule runs before cdn-origin-guard's check.*Import CdnOriginGuardModule before it/;

    const lateReply = await send(late.url, '/legacy', BOT);
    const firstReply = await send(first.url, '/legacy', BOT);

    // On Express the check runs on the platform, ahead of every Nest middleware: no warning.
    // On Fastify it is a Nest middleware, run after the earlier global module's.
    if (platform === 'express') {
      expect(late.logger.text()).not.toMatch(warning);
      expectUniformDeny([lateReply], late);
    } else {
      expect(late.logger.text()).toMatch(warning);
      expect(lateReply.body).toBe('LEGACY-MIDDLEWARE-ANSWERED');
    }
    expect(first.logger.text()).not.toMatch(warning);
    expectUniformDeny([firstReply], first);
  });

  it('installs nothing on any path with applyGlobally: false', async () => {
    const started = await boot({
      imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: false })],
      controllers: [GuardedController],
    });

    const reply = await send(started.url, '/', BOT);

    expect(checkOnPlatform(started.app)).toBe(false);
    expect(reply.status).toBe(200);
  });
});

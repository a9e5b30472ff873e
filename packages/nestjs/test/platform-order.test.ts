/**
 * The all-paths check comes before everything else on the platform in an app made with
 * `NestFactory.create()` (found by review on 2 December 2026). It used to be installed in the
 * module's `configure()`, which Nest's `init()` runs after registering its body parsers, and
 * after whatever `main.ts` registered (`useStaticAssets()`, `enableCors()`, `app.use()`). A
 * bot then got a body parser's 400 or 413 instead of the uniform deny (and its body parsed), a
 * static file, or a CORS preflight answer. The module now installs the check while the app is
 * created, when the adapter is already known. Real apps over HTTP on 127.0.0.1.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DenyResponse } from '@cdn-origin-guard/core';
import { CdnOriginGuardModule, SkipOriginGuard } from '@cdn-origin-guard/nestjs';
import {
  Body,
  Controller,
  Get,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  Param,
  Post,
  type Type,
  VersioningType,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { denyOfAnnouncedBody, rawRequest } from '../../../test/support/adapter-fixtures.js';
import { BASE_OPTIONS, THROUGH_CLOUDFRONT } from './fixtures.js';

const BOT = { 'x-forwarded-for': '203.0.113.9' };
const GUARDED = 'GUARDED-ROUTE-BODY';

@Controller()
class ItemsController {
  @Post('items') create(@Body() body: unknown) {
    return { got: body };
  }
  @Get('admin') admin() {
    return GUARDED;
  }
  @Get('public') open() {
    return 'PUBLIC';
  }
}

@Module({
  imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, excludePaths: ['/public'] })],
  controllers: [ItemsController],
})
class AppModule {}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

/** A directory holding one file, `internal-report.txt`, for `useStaticAssets()`. */
let staticDir: string;
beforeAll(() => {
  staticDir = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-static-'));
  writeFileSync(join(staticDir, 'internal-report.txt'), 'STATIC-FILE-BODY');
  writeFileSync(join(staticDir, 'vault-export.json'), 'STATIC-VAULT-BODY');
});
afterAll(() => rmSync(staticDir, { recursive: true, force: true }));

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** `NestFactory.create()` as `main.ts` does, `prepare` standing for main.ts's own calls. */
async function listen(
  platform: 'express' | 'fastify' | 'fastify without a request-hook slot',
  prepare: (app: NestExpressApplication) => void = () => {},
  module: Type = AppModule,
): Promise<((path: string, init?: RequestInit) => Promise<Reply>) & { readonly port: number }> {
  const app = await NestFactory.create<NestExpressApplication>(
    module,
    platform === 'express'
      ? new ExpressAdapter()
      : platform === 'fastify'
        ? new FastifyAdapter()
        : Object.assign(new FastifyAdapter(), { setOnRequestHook: undefined }), // as Nest 10's
    { logger: false },
  );
  prepare(app);
  await app.listen(0, '127.0.0.1');
  close = () => app.close();
  const { port } = app.getHttpServer().address() as AddressInfo;
  const send = async (path: string, init?: RequestInit) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    return { status: res.status, body: await res.text(), headers: res.headers };
  };
  return Object.assign(send, { port });
}

const json = (headers: Record<string, string>, body: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body,
});

function expectUniformDeny(reply: Reply, deny: DenyResponse): void {
  expect([reply.status, reply.body]).toEqual([deny.status, deny.body]);
}

const DENY: DenyResponse = { status: 403, headers: {}, body: 'Forbidden' };

describe.each(['express', 'fastify'] as const)(
  'Nest on %s made with NestFactory.create()',
  (platform) => {
    it("denies a bot's request before its body is parsed: one deny for any body", async () => {
      const send = await listen(platform);
      expect((await send('/items', json(THROUGH_CLOUDFRONT, '{"a":1}'))).status).toBe(201);
      expectUniformDeny(await send('/items', json(BOT, '{"a":1}')), DENY);
      expectUniformDeny(await send('/items', json(BOT, '{"a":')), DENY);
      expectUniformDeny(await send('/no/such/route', json(BOT, '{bad json')), DENY);
      expectUniformDeny(
        await send('/items', json(BOT, JSON.stringify({ a: 'x'.repeat(200_000) }))),
        DENY,
      );
    });
  },
);

describe('Nest on Express made with NestFactory.create(): what main.ts registers comes after the check', () => {
  it('serves static assets only to our CloudFront', async () => {
    const send = await listen('express', (app) => app.useStaticAssets(staticDir));
    expectUniformDeny(await send('/internal-report.txt', { headers: BOT }), DENY);
    const ours = await send('/internal-report.txt', { headers: THROUGH_CLOUDFRONT });
    expect([ours.status, ours.body]).toEqual([200, 'STATIC-FILE-BODY']);
  });

  it('answers a CORS preflight only to our CloudFront', async () => {
    const send = await listen('express', (app) => app.enableCors());
    const preflight = {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
    };
    const bot = await send('/items', { method: 'OPTIONS', headers: { ...BOT, ...preflight } });
    expectUniformDeny(bot, DENY);
    expect(bot.headers.get('access-control-allow-origin')).toBeNull();
    const ours = await send('/items', {
      method: 'OPTIONS',
      headers: { ...THROUGH_CLOUDFRONT, ...preflight },
    });
    expect(ours.status).toBe(204);
  });

  it('checks again on the routed path when an app.use() in main.ts rewrote the URL', async () => {
    // The check now runs before this rewrite: it allows `/public` (excluded); the guard on
    // the route the rewrite chose must not take that allow for `/admin`.
    const send = await listen('express', (app) =>
      app.use((req: IncomingMessage, _res: unknown, next: () => void) => {
        const header = req.headers['x-original-url'];
        if (typeof header === 'string') req.url = header;
        next();
      }),
    );
    const attack = await send('/public', { headers: { ...BOT, 'x-original-url': '/admin' } });
    expect(attack.body).not.toContain(GUARDED);
    expectUniformDeny(attack, DENY);
    expect((await send('/public', { headers: BOT })).body).toBe('PUBLIC');
    const ours = await send('/public', {
      headers: { ...THROUGH_CLOUDFRONT, 'x-original-url': '/admin' },
    });
    expect([ours.status, ours.body]).toEqual([200, GUARDED]);
  });
});

/**
 * With a `@SkipOriginGuard()` route the all-paths check is a Nest middleware that excludes the
 * skipped routes (Nest's own matching), and so runs after the body parsers and main.ts's
 * registrations. On Express a front check now runs first, on the platform: it answers a deny at
 * once unless the path might be a skipped route (then the middleware decides, as before).
 */
/** An app of the guarded routes plus `controllers`, with the module's defaults. */
function appWith(...controllers: Type[]): Type {
  @Module({
    imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
    controllers: [ItemsController, ...controllers],
  })
  class SkipAppModule {}
  return SkipAppModule;
}

@Controller()
class OpsController {
  @SkipOriginGuard() @Get('ops/health') health() {
    return 'HEALTHY';
  }
  @Get('ops/health-report') report() {
    return GUARDED;
  }
}

const SkipAppModule = appWith(OpsController);

@Controller()
class StatusController {
  @SkipOriginGuard() @Get('status') status() {
    return 'STATUS';
  }
}

@Controller({ version: '2' })
class VersionedOpsController {
  @SkipOriginGuard() @Get('ops/health') health() {
    return 'HEALTHY';
  }
}

const VersionedSkipAppModule = appWith(VersionedOpsController);

@Controller()
class ParamFirstController {
  @SkipOriginGuard() @Get(':tenant/health') health() {
    return 'HEALTHY';
  }
}

const ParamFirstSkipAppModule = appWith(ParamFirstController);

@Controller()
class ParamOpsController {
  @SkipOriginGuard() @Get('ops/health/:id') health() {
    return 'HEALTHY';
  }
}

@Controller()
class RootController {
  @SkipOriginGuard() @Get() root() {
    return 'ROOT';
  }
}

const RootSkipAppModule = appWith(RootController);

@Controller()
class SlugController {
  @SkipOriginGuard() @Get(':slug') page(@Param('slug') slug: string) {
    return `PUBLIC-PAGE ${slug}`;
  }
}

const SlugSkipAppModule = appWith(SlugController);

/** A `main.ts` middleware answering `/ping` itself, before Nest's router. */
const ping = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
  if ((req.url ?? '').split('?')[0] === '/ping') res.end('PONG');
  else next();
};

@Controller({ version: '1' })
class VersionedRootController {
  @SkipOriginGuard() @Get() root() {
    return 'ROOT';
  }
}

describe('Nest on Express with a @SkipOriginGuard() route: a front check runs before main.ts registrations', () => {
  it("denies a bot's request before its body is parsed: one deny for any body", async () => {
    const send = await listen('express', () => {}, SkipAppModule);
    expect((await send('/items', json(THROUGH_CLOUDFRONT, '{"a":1}'))).status).toBe(201);
    expectUniformDeny(await send('/items', json(BOT, '{"a":')), DENY);
    expectUniformDeny(await send('/no/such/route', json(BOT, '{bad json')), DENY);
    expectUniformDeny(
      await send('/items', json(BOT, JSON.stringify({ a: 'x'.repeat(200_000) }))),
      DENY,
    );
  });

  it('serves static assets and answers CORS preflights only to our CloudFront', async () => {
    const send = await listen(
      'express',
      (app) => {
        app.useStaticAssets(staticDir);
        app.enableCors();
      },
      SkipAppModule,
    );
    expectUniformDeny(await send('/internal-report.txt', { headers: BOT }), DENY);
    const ours = await send('/internal-report.txt', { headers: THROUGH_CLOUDFRONT });
    expect([ours.status, ours.body]).toEqual([200, 'STATIC-FILE-BODY']);
    const preflight = { origin: 'https://app.example', 'access-control-request-method': 'POST' };
    const bot = await send('/items', { method: 'OPTIONS', headers: { ...BOT, ...preflight } });
    expectUniformDeny(bot, DENY);
    expect(bot.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('denies what main.ts registered to a path written with escapes (the router would not route it to the skipped route)', async () => {
    const send = await listen(
      'express',
      (app) => {
        app.useStaticAssets(staticDir);
        app.use('/internal-api', (_req: IncomingMessage, res: ServerResponse) =>
          res.end('INTERNAL-API-BODY'),
        );
      },
      SkipAppModule,
    );
    for (const path of [
      '/internal-report%2Etxt',
      '/%69nternal-report.txt',
      '/internal-api/x%20',
      '/%69nternal-api/x',
      // The skipped route's path inside another path: Express would not route it there.
      '/internal-api/ops/health',
      '/internal-api/OPS/Health/anything',
    ])
      expectUniformDeny(await send(path, { headers: BOT }), DENY);
    const ours = await send('/internal-report%2Etxt', { headers: THROUGH_CLOUDFRONT });
    expect([ours.status, ours.body]).toEqual([200, 'STATIC-FILE-BODY']);
  });

  // Outside review, 4 December (sixth session): the front check matched the path only, so a
  // bot's POST, DELETE or OPTIONS on a skipped GET route's path ran main.ts's middleware, CORS
  // preflight and body parsers unchecked (a parser's 400 / 413 message, the CORS policy).
  it.each(['express', 'fastify'] as const)(
    "leaves a skipped route's path to later only for the methods routed there (%s)",
    async (platform) => {
      const ran: string[] = [];
      const send = await listen(
        platform,
        (app) => {
          app.enableCors({ credentials: true });
          app.use('/ops/health', (req: IncomingMessage, _res: ServerResponse, next: () => void) => {
            ran.push(req.method ?? '');
            next();
          });
        },
        SkipAppModule,
      );
      const preflight = { origin: 'https://app.example', 'access-control-request-method': 'POST' };

      const get = await send('/ops/health', { headers: BOT });
      const head = await send('/ops/health', { method: 'HEAD', headers: BOT });
      const options = await send('/ops/health', {
        method: 'OPTIONS',
        headers: { ...BOT, ...preflight },
      });
      const del = await send('/ops/health', { method: 'DELETE', headers: BOT });
      const post = await send('/ops/health', json(BOT, '{bad json'));

      expect([get.status, get.body]).toEqual([200, 'HEALTHY']);
      expect(head.status).toBe(200);
      expect(ran).toEqual(['GET', 'HEAD']);
      for (const reply of [options, del, post]) expectUniformDeny(reply, DENY);
      expect(options.headers.get('access-control-allow-origin')).toBeNull();
      const ours = await send('/ops/health', { method: 'DELETE', headers: THROUGH_CLOUDFRONT });
      expect(ours.status).toBe(404);
      expect(ran).toEqual(['GET', 'HEAD', 'DELETE']);
    },
  );

  it('with a skipped root route, still denies what main.ts registered on every other path', async () => {
    const send = await listen(
      'express',
      (app) => {
        app.use('/internal-api', (_req: IncomingMessage, res: ServerResponse) =>
          res.end('INTERNAL-API-BODY'),
        );
      },
      RootSkipAppModule,
    );
    expect((await send('/', { headers: BOT })).body).toBe('ROOT');
    for (const path of ['/internal-api/x', '/internal-api', '/items'])
      expectUniformDeny(await send(path, { headers: BOT }), DENY);
    const ours = await send('/internal-api/x', { headers: THROUGH_CLOUDFRONT });
    expect([ours.status, ours.body]).toEqual([200, 'INTERNAL-API-BODY']);
  });

  it('still lets anyone reach the skipped route, however the path is written', async () => {
    const send = await listen('express', (app) => app.setGlobalPrefix('api'), SkipAppModule);
    for (const path of ['/api/ops/health', '/API/OPS/Health', '/api/ops/health/'])
      expect((await send(path, { headers: BOT })).body, path).toBe('HEALTHY');
    // Express routes neither of these to the skipped route: whatever decides, the deny is uniform.
    expectUniformDeny(await send('/api/ops/heal%74h', { headers: BOT }), DENY);
    expectUniformDeny(await send('/api/ops/health;x', { headers: BOT }), DENY);
    // A guarded route whose path contains the skipped one's is still denied (by the middleware).
    const near = await send('/api/ops/health-report', { headers: BOT });
    expect(near.body).not.toContain(GUARDED);
    expectUniformDeny(near, DENY);
    const ours = await send('/api/ops/health-report', { headers: THROUGH_CLOUDFRONT });
    expect([ours.status, ours.body]).toEqual([200, GUARDED]);
  });

  // Outside review, 4 December: the global prefix was optional in the front check's pattern,
  // so main.ts's handler at a skipped route's path without the prefix passed it unchecked.
  it('requires the global prefix unless setGlobalPrefix excludes routes', async () => {
    const prefixed = await listen(
      'express',
      (app) => {
        app.setGlobalPrefix('api');
        app.use('/ops/health', (_req: IncomingMessage, res: ServerResponse) =>
          res.end('MAIN-TS-OPS'),
        );
      },
      SkipAppModule,
    );
    expect((await prefixed('/api/ops/health', { headers: BOT })).body).toBe('HEALTHY');
    expectUniformDeny(await prefixed('/ops/health', { headers: BOT }), DENY);
    await close?.();

    const excluded = await listen(
      'express',
      (app) => app.setGlobalPrefix('api', { exclude: ['ops/health'] }),
      SkipAppModule,
    );
    expect((await excluded('/ops/health', { headers: BOT })).body).toBe('HEALTHY');
    expectUniformDeny(await excluded('/api/ops/health-report', { headers: BOT }), DENY);
  });

  // Outside review, 4 December (left open then): any exclusion made the prefix optional for
  // every skipped route, so main.ts's handler at another skipped route's path without the prefix
  // passed the front check unchecked.
  it('takes the global prefix as optional only for the skipped routes setGlobalPrefix excludes', async () => {
    const send = await listen(
      'express',
      (app) => {
        app.setGlobalPrefix('api', { exclude: ['ops/health'] });
        app.use('/status', (_req: IncomingMessage, res: ServerResponse) =>
          res.end('MAIN-TS-STATUS'),
        );
      },
      appWith(OpsController, StatusController),
    );

    expect((await send('/ops/health', { headers: BOT })).body).toBe('HEALTHY');
    expect((await send('/api/status', { headers: BOT })).body).toBe('STATUS');
    expectUniformDeny(await send('/status', { headers: BOT }), DENY);
  });

  it('lets anyone reach a skipped route under a URI version', async () => {
    const send = await listen(
      'express',
      (app) => app.enableVersioning({ type: VersioningType.URI }),
      VersionedSkipAppModule,
    );
    expect((await send('/v2/ops/health', { headers: BOT })).body).toBe('HEALTHY');
    expectUniformDeny(await send('/items', json(BOT, '{"a":')), DENY);
  });

  // Outside review, 4 December: the front check took any segment for a URI version, so a
  // skipped root route under version 1 made `/vault-export.json` "the root route under version
  // ault-export.json", and with `prefix: false` every top-level path; main.ts's static files and
  // handlers answered a bot before the Nest middleware ran.
  it.each([
    ['the default prefix', { type: VersioningType.URI } as const, '/v1', '/v2'],
    ['prefix: false', { type: VersioningType.URI, prefix: false } as const, '/1', '/2'],
  ])(
    "under URI versioning (%s), denies what main.ts registered outside the skipped routes' own versions",
    async (_, versioning, root, versionedHealth) => {
      const send = await listen(
        'express',
        (app) => {
          app.enableVersioning(versioning);
          app.useStaticAssets(staticDir);
          app.use('/vendor-api', (_req: IncomingMessage, res: ServerResponse) =>
            res.end('VENDOR-API-BODY'),
          );
          app.use('/internal-api', (_req: IncomingMessage, res: ServerResponse) =>
            res.end('INTERNAL-API-BODY'),
          );
        },
        appWith(VersionedRootController, VersionedOpsController),
      );
      expect((await send(root, { headers: BOT })).body).toBe('ROOT');
      expect((await send(`${versionedHealth}/ops/health`, { headers: BOT })).body).toBe('HEALTHY');
      for (const path of [
        '/vault-export.json',
        '/internal-report.txt',
        '/vendor-api/ops/health',
        '/internal-api/ops/health',
        '/vendor-api',
        `${root}x`,
      ])
        expectUniformDeny(await send(path, { headers: BOT }), DENY);
      const ours = await send('/vault-export.json', { headers: THROUGH_CLOUDFRONT });
      expect([ours.status, ours.body]).toEqual([200, 'STATIC-VAULT-BODY']);
    },
  );

  it('with a skipped route that starts with a parameter, denies what main.ts serves elsewhere (a parameter is one segment)', async () => {
    const send = await listen(
      'express',
      (app) => app.useStaticAssets(staticDir),
      ParamFirstSkipAppModule,
    );
    expect((await send('/acme/health', { headers: BOT })).body).toBe('HEALTHY');
    expectUniformDeny(await send('/items', json(BOT, '{"a":1}')), DENY);
    expectUniformDeny(await send('/vault-export.json', { headers: BOT }), DENY);
  });

  // Outside review, 4 December: the front check left every path under `/ops/health/` to the
  // Nest middleware, and serve-static (main.ts, before it) resolved the dot segments.
  it("denies dot segments under a skipped parameter route, which main.ts's static files would resolve outside it", async () => {
    const send = await listen(
      'express',
      (app) => app.useStaticAssets(staticDir),
      appWith(ParamOpsController),
    );
    expect((await send('/ops/health/1', { headers: BOT })).body).toBe('HEALTHY');
    for (const target of [
      '/ops/health/%2e%2e/%2e%2e/internal-report.txt',
      '/ops/health/../../internal-report.txt',
      '/OPS/health/%2E%2E/%2E%2E/internal-report.txt',
      '/ops/health/x/%2e%2e/%2e%2e/%2e%2e/internal-report.txt',
      '/ops/health/%2e%2e%2f%2e%2e%2finternal-report.txt',
    ]) {
      const reply = await rawRequest(send.port, target, BOT);
      expect(reply.split('\r\n', 1)[0], target).toBe('HTTP/1.1 403 Forbidden');
      expect(reply, target).not.toContain('STATIC-FILE-BODY');
    }
    const ours = await send('/internal-report.txt', { headers: THROUGH_CLOUDFRONT });
    expect(ours.body).toBe('STATIC-FILE-BODY');
  });
});

// Outside review, thirteenth session (Medium): with a skipped `@Get(':slug')`, every one-segment
// GET was left to the Nest middleware, which Nest's own matching then excluded, so
// `useStaticAssets()` served any top-level file, and a `main.ts` middleware answered, to a bot.
describe.each(['express', 'fastify'] as const)(
  'Nest on %s with a skipped root parameter route: only that route answers a request that is not verified',
  (platform) => {
    it("denies a bot what main.ts answers on the route's paths, and still serves the skipped route to anyone", async () => {
      const send = await listen(
        platform,
        (app) => {
          if (platform === 'express') app.useStaticAssets(staticDir);
          app.use(ping);
        },
        SlugSkipAppModule,
      );
      if (platform === 'express') {
        expectUniformDeny(await send('/internal-report.txt', { headers: BOT }), DENY);
        expectUniformDeny(await send('/internal-report.txt', { method: 'HEAD', headers: BOT }), {
          ...DENY,
          body: '',
        });
        const ours = await send('/internal-report.txt', { headers: THROUGH_CLOUDFRONT });
        expect([ours.status, ours.body]).toEqual([200, 'STATIC-FILE-BODY']);
      }
      expectUniformDeny(await send('/ping', { headers: BOT }), DENY);
      expect((await send('/ping', { headers: THROUGH_CLOUDFRONT })).body).toBe('PONG');
      // The guarded one-segment route, which Nest's matching takes for the skipped one too.
      expectUniformDeny(await send('/admin', { headers: BOT }), DENY);
      expect((await send('/admin', { headers: THROUGH_CLOUDFRONT })).body).toBe(GUARDED);
      // The skipped route itself: public, for a bot too, and the same bytes for our CloudFront.
      expect(await send('/about', { headers: BOT })).toMatchObject({
        status: 200,
        body: 'PUBLIC-PAGE about',
      });
      expect((await send('/about', { headers: THROUGH_CLOUDFRONT })).body).toBe(
        'PUBLIC-PAGE about',
      );
      // Every deny the same bytes, whatever would have answered.
      const raw = async (path: string) =>
        (await rawRequest(send.port, path, BOT)).replace(/^date: .*\r\n/im, '');
      expect(await raw('/ping')).toBe(await raw('/admin'));
      if (platform === 'express')
        expect(await raw('/internal-report.txt')).toBe(await raw('/admin'));
    });

    // A middleware that wraps the response's writers, as `compression` and `on-headers` do: it
    // adds a `Vary` at `writeHead`. The held deny is written past it (the same bytes as every
    // deny); a skipped handler's answer goes through it as without the guard.
    it('writes a held deny past a middleware that wraps the writers, which still wraps the skipped route', async () => {
      const wrapping = (_req: IncomingMessage, res: ServerResponse, next: () => void) => {
        const writeHead = res.writeHead as (...args: unknown[]) => ServerResponse;
        res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
          this.setHeader('vary', 'Accept-Encoding');
          return writeHead.apply(this, args);
        } as typeof res.writeHead;
        next();
      };
      const send = await listen(
        platform,
        (app) => {
          app.use(wrapping);
          app.use(ping);
        },
        SlugSkipAppModule,
      );
      const raw = async (path: string) =>
        (await rawRequest(send.port, path, BOT)).replace(/^date: .*\r\n/im, '');

      const skipped = await raw('/about');
      expect(skipped).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(skipped).toMatch(/\r\nvary: Accept-Encoding\r\n/i);
      expect(skipped.endsWith('PUBLIC-PAGE about')).toBe(true);
      // Decided at once (two segments: no skipped route's), before the wrapper ran.
      const atOnce = await raw('/no/such/page');
      expect(atOnce).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      expect(atOnce).not.toMatch(/vary/i);
      // Held, then written: by the guard on a route that is not skipped, and at a main.ts
      // middleware's first write.
      expect(await raw('/admin')).toBe(atOnce);
      expect(await raw('/ping')).toBe(atOnce);
    });
  },
);

describe('a denied body (outside review, 4 December, third session)', () => {
  it.each(['express', 'fastify'] as const)(
    'on %s, closes the connection after a deny, so an announced body is not read to its end',
    async (platform) => {
      const send = await listen(platform);
      const reply = await denyOfAnnouncedBody(send.port, '/items');
      expect(reply).toMatch(/^HTTP\/1\.1 403 /);
      expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    },
  );
});

/** A module with Nest middleware of its own (a request-id middleware, say). */
@Module({})
class OwnMiddlewareModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply((_req: unknown, _res: unknown, next: () => void) => next()).forRoutes('*');
  }
}

@Module({
  imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS), OwnMiddlewareModule],
  controllers: [ItemsController],
})
class WithOtherMiddlewareModule {}

/** main.ts's `app.use()`: a file served after a read (I/O), and a handler under a path. */
function useMainTsMiddleware(app: NestExpressApplication): void {
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if ((req.url ?? '').split('?')[0] !== '/internal-report.txt') return next();
    readFile(join(staticDir, 'internal-report.txt'), 'utf8').then(
      (body) => res.end(body),
      () => next(),
    );
  });
  app.use('/internal-api', (_req: IncomingMessage, res: ServerResponse) =>
    res.end('INTERNAL-API-BODY'),
  );
}

// Outside review, 4 December (High): on Fastify, with a skipped route or another module's
// middleware, the check was a Nest middleware, and the adapter registers main.ts's `app.use()`
// middleware ahead of every Nest middleware: they answered a bot on any path.
describe.each(['express', 'fastify', 'fastify without a request-hook slot'] as const)(
  "Nest on %s: main.ts's app.use() middleware",
  (platform) => {
    it.each([
      ['a @SkipOriginGuard() route', SkipAppModule],
      ['another module with Nest middleware', WithOtherMiddlewareModule],
      ['no skipped route', AppModule],
    ] as const)('is reached only through our CloudFront, with %s', async (what, module) => {
      const send = await listen(platform, useMainTsMiddleware, module);

      for (const path of ['/internal-report.txt', '/internal-api/x', '/items'])
        expectUniformDeny(await send(path, { headers: BOT }), DENY);
      const file = await rawRequest(send.port, '/internal-report.txt', THROUGH_CLOUDFRONT);
      expect(file).toContain('STATIC-FILE-BODY');
      expect((await send('/internal-api/x', { headers: THROUGH_CLOUDFRONT })).body).toBe(
        'INTERNAL-API-BODY',
      );
      if (what === 'a @SkipOriginGuard() route')
        expect((await send('/ops/health', { headers: BOT })).body).toBe('HEALTHY');
    });
  },
);

it('on Fastify, a request hook main.ts sets on the adapter runs after the check, which it cannot replace', async () => {
  const seen: string[] = [];
  const send = await listen(
    'fastify',
    (app) => {
      (app.getHttpAdapter() as unknown as FastifyAdapter).setOnRequestHook(
        (request, _reply, done) => {
          seen.push(request.url);
          done();
        },
      );
      useMainTsMiddleware(app);
    },
    AppModule,
  );

  expectUniformDeny(await send('/internal-report.txt', { headers: BOT }), DENY);
  expectUniformDeny(await send('/items', { headers: BOT }), DENY);
  const ours = await send('/internal-api/x', { headers: THROUGH_CLOUDFRONT });

  expect(ours.body).toBe('INTERNAL-API-BODY');
  expect(seen).toEqual(['/internal-api/x']);
});

/** A feature module with its own (not global) instance of the module, as a library might ship. */
@Module({ imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, isGlobal: false })] })
class FeatureWithOwnGuardModule {}

@Module({
  imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS), FeatureWithOwnGuardModule],
  controllers: [ItemsController],
})
class TwoGuardModulesModule {}

// Outside review, 4 December: on Fastify each module took the other's hook in the adapter's
// slot for the app's, and the two called each other until the stack overflowed: every request
// through CloudFront was denied.
describe.each(['express', 'fastify', 'fastify without a request-hook slot'] as const)(
  'Nest on %s with two CdnOriginGuardModule instances',
  (platform) => {
    it('serves our CloudFront and denies a bot', async () => {
      const send = await listen(platform, useMainTsMiddleware, TwoGuardModulesModule);

      expect((await send('/internal-api/x', { headers: THROUGH_CLOUDFRONT })).body).toBe(
        'INTERNAL-API-BODY',
      );
      expect((await send('/items', json(THROUGH_CLOUDFRONT, '{"a":1}'))).status).toBe(201);
      expectUniformDeny(await send('/internal-api/x', { headers: BOT }), DENY);
      expectUniformDeny(await send('/items', { headers: BOT }), DENY);
    });
  },
);

it("on Fastify, a throw in the app's own request hook is the app's error (500), not a deny", async () => {
  const send = await listen(
    'fastify',
    (app) =>
      (app.getHttpAdapter() as unknown as FastifyAdapter).setOnRequestHook(() => {
        throw new Error('app hook bug');
      }),
    AppModule,
  );

  expect((await send('/items', json(THROUGH_CLOUDFRONT, '{"a":1}'))).status).toBe(500);
  expectUniformDeny(await send('/items', { headers: BOT }), DENY);
});

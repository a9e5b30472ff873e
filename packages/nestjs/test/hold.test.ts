/**
 * The deny held for a request Nest may route to a `@SkipOriginGuard()` handler (hold.ts), as the
 * review of the hold found it (thirteenth session): the ALB's health check of a skipped route
 * still answers when a `main.ts` middleware sends Early Hints or flushes headers, a deny is
 * logged once, two module instances let a skipped route answer, and a held deny is the same
 * bytes as any deny after a middleware set the status message or `sendDate`. Real apps made with
 * `NestFactory.create()` on both platforms, raw sockets to 127.0.0.1.
 */
import 'reflect-metadata';
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdnOriginGuardModule, SkipOriginGuard } from '@cdn-origin-guard/nestjs';
import { Controller, Get, type INestApplication, Module, Param, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../../../test/support/adapter-fixtures.js';
import { BASE_OPTIONS, RecordingLogger, THROUGH_CLOUDFRONT } from './fixtures.js';

const BOT = { 'x-forwarded-for': '203.0.113.9' };
/** The ALB's health checker: no X-Forwarded-For, so not verified, and its deny held. */
const ALB = {};
const withoutDate = (text: string) => text.replace(/^date: .*\r\n/im, '');

@Controller()
class GuardedController {
  @Get('admin') admin() {
    return 'GUARDED';
  }
}

@Controller()
class SlugController {
  @SkipOriginGuard() @Get(':slug') page(@Param('slug') slug: string) {
    return `PUBLIC-PAGE ${slug}`;
  }
}

@Controller('ops')
class HealthController {
  @SkipOriginGuard() @Get('health') health() {
    return 'HEALTHY';
  }
}

function appOf(...controllers: Type[]): Type {
  @Module({
    imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
    controllers: [GuardedController, ...controllers],
  })
  class HoldAppModule {}
  return HoldAppModule;
}

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers) await close();
  closers = [];
});

type Prepare = (app: INestApplication & { use(...args: unknown[]): unknown }) => void;

async function listen(platform: 'express' | 'fastify', module: Type, prepare: Prepare = () => {}) {
  const logger = new RecordingLogger();
  const app = await NestFactory.create(
    module,
    platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
    { logger },
  );
  prepare(app as Parameters<Prepare>[0]);
  await app.listen(0, '127.0.0.1');
  closers.push(() => app.close());
  return { port: (app.getHttpServer().address() as AddressInfo).port, logger };
}

const denyLines = (logger: RecordingLogger) =>
  logger.lines.filter((line) => /cdn-origin-guard denied/.test(String(line.message))).length;

describe.each(['express', 'fastify'] as const)('the held deny on Nest on %s', (platform) => {
  it.each([
    [
      'sends Early Hints',
      (res: ServerResponse) => res.writeEarlyHints({ link: '</app.css>; rel=preload' }),
    ],
    ['flushes the headers', (res: ServerResponse) => res.flushHeaders()],
  ])(
    'lets the skipped health route answer the ALB when a main.ts middleware %s',
    async (_name, ahead) => {
      const { port } = await listen(platform, appOf(HealthController), (app) =>
        app.use((_req: unknown, res: ServerResponse, next: () => void) => {
          ahead(res);
          next();
        }),
      );
      expect(await rawRequest(port, '/ops/health', ALB)).toMatch(
        /HTTP\/1\.1 200 OK\r\n[\s\S]*HEALTHY$/,
      );
      // Not verified, not skipped: denied as ever.
      expect(await rawRequest(port, '/admin', BOT)).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    },
  );

  it('logs one line for a held deny that a main.ts write set off before the module met the request', async () => {
    const { port, logger } = await listen(platform, appOf(SlugController), (app) =>
      app.use((req: { url?: string }, res: ServerResponse, next: () => void) => {
        // A write and then next(): the deny is written here, and the module's checks meet the
        // request after it.
        if (req.url === '/admin') res.setHeader('x-seen', '1');
        if (req.url === '/admin') res.write('');
        next();
      }),
    );
    const before = denyLines(logger);
    expect(await rawRequest(port, '/admin', BOT)).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    await sleep(50);
    expect(denyLines(logger) - before).toBe(1);
  });

  it('lets a skipped route answer a request that is not verified with two module instances', async () => {
    @Module({ imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, isGlobal: false })] })
    class SecondGuardModule {}
    @Module({
      imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS), SecondGuardModule],
      controllers: [GuardedController, HealthController],
    })
    class TwoGuardsModule {}
    const { port, logger } = await listen(platform, TwoGuardsModule);
    expect(await rawRequest(port, '/ops/health', ALB)).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*HEALTHY$/,
    );
    expect((await rawRequest(port, '/ops/health', THROUGH_CLOUDFRONT)).endsWith('HEALTHY')).toBe(
      true,
    );
    const before = denyLines(logger);
    expect(await rawRequest(port, '/admin', BOT)).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    await sleep(50);
    expect(denyLines(logger) - before).toBeGreaterThan(0);
  });

  it("writes the same deny bytes after a main.ts proxy copied an upstream's status line and dropped the Date", async () => {
    const upstream: Server = createServer((req, res) => {
      res.statusCode = req.url === '/exists' ? 200 : 404;
      res.end('UPSTREAM');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => upstream.close(resolve)));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const { port } = await listen(platform, appOf(SlugController), (app) =>
      // What http-proxy's web-outgoing does: status code and message from the upstream, then pipe.
      app.use((req: { url?: string }, res: ServerResponse, next: () => void) => {
        if (req.url !== '/exists' && req.url !== '/missing') return next();
        res.sendDate = false;
        httpRequest({ port: upstreamPort, host: '127.0.0.1', path: req.url }, (upstreamRes) => {
          res.statusCode = upstreamRes.statusCode ?? 502;
          res.statusMessage = upstreamRes.statusMessage ?? '';
          upstreamRes.pipe(res);
        }).end();
      }),
    );
    const atOnce = await rawRequest(port, '/x/y/z', BOT);
    for (const path of ['/exists', '/missing']) {
      const held = await rawRequest(port, path, BOT);
      expect(held, path).toMatch(/\r\ndate: /i);
      expect(withoutDate(held), path).toBe(withoutDate(atOnce));
    }
  });
});

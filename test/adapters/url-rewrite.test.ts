/**
 * A URL rewritten before the guard (found by review on 2 December 2026): path rules must be
 * matched on the path the framework routes on, never on the target as received. An app that
 * rewrites the URL ahead of the guard (here a migration shim routing on `X-Original-URL`, as
 * IIS/ARR setups do; Express: a middleware setting `req.url`; Fastify: `rewriteUrl`) used to
 * get `/admin`'s body served to a bot whose request line named the excluded `/public`:
 * - Express and Nest on Express matched exclusions on `req.originalUrl`;
 * - Nest on Fastify on `raw.originalUrl`, which Fastify keeps as received;
 * - Nest's guard trusted the all-paths check's allow even when the URL changed in between.
 * Each case is a real app over a raw socket on 127.0.0.1, attacked and also used legitimately
 * (the rewrite must not break our own CloudFront's requests, nor exclusions under a mount).
 */
import 'reflect-metadata';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OriginGuardOptions } from '@cdn-origin-guard/core';
import { cdnOriginGuard as expressGuard } from '@cdn-origin-guard/express';
import { cdnOriginGuard as fastifyGuard } from '@cdn-origin-guard/fastify';
import { CdnOriginGuardModule, SkipOriginGuard } from '@cdn-origin-guard/nestjs';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { BASE, BOT, OUR_CLOUDFRONT, rawHttp } from '../support/adapter-fixtures.js';

const GUARDED = 'GUARDED-ROUTE-BODY';
const PUBLIC = 'PUBLIC-ROUTE-BODY';
const OPTIONS = { ...BASE, excludePaths: ['/public'] } satisfies OriginGuardOptions;
const SILENT = { error() {}, warn() {}, info() {} };

/** The rewrite: route on `X-Original-URL` when the request carries one. */
function rewrittenUrl(req: Pick<IncomingMessage, 'headers' | 'url'>): string {
  const header = req.headers['x-original-url'];
  return typeof header === 'string' ? header : (req.url ?? '/');
}

function request(target: string, headers: Readonly<Record<string, string>>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `GET ${target} HTTP/1.1\r\nHost: origin.example\r\nConnection: close\r\n${lines.join('')}\r\n`;
}

interface Target {
  readonly port: number;
  close(): Promise<void>;
}

async function listenExpress(framework: typeof express, mount: string): Promise<Target> {
  const app = framework();
  const guard = expressGuard({
    ...OPTIONS,
    excludePaths: [`${mount}/public`],
    logger: SILENT,
  });
  await guard.ready();
  app.use((req, _res, next) => {
    req.url = rewrittenUrl(req);
    next();
  });
  const router = framework.Router();
  router.get('/admin', (_req, res) => {
    res.send(GUARDED);
  });
  router.get('/public', (_req, res) => {
    res.send(PUBLIC);
  });
  if (mount === '') app.use(guard, router);
  else app.use(mount, guard, router);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.close();
      await guard.close();
    },
  };
}

async function listenFastify(): Promise<Target> {
  const app = Fastify({ rewriteUrl: rewrittenUrl });
  await app.register(fastifyGuard, OPTIONS);
  app.get('/admin', async () => GUARDED);
  app.get('/public', async () => PUBLIC);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

@Controller()
class PlainController {
  @Get('admin') admin() {
    return GUARDED;
  }
  @Get('public') open() {
    return PUBLIC;
  }
}

/** The same routes plus a `@SkipOriginGuard()` one: the module's check is then a Nest middleware. */
@Controller()
class SkippingController extends PlainController {
  @SkipOriginGuard()
  @Get('status')
  status() {
    return 'status';
  }
}

async function listenNest(
  platform: 'express' | 'fastify',
  controller: typeof PlainController,
): Promise<Target> {
  const moduleRef = await Test.createTestingModule({
    imports: [CdnOriginGuardModule.forRoot(OPTIONS)],
    controllers: [controller],
  })
    .setLogger(false as never)
    .compile();
  const app: INestApplication = moduleRef.createNestApplication(
    platform === 'express'
      ? new ExpressAdapter()
      : new FastifyAdapter({ rewriteUrl: rewrittenUrl }),
    { logger: false },
  );
  if (platform === 'express')
    app.use((req: IncomingMessage, _res: unknown, next: () => void) => {
      req.url = rewrittenUrl(req);
      next();
    });
  await app.listen(0, '127.0.0.1');
  return {
    port: (app.getHttpServer().address() as AddressInfo).port,
    close: () => app.close(),
  };
}

const TARGETS: readonly [string, () => Promise<Target>, string][] = [
  ['Express 5', () => listenExpress(express, ''), ''],
  ['Express 4', () => listenExpress(express4 as unknown as typeof express, ''), ''],
  ['Express 5, guard mounted at /api', () => listenExpress(express, '/api'), '/api'],
  [
    'Express 4, guard mounted at /api',
    () => listenExpress(express4 as unknown as typeof express, '/api'),
    '/api',
  ],
  ['Fastify (rewriteUrl)', listenFastify, ''],
  ['Nest on Express, check on the platform', () => listenNest('express', PlainController), ''],
  [
    'Nest on Express, check as Nest middleware',
    () => listenNest('express', SkippingController),
    '',
  ],
  [
    'Nest on Fastify (rewriteUrl), check on the platform',
    () => listenNest('fastify', PlainController),
    '',
  ],
  [
    'Nest on Fastify (rewriteUrl), check as Nest middleware',
    () => listenNest('fastify', SkippingController),
    '',
  ],
];

describe.each(TARGETS)('%s: URL rewritten before the guard', (_name, listen, prefix) => {
  it('never serves a guarded route to a bot that names an excluded path', async () => {
    const target = await listen();
    try {
      const send = (path: string, headers: Readonly<Record<string, string>>) =>
        rawHttp(target.port, request(path, headers));
      // The attack: the request line names the excluded path, the rewrite routes to /admin.
      const attack = await send(`${prefix}/public`, {
        ...BOT,
        'X-Original-URL': `${prefix}/admin`,
      });
      expect(attack).not.toContain(GUARDED);
      expect(attack).toMatch(/^HTTP\/1\.1 403 /);
      // Controls: the guarded route itself is denied to the bot; the exclusion still works
      // without a rewrite (also under a mount); our CloudFront gets the rewritten route.
      expect(await send(`${prefix}/admin`, BOT)).toMatch(/^HTTP\/1\.1 403 /);
      const open = await send(`${prefix}/public`, BOT);
      expect(open).toMatch(/^HTTP\/1\.1 200 /);
      expect(open).toContain(PUBLIC);
      const ours = await send(`${prefix}/public`, {
        ...OUR_CLOUDFRONT,
        'X-Original-URL': `${prefix}/admin`,
      });
      expect(ours).toMatch(/^HTTP\/1\.1 200 /);
      expect(ours).toContain(GUARDED);
    } finally {
      await target.close();
    }
  });
});

/**
 * Socket.IO on every adapter, for real: its engine takes over the HTTP server's `'request'`
 * event and answers its HTTP long-polling requests (`/socket.io/?EIO=4&transport=polling`)
 * itself, before any middleware, hook or guard, and its WebSocket transport arrives as an
 * `'upgrade'`. A bot straight at the ALB opened a Socket.IO session over polling on every
 * adapter (fail-open, documented until 4 December, fifth session, as "use transports:
 * ['websocket']"). Both are now checked on the server (`guardUpgrades`, `requestPaths`
 * defaulting to `['/socket.io/']`).
 */
import 'reflect-metadata';
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cdnOriginGuard as expressGuard, guardUpgrades } from '@cdn-origin-guard/express';
import { cdnOriginGuard as fastifyGuard } from '@cdn-origin-guard/fastify';
import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import express from 'express';
import Fastify from 'fastify';
import { Server as SocketIoServer } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BASE,
  BOT,
  OUR_CLOUDFRONT,
  rawRequest,
  rawUpgrade,
  UPGRADE_DENY,
} from '../support/adapter-fixtures.js';

/** Engine.io's polling handshake, as a Socket.IO client sends it first. */
const POLLING = '/socket.io/?EIO=4&transport=polling&t=abc';
const WEBSOCKET = '/socket.io/?EIO=4&transport=websocket';

/** A raw response without Node's per-response `Date` line. */
const withoutDate = (response: string) => response.replace(/^date: .*\r\n/im, '');

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

@Controller()
class Hello {
  @Get()
  hello(): string {
    return 'hello';
  }
}

@Module({ imports: [CdnOriginGuardModule.forRoot(BASE)], controllers: [Hello] })
class AppModule {}

/** Each adapter's app on 127.0.0.1 with a Socket.IO server on its HTTP server; its port. */
type SocketIoOptions = ConstructorParameters<typeof SocketIoServer>[1];

const APPS: readonly (readonly [
  string,
  (options?: SocketIoOptions) => Promise<{ port: number; io: SocketIoServer }>,
])[] = [
  [
    'Express (guardUpgrades on the server)',
    async (options) => {
      const guard = expressGuard({ ...BASE, logger: { error() {}, warn() {}, info() {} } });
      const app = express();
      app.use(guard);
      app.get('/', (_req, res) => {
        res.send('hello');
      });
      await guard.ready();
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      guardUpgrades(server, guard);
      const io = new SocketIoServer(server, options);
      stops.push(async () => {
        server.closeAllConnections();
        await io.close();
        await guard.close();
      });
      return { port: (server.address() as AddressInfo).port, io };
    },
  ],
  [
    'Fastify (the plugin)',
    async (options) => {
      const app = Fastify();
      await app.register(fastifyGuard, BASE);
      app.get('/', async () => 'hello');
      const io = new SocketIoServer(app.server, options);
      await app.listen({ port: 0, host: '127.0.0.1' });
      stops.push(async () => {
        app.server.closeAllConnections();
        io.close();
        await app.close();
      });
      return { port: (app.server.address() as AddressInfo).port, io };
    },
  ],
  [
    'Nest on Express (the module)',
    async (options) => {
      const app: INestApplication = await NestFactory.create(AppModule, new ExpressAdapter(), {
        logger: false,
      });
      await app.listen(0, '127.0.0.1');
      const server = app.getHttpServer() as HttpServer;
      const io = new SocketIoServer(server, options);
      stops.push(async () => {
        server.closeAllConnections();
        io.close();
        await app.close();
      });
      return { port: (server.address() as AddressInfo).port, io };
    },
  ],
];

describe.each(APPS)('Socket.IO on %s', (_name, start) => {
  it("denies a bot's polling handshake with the uniform deny; Socket.IO never opens a session", async () => {
    const { port, io } = await start();
    let sessions = 0;
    io.engine.on('connection', () => {
      sessions++;
    });

    const bot = await rawRequest(port, POLLING, BOT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(sessions).toBe(0);
  });

  it('lets our CloudFront open a session over polling, and denies a bot its WebSocket transport', async () => {
    const { port } = await start();

    const ours = await rawRequest(port, POLLING, OUR_CLOUDFRONT);
    const upgrade = await rawUpgrade(port, WEBSOCKET, BOT);

    expect(ours.split('\r\n', 1)[0]).toBe('HTTP/1.1 200 OK');
    expect(ours).toMatch(/\r\n\r\n0\{"sid":"[^"]+"/);
    expect(upgrade).toBe(UPGRADE_DENY);
  });

  // Review, 4 December (fifth session): with a `/socket.io/` prefix, Socket.IO with
  // `addTrailingSlash: false` opened a bot's session at `/socket.io?EIO=4…`, and its client
  // bundle was served at `/socket.io?socket.io.js`.
  it('denies a bot every target Socket.IO answers, with addTrailingSlash: false too', async () => {
    const { port, io } = await start({ addTrailingSlash: false });
    let sessions = 0;
    io.engine.on('connection', () => {
      sessions++;
    });

    const targets = [
      '/socket.io?EIO=4&transport=polling',
      '/socket.io/?EIO=4&transport=polling',
      '/socket.io?socket.io.js',
      '/socket.io.socket.io.min.js',
      '/socket.io/socket.io.js',
    ];
    const answers = await Promise.all(targets.map((target) => rawRequest(port, target, BOT)));

    for (const answer of answers) expect(withoutDate(answer)).toBe(UPGRADE_DENY);
    expect(sessions).toBe(0);
  });

  it("gives the same deny bytes as the adapter's own deny of an ordinary request", async () => {
    const { port } = await start();

    const polling = await rawRequest(port, POLLING, BOT);
    const ordinary = await rawRequest(port, '/.env', BOT);

    expect(withoutDate(polling)).toBe(withoutDate(ordinary));
  });
});

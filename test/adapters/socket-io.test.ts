/**
 * Socket.IO on every adapter, for real: its engine takes over the HTTP server's `'request'`
 * event and answers its HTTP long-polling requests (`/socket.io/?EIO=4&transport=polling`)
 * itself, before any middleware, hook or guard, and its WebSocket transport arrives as an
 * `'upgrade'`. A bot straight at the ALB opened a Socket.IO session over polling on every
 * adapter (fail-open, documented until 4 December, fifth session, as "use transports:
 * ['websocket']"). Both are now checked on the server (`guardUpgrades`, `requestPaths`
 * defaulting to `['/socket.io']`; another Socket.IO `path` is given to each adapter).
 */
import 'reflect-metadata';
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOriginVerifier } from '@cdn-origin-guard/core';
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

/** A Nest app on Express with `module` and a Socket.IO server given `options`. */
async function nestApp(
  module: object,
  options?: SocketIoOptions,
): Promise<{ port: number; io: SocketIoServer }> {
  const app: INestApplication = await NestFactory.create(module, new ExpressAdapter(), {
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
}

/** A Fastify app given the plugin's `guardOptions` and a Socket.IO server given `options`. */
async function fastifyApp(
  guardOptions: Parameters<typeof fastifyGuard>[1],
  options?: SocketIoOptions,
): Promise<{ port: number; io: SocketIoServer }> {
  const app = Fastify();
  await app.register(fastifyGuard, guardOptions);
  app.get('/', async () => 'hello');
  const io = new SocketIoServer(app.server, options);
  await app.listen({ port: 0, host: '127.0.0.1' });
  stops.push(async () => {
    app.server.closeAllConnections();
    io.close();
    await app.close();
  });
  return { port: (app.server.address() as AddressInfo).port, io };
}

/** An Express app with the guard (its log lines dropped) on 127.0.0.1: its guard, server, port. */
async function expressServer() {
  const guard = expressGuard({ ...BASE, logger: { error() {}, warn() {}, info() {} } });
  const app = express();
  app.use(guard);
  app.get('/', (_req, res) => {
    res.send('hello');
  });
  await guard.ready();
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { guard, server, port: (server.address() as AddressInfo).port };
}

/** A Socket.IO server given `options` on an Express guard's `server`, closed after the test. */
function withSocketIo(
  server: HttpServer,
  guard: { close(): Promise<void> },
  options?: SocketIoOptions,
): SocketIoServer {
  const io = new SocketIoServer(server, options);
  stops.push(async () => {
    server.closeAllConnections();
    await io.close();
    await guard.close();
  });
  return io;
}

const APPS: readonly (readonly [
  string,
  (options?: SocketIoOptions) => Promise<{ port: number; io: SocketIoServer }>,
])[] = [
  [
    'Express (guardUpgrades on the server)',
    async (options) => {
      const { guard, server, port } = await expressServer();
      guardUpgrades(server, guard);
      return { port, io: withSocketIo(server, guard, options) };
    },
  ],
  ['Fastify (the plugin)', (options) => fastifyApp(BASE, options)],
  ['Nest on Express (the module)', (options) => nestApp(AppModule, options)],
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

@Module({
  imports: [CdnOriginGuardModule.forRoot({ ...BASE, requestPaths: ['/live'] })],
  controllers: [Hello],
})
class LiveModule {}

@Module({
  imports: [CdnOriginGuardModule.forRootAsync({ useFactory: () => BASE, requestPaths: ['/live'] })],
  controllers: [Hello],
})
class LiveAsyncModule {}

/** Socket.IO under a `path` of its own. */
const LIVE: SocketIoOptions = { path: '/live' };

// Until 4 December (sixth session) only Express took a custom path itself; on Fastify and Nest a
// Socket.IO `path` other than `/socket.io` needed a second, core-level call made after the app
// was ready, and without it a bot's polling session at that path opened unchecked.
const LIVE_APPS: readonly (readonly [
  string,
  () => Promise<{ port: number; io: SocketIoServer }>,
])[] = [
  [
    'Express (guardUpgrades requestPaths)',
    async () => {
      const guard = expressGuard({ ...BASE, logger: { error() {}, warn() {}, info() {} } });
      const app = express();
      app.use(guard);
      await guard.ready();
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      guardUpgrades(server, guard, { requestPaths: ['/live'] });
      const io = new SocketIoServer(server, { path: '/live' });
      stops.push(async () => {
        server.closeAllConnections();
        await io.close();
        await guard.close();
      });
      return { port: (server.address() as AddressInfo).port, io };
    },
  ],
  ['Fastify (plugin option)', () => fastifyApp({ ...BASE, requestPaths: ['/live'] }, LIVE)],
  [
    'Fastify (plugin option with { verifier })',
    async () => {
      const verifier = createOriginVerifier(BASE);
      await verifier.ready();
      stops.push(() => verifier.close());
      return fastifyApp({ verifier, requestPaths: ['/live'] }, LIVE);
    },
  ],
  ['Nest on Express (forRoot option)', () => nestApp(LiveModule, LIVE)],
  ['Nest on Express (forRootAsync option)', () => nestApp(LiveAsyncModule, LIVE)],
];

describe.each(LIVE_APPS)('Socket.IO under its own path on %s', (_name, start) => {
  it("denies a bot's polling handshake there, and lets our CloudFront open a session", async () => {
    const { port, io } = await start();
    let sessions = 0;
    io.engine.on('connection', () => {
      sessions++;
    });

    const bot = await rawRequest(port, '/live/?EIO=4&transport=polling', BOT);
    const bundle = await rawRequest(port, '/live/socket.io.js', BOT);
    expect(sessions).toBe(0);
    const ours = await rawRequest(port, '/live/?EIO=4&transport=polling', OUR_CLOUDFRONT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(withoutDate(bundle)).toBe(UPGRADE_DENY);
    expect(ours).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0\{"sid":"[^"]+"/);
    expect(sessions).toBe(1);
  });
});

// Outside review, 4 December (seventh session): a Socket.IO `path` nobody gave the guard opened a
// bot's session. engine.io acts only on a request naming a `transport`, so any such request is
// checked on the server, whatever its path.
describe.each(APPS)('Socket.IO under a path the guard was not given, on %s', (_name, start) => {
  it("denies a bot's polling handshake there, and lets our CloudFront open a session", async () => {
    const { port, io } = await start({ path: '/rt' });
    let sessions = 0;
    io.engine.on('connection', () => {
      sessions++;
    });

    const bot = await rawRequest(port, '/rt/?EIO=4&transport=polling', BOT);
    const escaped = await rawRequest(port, '/rt/?EIO=4&tr%61nsport=polling', BOT);
    const upgrade = await rawUpgrade(port, '/rt/?EIO=4&transport=websocket', BOT);
    expect(sessions).toBe(0);
    const ours = await rawRequest(port, '/rt/?EIO=4&transport=polling', OUR_CLOUDFRONT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(withoutDate(escaped)).toBe(UPGRADE_DENY);
    expect(upgrade).toBe(UPGRADE_DENY);
    expect(ours).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0\{"sid":"[^"]+"/);
    expect(sessions).toBe(1);
  });
});

describe('requestPaths given to the Fastify plugin or the Nest module, checked when the app is built', () => {
  it.each([
    ['/live', /`requestPaths` is string; expected an array/],
    [['live'], /`requestPaths\[0\]` is "live"; expected a path prefix starting with '\/'/],
  ])('Fastify: %j fails the boot, naming the option', async (requestPaths, message) => {
    const app = Fastify();
    stops.push(() => app.close());

    const booted = app
      .register(fastifyGuard, { ...BASE, requestPaths: requestPaths as never })
      .ready();

    await expect(booted).rejects.toThrow(message);
  });

  it.each([
    ['/live', /`requestPaths` is string; expected an array/],
    [['live'], /`requestPaths\[0\]` is "live"; expected a path prefix starting with '\/'/],
  ])(
    'Nest: %j throws from forRoot and forRootAsync, naming the option',
    (requestPaths, message) => {
      expect(() =>
        CdnOriginGuardModule.forRoot({ ...BASE, requestPaths: requestPaths as never }),
      ).toThrow(message);
      expect(() =>
        CdnOriginGuardModule.forRootAsync({
          useFactory: () => BASE,
          requestPaths: requestPaths as never,
        }),
      ).toThrow(message);
    },
  );

  it('Nest: an options factory cannot return requestPaths (it decides the wiring)', async () => {
    @Module({
      imports: [
        CdnOriginGuardModule.forRootAsync({
          useFactory: () => ({ ...BASE, requestPaths: ['/live'] }) as never,
        }),
      ],
    })
    class FromFactory {}

    await expect(
      NestFactory.create(FromFactory, new ExpressAdapter(), { logger: false, abortOnError: false }),
    ).rejects.toThrow(
      /`requestPaths` decides how the module is wired; pass it to forRootAsync\(\{ requestPaths \}\)/,
    );
  });
});

describe('Socket.IO on Express without guardUpgrades', () => {
  it("is checked from the middleware's first request on, with an error line naming the fix", async () => {
    const lines: string[] = [];
    const logger = { error: (l: string) => lines.push(l), warn() {}, info() {} };
    const guard = expressGuard({ ...BASE, logger });
    const app = express();
    app.use(guard);
    await guard.ready();
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const io = new SocketIoServer(server);
    stops.push(async () => {
      server.closeAllConnections();
      await io.close();
      await guard.close();
    });
    const { port } = server.address() as AddressInfo;
    let sessions = 0;
    io.engine.on('connection', () => {
      sessions++;
    });

    await rawRequest(port, '/healthz', BOT);
    const bot = await rawRequest(port, POLLING, BOT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(sessions).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      "'upgrade' listeners (WebSocket handshakes) and a 'request' listener that is not the Express app (Socket.IO's engine)",
    );
  });
});

it('Express without guardUpgrades: Socket.IO attached under its own path after the first request is checked too', async () => {
  const { guard, server, port } = await expressServer();
  await rawRequest(port, '/', BOT); // the middleware's first request: it guards the server
  const io = withSocketIo(server, guard, { path: '/live' });
  let sessions = 0;
  io.engine.on('connection', () => {
    sessions++;
  });

  const bot = await rawRequest(port, '/live/?EIO=4&transport=polling', BOT);

  expect(withoutDate(bot)).toBe(UPGRADE_DENY);
  expect(sessions).toBe(0);
});

// Review, 4 December (sixth session): `requestPaths: ['/live/']` missed `/live?EIO=4…`, which
// engine.io answers with `addTrailingSlash: false`; user-given paths lose their trailing `/`.
it('a requestPaths entry written with a trailing / still covers /live?EIO=4 (addTrailingSlash: false)', async () => {
  const { port, io } = await fastifyApp(
    { ...BASE, requestPaths: ['/live/'] },
    { path: '/live', addTrailingSlash: false },
  );
  let sessions = 0;
  io.engine.on('connection', () => {
    sessions++;
  });

  const bot = await rawRequest(port, '/live?EIO=4&transport=polling', BOT);

  expect(withoutDate(bot)).toBe(UPGRADE_DENY);
  expect(sessions).toBe(0);
});

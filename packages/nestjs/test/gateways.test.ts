/**
 * Real `@nestjs/websockets` gateways (Socket.IO, through `@nestjs/platform-socket.io`'s
 * `IoAdapter`, Nest's default). A gateway's Socket.IO engine answers its HTTP long-polling
 * requests before Nest, under its `path`: until 4 December (sixth session) the module checked
 * only `/socket.io` on the server, so `@WebSocketGateway({ path: '/live' })` answered a bot's
 * polling handshake and opened a session, unless the app also gave `requestPaths`. The module
 * now reads every gateway's path. A gateway on a port of its own has a server the module cannot
 * see: it is named in an error at bootstrap, with the fix, which is tested here too.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guardUpgrades, type OriginVerifier } from '@cdn-origin-guard/core';
import {
  CDN_ORIGIN_GUARD_VERIFIER,
  CdnOriginGuardModule,
  SkipOriginGuard,
} from '@cdn-origin-guard/nestjs';
import { Controller, Get, type INestApplication, Inject } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import {
  type OnGatewayConnection,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Namespace, Server as SocketIoServer } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BOT,
  OUR_CLOUDFRONT,
  rawHttp,
  rawRequest,
  rawUpgrade,
  UPGRADE_DENY,
} from '../../../test/support/adapter-fixtures.js';
import { BASE_OPTIONS, CONTROLLERS, create, PLATFORMS, type Started, start } from './fixtures.js';

const apps: INestApplication[] = [];
/** Servers of gateways on ports of their own, closed after the apps. */
const ownServers: (SocketIoServer | undefined)[] = [];
afterEach(async () => {
  for (const app of apps) (app.getHttpServer() as Server).closeAllConnections();
  for (const io of ownServers) (io?.httpServer as Server | undefined)?.closeAllConnections();
  await Promise.allSettled(apps.splice(0).map((app) => app.close()));
  await Promise.allSettled(ownServers.splice(0).map((io) => io?.close()));
});

/** A raw response without Node's per-response `Date` line. */
const withoutDate = (response: string) => response.replace(/^date: .*\r\n/im, '');

/** Engine.io's polling handshake under `path`, as a Socket.IO client sends it first. */
const polling = (path: string) => `${path}/?EIO=4&transport=polling&t=abc`;

/** A port nothing listens on (for a gateway that listens on a port of its own). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Sessions the gateway's engine opened. */
function sessionsOf(io: SocketIoServer | undefined): { count: number } {
  const sessions = { count: 0 };
  io?.engine.on('connection', () => {
    sessions.count++;
  });
  return sessions;
}

@WebSocketGateway({ path: '/live' })
class LiveGateway {
  @WebSocketServer() server: SocketIoServer | undefined;

  @SubscribeMessage('ping')
  ping(): string {
    return 'pong';
  }
}

@WebSocketGateway()
class DefaultPathGateway {
  @WebSocketServer() server: SocketIoServer | undefined;
}

async function startWith(
  adapter: (typeof PLATFORMS)[number][1],
  providers: unknown[],
  options: Record<string, unknown> = {},
): Promise<Started & { port: number }> {
  const started = await start(adapter, {
    imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, ...options })],
    controllers: CONTROLLERS,
    providers: providers as never[],
  });
  apps.push(started.app);
  const { port } = (started.app.getHttpServer() as Server).address() as AddressInfo;
  return { ...started, port };
}

describe.each(PLATFORMS)('Socket.IO gateways on the %s platform', (_platform, adapter) => {
  it("checks a gateway's own path on the server: a bot's polling is denied, ours opens a session", async () => {
    const { app, port } = await startWith(adapter, [LiveGateway]);
    const sessions = sessionsOf(app.get(LiveGateway).server);

    const bot = await rawRequest(port, polling('/live'), BOT);
    const bundle = await rawRequest(port, '/live/socket.io.js', BOT);
    const upgrade = await rawUpgrade(port, '/live/?EIO=4&transport=websocket', BOT);
    expect(sessions.count).toBe(0);
    const ours = await rawRequest(port, polling('/live'), OUR_CLOUDFRONT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(withoutDate(bundle)).toBe(UPGRADE_DENY);
    expect(upgrade).toBe(UPGRADE_DENY);
    expect(ours).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0\{"sid":"[^"]+"/);
    expect(sessions.count).toBe(1);
  });

  it("adds the gateway's path even when requestPaths is given, and keeps Socket.IO's default for a gateway without one", async () => {
    const { app, port } = await startWith(adapter, [LiveGateway, DefaultPathGateway], {
      requestPaths: ['/other'],
    });
    const live = sessionsOf(app.get(LiveGateway).server);

    const answers = await Promise.all(
      [polling('/live'), polling('/socket.io'), polling('/other')].map((target) =>
        rawRequest(port, target, BOT),
      ),
    );

    for (const answer of answers) expect(withoutDate(answer)).toBe(UPGRADE_DENY);
    expect(live.count).toBe(0);
  });
});

describe('a gateway path is checked as engine.io answers it', () => {
  // Review, 4 December (sixth session): the gateway's `/live` was added as a bare prefix, which
  // took a skipped `/live-status` route for the gateway's and denied it.
  it("leaves a skipped route that only starts with the gateway's path to its route", async () => {
    @Controller()
    class Status {
      @SkipOriginGuard() @Get('live-status') status(): string {
        return 'UP';
      }
    }
    const started = await start(PLATFORMS[0]![1], {
      imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
      controllers: [Status],
      providers: [LiveGateway],
    });
    apps.push(started.app);
    const { port } = (started.app.getHttpServer() as Server).address() as AddressInfo;

    const status = await rawRequest(port, '/live-status', BOT);
    const polling2 = await rawRequest(port, polling('/live'), BOT);

    expect(status).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nUP$/);
    expect(withoutDate(polling2)).toBe(UPGRADE_DENY);
  });
});

describe('a gateway on the root path', () => {
  // Outside review, 4 December (seventh session): `path: '/'` was dropped (trimmed to nothing),
  // so the gateway's engine, which then answers every target, opened a bot's session.
  @WebSocketGateway({ path: '/' })
  class RootGateway {
    @WebSocketServer() server: SocketIoServer | undefined;
  }

  it.each(PLATFORMS)(
    'has every request checked on the server (%s platform)',
    async (_p, adapter) => {
      const { app, port } = await startWith(adapter, [RootGateway]);
      const sessions = sessionsOf(app.get(RootGateway).server);

      const handshake = await rawRequest(port, '/?EIO=4&transport=polling&t=abc', BOT);
      const other = await rawRequest(port, '/anything', BOT);
      expect(sessions.count).toBe(0);
      const ours = await rawRequest(port, '/?EIO=4&transport=polling&t=abc', OUR_CLOUDFRONT);

      expect(withoutDate(handshake)).toBe(UPGRADE_DENY);
      expect(withoutDate(other)).toBe(UPGRADE_DENY);
      expect(ours).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0\{"sid":"[^"]+"/);
      expect(sessions.count).toBe(1);
    },
  );
});

describe('a gateway on a port of its own', () => {
  it('is named in an error at bootstrap, with the fix', async () => {
    const own = await freePort();
    @WebSocketGateway(own)
    class OwnPortGateway {
      @WebSocketServer() server: SocketIoServer | undefined;
    }

    const { logger, app } = await startWith(PLATFORMS[0]![1], [OwnPortGateway]);
    ownServers.push(app.get(OwnPortGateway).server);

    const line = logger.lines.find(
      (l) => l.level === 'error' && l.message.includes('OwnPortGateway'),
    );
    expect(line?.message).toContain(
      `OwnPortGateway listens on port ${own}, a server of its own that CdnOriginGuardModule cannot see`,
    );
    expect(line?.message).toContain('guardUpgrades(io.httpServer, verifier');
  });

  it('is checked when it follows the fix the error gives (guardUpgrades in afterInit)', async () => {
    const own = await freePort();
    // With a namespace, as the README's recipe (afterInit then gets the Namespace).
    @WebSocketGateway(own, { path: '/live', namespace: 'chat' })
    class GuardedOwnPort implements OnGatewayInit {
      @WebSocketServer() server: Namespace | undefined;
      constructor(@Inject(CDN_ORIGIN_GUARD_VERIFIER) private readonly verifier: OriginVerifier) {}
      afterInit(server: SocketIoServer | Namespace): void {
        const io = 'httpServer' in server ? server : server.server;
        guardUpgrades(io.httpServer, this.verifier, { requestPaths: [io.path()] });
      }
    }

    const { app } = await startWith(PLATFORMS[0]![1], [GuardedOwnPort]);
    const io = app.get(GuardedOwnPort).server?.server;
    ownServers.push(io);
    const sessions = sessionsOf(io);

    const bot = await rawRequest(own, polling('/live'), BOT);
    const upgrade = await rawUpgrade(own, '/live/?EIO=4&transport=websocket', BOT);
    const ours = await rawRequest(own, polling('/live'), OUR_CLOUDFRONT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(upgrade).toBe(UPGRADE_DENY);
    expect(ours).toMatch(/\r\n\r\n0\{"sid":"[^"]+"/);
    expect(sessions.count).toBe(1);
  });
});

/** What a bot's raw Socket.IO client reached: sessions, connections and `ping` handler calls. */
const reached = { connections: 0, pings: 0 };

@WebSocketGateway()
class CountingGateway implements OnGatewayConnection {
  @WebSocketServer() server: SocketIoServer | undefined;

  handleConnection(): void {
    reached.connections++;
  }

  @SubscribeMessage('ping')
  ping(): string {
    reached.pings++;
    return 'pong';
  }
}

/** A Socket.IO polling client over raw HTTP: handshake, namespace connect, one `ping` event. */
async function botSession(port: number, path: string): Promise<string> {
  const handshake = await rawRequest(port, `${path}/?EIO=4&transport=polling`, BOT);
  const sid = /0\{"sid":"([^"]+)"/.exec(handshake)?.[1];
  if (sid === undefined) return handshake;
  const post = (body: string) =>
    rawHttp(
      port,
      `POST ${path}/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: origin.example\r\nConnection: close\r\nx-forwarded-for: ${BOT['x-forwarded-for']}\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
  await post('40');
  await rawRequest(port, `${path}/?EIO=4&transport=polling&sid=${sid}`, BOT);
  await post('42["ping"]');
  await new Promise((resolve) => setTimeout(resolve, 100));
  return handshake;
}

// Outside review, 4 December (seventh session): a Socket.IO `path` set in the app's IoAdapter (not
// in the decorator, which the module reads) opened a bot's session, ran handleConnection and, with
// allowContextTypes: ['ws'], its @SubscribeMessage handlers.
describe('a Socket.IO path set by the WebSocket adapter', () => {
  class PathIoAdapter extends IoAdapter {
    override createIOServer(
      port: number,
      options?: Parameters<IoAdapter['createIOServer']>[1],
    ): ReturnType<IoAdapter['createIOServer']> {
      return super.createIOServer(port, { ...options, path: '/rt' } as typeof options);
    }
  }

  it.each(PLATFORMS)("denies a bot's handshake there (%s platform)", async (_p, adapter) => {
    reached.connections = 0;
    reached.pings = 0;
    const app = await create(adapter, {
      imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, allowContextTypes: ['ws'] })],
      controllers: CONTROLLERS,
      providers: [CountingGateway],
    });
    apps.push(app);
    app.useWebSocketAdapter(new PathIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    const sessions = sessionsOf(app.get(CountingGateway).server);

    const bot = await botSession(port, '/rt');
    expect(sessions.count).toBe(0);
    const ours = await rawRequest(port, '/rt/?EIO=4&transport=polling', OUR_CLOUDFRONT);

    expect(withoutDate(bot)).toBe(UPGRADE_DENY);
    expect(reached).toEqual({ connections: 0, pings: 0 });
    expect(ours).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0\{"sid":"[^"]+"/);
    expect(sessions.count).toBe(1);
  });
});

describe("allowContextTypes: ['ws'] lets through only messages of verified connections", () => {
  it('refuses the messages of a connection whose handshake nothing checked (a gateway on a port of its own)', async () => {
    const own = await freePort();
    const pings = { count: 0 };
    @WebSocketGateway(own)
    class OwnPortPing {
      @WebSocketServer() server: SocketIoServer | undefined;

      @SubscribeMessage('ping')
      ping(): string {
        pings.count++;
        return 'pong';
      }
    }
    const { app } = await startWith(PLATFORMS[0]![1], [OwnPortPing], {
      allowContextTypes: ['ws'],
    });
    ownServers.push(app.get(OwnPortPing).server);
    const sessions = sessionsOf(app.get(OwnPortPing).server);

    let closed = 0;
    app.get(OwnPortPing).server?.on('connection', (socket) =>
      socket.on('disconnect', () => {
        closed++;
      }),
    );
    // Nothing checks that server's handshakes (the module named it in an error at bootstrap):
    // the bot's session opens, but none of its messages reaches a handler, and the guard closes
    // it at the first.
    await botSession(own, '/socket.io');

    expect(sessions.count).toBe(1);
    expect(pings.count).toBe(0);
    expect(closed).toBe(1);
  });
});

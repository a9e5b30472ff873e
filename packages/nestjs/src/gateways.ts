/**
 * The app's WebSocket gateways, as `@WebSocketGateway()` declared them (read from the metadata
 * of `@nestjs/websockets`, which this package does not depend on): where the module's
 * server-level check must look for Socket.IO's long-polling requests, and which gateways have
 * a server of their own that the module cannot see.
 * @module
 */
import type { DiscoveryService } from '@nestjs/core';

// @nestjs/websockets' metadata keys (the same from Nest 10 to 12; not exported from its root).
const GATEWAY_METADATA = 'websockets:is_gateway';
const PORT_METADATA = 'port';
const GATEWAY_OPTIONS = 'websockets:gateway_options';

/** Socket.IO's default `path`, which a gateway without one serves under. */
const SOCKET_IO_PATH = '/socket.io';

/** One gateway class of the app. */
export interface Gateway {
  /** Its class name, for log lines. */
  readonly name: string;
  /** `0` on the app's HTTP server, else the port of a server of its own. */
  readonly port: number;
  /**
   * The path prefix its Socket.IO engine answers ordinary requests under: its `path` option
   * without a trailing `/`, or Socket.IO's default; `undefined` when the option is not a path.
   */
  readonly requestPath: string | undefined;
}

/** Every gateway class among the app's providers, once each. */
export function gatewaysOf(discovery: DiscoveryService): Gateway[] {
  const found: Gateway[] = [];
  const seen = new Set<unknown>();
  for (const { metatype } of discovery.getProviders()) {
    if (typeof metatype !== 'function' || seen.has(metatype)) continue;
    seen.add(metatype);
    if (Reflect.getMetadata(GATEWAY_METADATA, metatype) !== true) continue;
    const port: unknown = Reflect.getMetadata(PORT_METADATA, metatype);
    const options: unknown = Reflect.getMetadata(GATEWAY_OPTIONS, metatype);
    found.push({
      name: metatype.name || 'an anonymous gateway',
      port: Number.isInteger(port) ? (port as number) : 0,
      requestPath: requestPathOf(options as { path?: unknown; addTrailingSlash?: unknown }),
    });
  }
  return found;
}

/**
 * The prefix of a gateway's `path` option as engine.io matches it (it drops one trailing `/`
 * and, with `addTrailingSlash`, adds one back): `undefined` when it is not a path the
 * server-level check takes.
 */
function requestPathOf(
  options: { path?: unknown; addTrailingSlash?: unknown } | undefined,
): string | undefined {
  const path = options?.path ?? SOCKET_IO_PATH;
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) return undefined;
  const trimmed = path.replace(/\/+$/, '');
  // A gateway on `/` has its engine answer every target (engine.io's prefix is then `/`, or the
  // empty string without a trailing slash): every request is checked on the server. Until 4
  // December (seventh session) such a path was dropped and a bot's polling opened a session.
  if (trimmed === '') return '/';
  // With engine.io's default `addTrailingSlash` it answers only under `/live/`: a bare `/live`
  // prefix also took a skipped `/live-status` route for the gateway's (review, 4 December, sixth
  // session); with `addTrailingSlash: false` it answers `/live?EIO=4…` too.
  return options?.addTrailingSlash === false ? trimmed : `${trimmed}/`;
}

/**
 * `requestPaths` plus the path of every gateway on the HTTP server: a gateway's Socket.IO
 * engine answers its long-polling requests before Nest, so its path is checked on the server
 * whatever the option says.
 */
export function withGatewayPaths(
  requestPaths: readonly string[],
  gateways: readonly Gateway[],
): readonly string[] {
  const paths = new Set(requestPaths);
  for (const { port, requestPath } of gateways)
    if (port === 0 && requestPath !== undefined) paths.add(requestPath);
  return [...paths];
}

/** The error line for a gateway on a port of its own: what is not checked, and the fix. */
export function ownPortLine(gateway: Gateway): string {
  return `${gateway.name} listens on port ${gateway.port}, a server of its own that CdnOriginGuardModule cannot see: its WebSocket handshakes and Socket.IO polling requests are NOT verified (with allowContextTypes ['ws'], the guard verifies a Socket.IO connection's handshake at its first message and closes a bot's; a ws client's messages go through). Put the gateway on the HTTP server (@WebSocketGateway() without a port). A Socket.IO gateway can instead guard its server in afterInit(server): with io = server.server ?? server (afterInit gets a Namespace when the gateway has a namespace), guardUpgrades(io.httpServer, verifier, { requestPaths: [io.path()] }) from @cdn-origin-guard/nestjs, with the CDN_ORIGIN_GUARD_VERIFIER verifier; a ws gateway (WsAdapter) has no such server: keep it on the HTTP server.`;
}

/**
 * `guardUpgrades`: the check for HTTP upgrade requests (`Connection: Upgrade`, a WebSocket
 * handshake). Node hands those to the server's `'upgrade'` listeners, not to its `'request'`
 * listener, so no framework middleware or hook sees them; this puts the verifier in front of
 * every `'upgrade'` listener of a server.
 * @module
 */
import type { Duplex } from 'node:stream';
import { errorText, handleRejection, warnCallbackThrew } from './callbacks.js';
import type { Decision } from './decision.js';
import { InvalidOptionError } from './errors.js';
import { guardFailureLogLine } from './log-lines.js';
import type { DenyResponse, VerifyInput } from './options/types.js';
import { type DenyTarget, reasonPhrase, writeDenyResponse } from './request/deny.js';
import { recordDecision } from './request/record.js';
import type { AppListener } from './server-watch.js';
import { isOriginVerifier, type OriginVerifier } from './verifier.js';

/**
 * What {@link guardUpgrades} needs of a server: its `emit`, and the `listen()` and `address()`
 * that tell a server from an app. Node's `http.Server`, `https.Server` and `http2` servers (what
 * Express's `app.listen()` returns, `fastify.server`, Nest's `getHttpServer()`) are one; an
 * Express app is not (it has an `emit` too, but Node never emits `'upgrade'` on it).
 */
export interface UpgradeServer {
  emit(event: string | symbol, ...args: never[]): boolean;
  listen(...args: never[]): unknown;
  address(): unknown;
}

/**
 * An upgrade (or CONNECT) request as Node's server emits it (an `http.IncomingMessage`): what
 * the check reads and the callbacks get. Structural, so the published types need no
 * `@types/node`.
 */
export interface UpgradeRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawHeaders?: readonly string[] | undefined;
  readonly socket?: { readonly remoteAddress?: string | undefined } | null | undefined;
  readonly method?: string | undefined;
  readonly url?: string | undefined;
}

/** Options of {@link guardUpgrades}. */
export interface UpgradeGuardOptions {
  /**
   * Called with the decision on every upgrade request (allowed, reported or denied), before the
   * request goes on to the `'upgrade'` listeners or gets the deny response: log a deny or a
   * would-be deny (report mode) as your adapter logs an ordinary request. Errors it throws, and
   * an `async` callback's rejection, are reported once as a process warning. Defaults to none.
   * `req` is the live request, so its `headers` hold the secret header (as every middleware's
   * request does): log the decision (which never holds the secret; `decisionLogLine`) and the
   * method and path, never `req.headers` whole. The verifier's own `onDecision` gets the input
   * with the secret header removed.
   * @example
   * ```ts
   * import { decisionLogLine, guardUpgrades } from '@cdn-origin-guard/core';
   * guardUpgrades(server, verifier, {
   *   onDecision: (decision, req) => {
   *     if (!decision.allowed) console.warn(decisionLogLine(decision, { method: req.method, path: req.url }));
   *   },
   * });
   * ```
   */
  readonly onDecision?: (decision: Decision, req: UpgradeRequest) => void;
  /**
   * Called when the verifier threw on an upgrade request (a bug, never a client's doing); the
   * request was denied. Defaults to a process warning with the core's `guardFailureLogLine`.
   */
  readonly onError?: (error: unknown, req: UpgradeRequest) => void;
  /**
   * Path prefixes of ordinary requests to check on the server too, before any `'request'`
   * listener, as upgrades are: for a listener that answers requests before the framework does.
   * Socket.IO's engine takes over the server's `'request'` event and answers its HTTP
   * long-polling requests (under its `path`, `/socket.io` by default) itself, so no middleware,
   * hook or guard ever sees them: a bot could hold a Socket.IO connection over polling. A
   * request whose target starts with one of these (as engine.io matches it) is verified first;
   * a denied one gets the uniform deny response (plus `connection: close` on HTTP/1). An allowed
   * one goes on, and the framework checks it again if it answers it (counted twice in
   * `stats()`). Each must start with `/`; `[]` checks none. Defaults to `['/socket.io']`, with
   * no trailing `/`: Socket.IO's engine with `addTrailingSlash: false` answers
   * `/socket.io?EIO=4…`, and its client-bundle listener any target starting `/socket.io` (both
   * answered a bot past a `/socket.io/` prefix, review, 4 December, fifth session). Give your
   * own Socket.IO `path` the same way, without the trailing `/`.
   */
  readonly requestPaths?: readonly string[];
  /**
   * Whether the verifier's `excludePaths` and `healthCheckPaths` apply to a request Node hands
   * to the server's `'checkContinue'` listeners (one with `Expect: 100-continue`, when the app
   * listens to that event). Set it only when every such listener hands each request on to the
   * app that routes it (`res.writeContinue(); app(req, res)`): then a path the app excludes (a
   * webhook that sends `Expect: 100-continue`) passes here as it passes in the app. Defaults to
   * `false`: the path rules do not apply, so an excluded path is checked like any other. A
   * listener that answers by itself (an upload-size limit) or that runs one handler for every
   * target does not route as the framework does, and with the rules applied, an exclusion meant
   * for `/robots.txt` ran it for a bot who sent `POST /robots.txt` with `Expect: 100-continue`
   * (review, eleventh session). Requests Node hands to `'checkExpectation'` (any other
   * `Expect` value) never get the path rules: such a listener answers them itself. With several
   * registrations of one verifier (see {@link guardUpgrades}), the rules apply only if every one
   * of them sets it (a process warning says so when they disagree). Only the verifier's path
   * rules are known on the server: an adapter's route opt-outs (Fastify's
   * `config: { cdnOriginGuard: false }`, Nest's `@SkipOriginGuard()`) are not, so such a request
   * is checked in full here.
   */
  readonly continuePathRules?: boolean;
}

/** One registration's hold on a guard: its request paths and whether it routes `'checkContinue'`. */
interface Hold {
  readonly requestPaths: readonly string[];
  readonly continuePathRules: boolean;
}

/** What {@link UpgradeGuardOptions.requestPaths} defaults to: Socket.IO's default `path`. */
const DEFAULT_REQUEST_PATHS: readonly string[] = Object.freeze(['/socket.io']);

/** One verifier guarding a server's upgrades, with its callbacks and its deny bytes. */
interface UpgradeGuard {
  readonly verifier: OriginVerifier;
  /** The callbacks of the first registration. */
  readonly options: UpgradeGuardOptions;
  /**
   * The request paths of each registration holding it (`guardUpgrades` called again with the
   * same verifier, by two plugin scopes or modules): it stays until each has removed it.
   */
  readonly holds: Hold[];
  /** Every path prefix of its holds: the ordinary requests it checks. */
  requestPaths: readonly string[];
  /** Whether every hold sets `continuePathRules`: the path rules apply to `'checkContinue'`. */
  continuePathRules: boolean;
  /** Holds that disagree on `continuePathRules` were reported (once). */
  reportedDisagreement: boolean;
  /** The raw HTTP/1.1 deny response, built once (its `Date` line added as it is written). */
  readonly deny: RawDeny;
  /** Callbacks that threw and were reported (each once). */
  readonly reported: Set<'onDecision' | 'onError'>;
}

/** A server's guards, run in the order they were added, and how to restore its `emit`. */
interface ServerGuards {
  readonly guards: UpgradeGuard[];
  /** The guards with request paths, as the wrapper reads them (replaced on every change). */
  readonly routes: { guards: readonly UpgradeGuard[] };
  readonly wrapper: UpgradeServer['emit'];
  readonly original: UpgradeServer['emit'];
  /** Whether `emit` was the server's own property before the wrap (else the prototype's). */
  readonly ownEmit: boolean;
}

/** The guards of each server: one `emit` wrapper per server, whatever the number of guards. */
const guarded = new WeakMap<object, ServerGuards>();

/** The deny response as raw HTTP/1.1, in two parts around the `Date` line written with it. */
interface RawDeny {
  /** The status line, the deny's headers in their order, `connection: close`. */
  readonly head: Buffer;
  /** The blank line and the body. */
  readonly tail: Buffer;
  /** The blank line alone: the tail of a `HEAD` request's deny. */
  readonly headTail: Buffer;
}

/**
 * The deny response as raw HTTP/1.1: the status line Node's server writes, the deny response's
 * headers in their order, `connection: close`, then the body. Status, headers and body are
 * those every adapter sends for an ordinary request; {@link rawDenyBytes} adds the `Date` line
 * Node adds to those (where Node puts it).
 */
function rawDenyResponse(deny: DenyResponse): RawDeny {
  let head = `HTTP/1.1 ${deny.status} ${reasonPhrase(deny.status)}\r\n`;
  for (const [name, value] of Object.entries(deny.headers)) head += `${name}: ${value}\r\n`;
  head += 'connection: close\r\n';
  return {
    head: Buffer.from(head, 'latin1'),
    tail: Buffer.concat([Buffer.from('\r\n', 'latin1'), Buffer.from(deny.body, 'utf8')]),
    headTail: Buffer.from('\r\n', 'latin1'),
  };
}

/**
 * The bytes of the deny, with a `Date` line as Node writes one on every response: without it a
 * denied handshake's answer told a bot that a WebSocket listener was there (an ordinary request
 * to the same server gets Node's `Date`; outside review, eleventh session, Nit).
 */
function rawDenyBytes(raw: RawDeny, method: string | undefined): Buffer {
  return Buffer.concat([
    raw.head,
    Buffer.from(`Date: ${new Date().toUTCString()}\r\n`, 'latin1'),
    // A `HEAD` request's: the headers without the body, as Node writes any response to `HEAD`
    // (the body told a bot a WebSocket listener was there; outside review, thirteenth session).
    method === 'HEAD' ? raw.headTail : raw.tail,
  ]);
}

function ignoreError(): void {
  // A client that resets the connection while the deny is written: nothing to do, and with no
  // 'error' listener (Node removes its own before emitting 'upgrade') the process would crash.
}

/** An HTTP/2 server's compat response: its `'connect'` event passes one, not a socket. */
interface CompatResponse {
  writeHead(status: number, headers: Readonly<Record<string, string>>): { end(body: string): void };
}

/**
 * Write the deny on what the event passed: the uniform response on an HTTP/2 compat response
 * (an h2 CONNECT: raw HTTP/1.1 bytes there were a 200 whose body was the deny's text, outside
 * review, 4 December), else the deny bytes on the socket, destroyed once they are flushed.
 */
function denyOn(
  socket: Duplex | CompatResponse | undefined,
  raw: RawDeny,
  deny: DenyResponse,
  method: string | undefined,
): void {
  if (socket === undefined || socket === null) return;
  if (typeof (socket as CompatResponse).writeHead === 'function') {
    // An ordinary request's response (request paths), or an h2 CONNECT's: the adapters' deny.
    writeDenyResponse(socket as unknown as DenyTarget, deny);
    return;
  }
  const stream = socket as Duplex;
  stream.on('error', ignoreError);
  if (!stream.writable) {
    stream.destroy();
    return;
  }
  stream.end(rawDenyBytes(raw, method), () => stream.destroy());
}

/** Call one of a guard's callbacks; a throw or rejection is reported once, never thrown. */
function callBack(guard: UpgradeGuard, kind: 'onDecision' | 'onError', call: () => unknown): void {
  const report = (error: unknown) => {
    if (guard.reported.has(kind)) return;
    guard.reported.add(kind);
    warnCallbackThrew(`guardUpgrades ${kind}`, error);
  };
  try {
    handleRejection(call(), report);
  } catch (error) {
    report(error);
  }
}

/** The guard failed (the verifier threw): report it through `onError` or a process warning. */
function reportFailure(guard: UpgradeGuard, error: unknown, req: UpgradeRequest): void {
  const onError = guard.options.onError;
  if (onError !== undefined) {
    callBack(guard, 'onError', () => onError(error, req));
    return;
  }
  process.emitWarning(
    guardFailureLogLine(errorText(error), { method: req.method, path: req.url }),
    {
      code: 'CDN_ORIGIN_GUARD_UPGRADE_FAILED',
    },
  );
}

/**
 * What the verifier reads of a request checked on the server. No path unless `routed`:
 * `excludePaths` and `healthCheckPaths` name paths a framework routes, and the listeners of a
 * handshake, a CONNECT or an engine.io request do not route by the path the rules saw (a `ws`
 * server without a `path`, an `'upgrade'` listener calling `handleUpgrade`, a Socket.IO engine on
 * `/` answer any target), so an exclusion meant for `/robots.txt` opened them all to a bot
 * (outside review, 8th session). `routed`: a request Node handed to `'checkContinue'`, when the
 * guard's registrations say their listener hands it on to the app that routes it
 * (`continuePathRules`: an excluded webhook that sends `Expect: 100-continue`). Not by default:
 * a listener answering by itself ran for a bot on an excluded path (review, eleventh session).
 */
function inputOf(req: UpgradeRequest, routed: boolean): VerifyInput {
  return {
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    remoteAddress: req.socket?.remoteAddress,
    method: req.method,
    path: routed ? req.url : undefined,
  };
}

/** The verifier threw (a bug): fail closed with the uniform response, and report it. */
function failed(guard: UpgradeGuard, error: unknown, req: UpgradeRequest, socket: Duplex): false {
  reportFailure(guard, error, req);
  denyOn(socket, guard.deny, guard.verifier.denyResponse, req.method);
  return false;
}

/**
 * One guard's decision: recorded on the request and passed to `onDecision`; a deny is written
 * on the socket. Returns whether the request may go on.
 */
function conclude(
  guard: UpgradeGuard,
  decision: Decision,
  req: UpgradeRequest,
  socket: Duplex,
): boolean {
  recordDecision(req, decision);
  const onDecision = guard.options.onDecision;
  if (onDecision !== undefined) callBack(guard, 'onDecision', () => onDecision(decision, req));
  if (decision.allowed) return true;
  denyOn(socket, guard.deny, guard.verifier.denyResponse, req.method);
  return false;
}

/**
 * Decide on one upgrade request with every guard of the server, in order, with `check()` as an
 * adapter decides on an ordinary request. Returns whether it may go on to the listeners (when
 * not, the deny has been written and the socket is closing), synchronously in the usual case.
 * A promise of it only when `check()` waits: the sources' first load is in flight, or the
 * secret alone matched nothing and a rate-limited re-read may pick up a rotation (a handshake
 * decided at once denied CloudFront's new value until some ordinary request or the scheduled
 * refresh re-read it: an app whose traffic is all WebSockets lost them for up to `refreshMs`,
 * outside review, 4 December).
 */
function admit(
  guards: readonly UpgradeGuard[],
  req: UpgradeRequest,
  socket: Duplex,
  continued: boolean,
): boolean | Promise<boolean> {
  for (let at = 0; at < guards.length; at++) {
    const guard = guards[at] as UpgradeGuard;
    let outcome: Decision | Promise<Decision>;
    try {
      outcome = guard.verifier.check(inputOf(req, continued && guard.continuePathRules));
      if (!(outcome instanceof Promise)) {
        if (conclude(guard, outcome, req, socket)) continue;
        return false;
      }
    } catch (error) {
      return failed(guard, error, req, socket);
    }
    // The guards after this one, as they are now: one removed while this waits still decides.
    const rest = guards.slice(at + 1);
    return outcome
      .then((decision) => conclude(guard, decision, req, socket))
      .then(
        (allowed) => allowed && admit(rest, req, socket, continued),
        (error: unknown) => failed(guard, error, req, socket),
      );
  }
  return true;
}

/**
 * Pass an upgrade on once `admitted` says so. Meanwhile the socket is left unread: Node stops
 * reading it before it emits the upgrade (`readableFlowing = null`), so what the client sent
 * after the handshake waits in its buffer for the listener, as it does while `ws` awaits an
 * async `verifyClient`. Node no longer owns that socket (no parser, no timeout, not among the
 * server's connections), so this does, until a listener takes it:
 * - an error on it meanwhile (a reset) is absorbed, and a socket that closed, or whose client
 *   ended its side (a listener such as `ws` then drops it without an answer), is destroyed, not
 *   passed on;
 * - a socket no listener took (the `'upgrade'` listener was removed during the wait, as
 *   `WebSocketServer.close()` does at shutdown) is destroyed, or else it stayed open for as
 *   long as the client kept it and `server.close()` never completed (review, 4 December, fifth
 *   session); an HTTP/2 CONNECT no listener took gets the 405 Node gives it (an ordinary request
 *   of `requestPaths` goes on as Node leaves it);
 * - a listener's throw stays an uncaught exception, as it is on the synchronous path.
 */
function emitWhenAdmitted(
  admitted: Promise<boolean>,
  emit: () => boolean,
  socket: unknown,
  event: string,
): void {
  const compat =
    typeof (socket as CompatResponse | undefined)?.writeHead === 'function'
      ? (socket as CompatResponse & { statusCode: number; end(): void })
      : undefined;
  const stream =
    compat === undefined &&
    typeof (socket as Duplex | undefined)?.on === 'function' &&
    typeof (socket as Duplex).destroyed === 'boolean'
      ? (socket as Duplex)
      : undefined;
  let gone = false;
  const leave = () => {
    gone = true;
  };
  stream?.on('error', ignoreError);
  stream?.once('end', leave);
  stream?.once('close', leave);
  const pass = (allowed: boolean) => {
    stream?.off('end', leave);
    stream?.off('close', leave);
    if (!allowed) {
      stream?.off('error', ignoreError);
      return; // the deny was written
    }
    if (gone || stream?.destroyed === true) {
      stream?.destroy();
      return;
    }
    stream?.off('error', ignoreError);
    let taken: boolean;
    try {
      taken = emit();
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
      return;
    }
    if (taken) return;
    if (compat !== undefined) {
      if (event !== 'connect') return; // a request no listener takes: as Node leaves it
      compat.statusCode = 405;
      compat.end();
      return;
    }
    stream?.on('error', ignoreError);
    stream?.destroy();
  };
  admitted.then(pass, (error: unknown) => {
    // Not reachable by design (every failure of a guard is a deny); fail closed all the same.
    stream?.destroy();
    process.emitWarning(`cdn-origin-guard: an upgrade request was dropped (${errorText(error)})`, {
      code: 'CDN_ORIGIN_GUARD_UPGRADE_FAILED',
    });
  });
}

/**
 * Whether `target`'s query string has a `transport` parameter, read as engine.io reads it
 * (`new URL(req.url, base).searchParams`: names percent-decoded, tabs and newlines dropped).
 * engine.io acts on nothing else: without a known `transport` it answers "Transport unknown"
 * and opens no session. A target the URL parser refuses counts as having one (fail closed).
 * Cheap for the usual request: the URL is parsed only when its query could spell the name
 * (see {@link couldSpellTransport}).
 */
export function namesEngineTransport(target: string): boolean {
  const query = target.indexOf('?');
  if (query === -1 || !couldSpellTransport(target, query)) return false;
  try {
    return new URL(target, 'https://socket.io').searchParams.has('transport');
  } catch {
    return true;
  }
}

/**
 * What a query needs to hold to spell the name `transport`: the name itself, an escape of one of
 * its letters (`%61` `a`, `%6E` `n`, `%6F` `o`, `%70` `p`, `%72` `r`, `%73` `s`, `%74` `t`; hex
 * digits in either case), or a tab, CR or LF (which the URL parser drops; Node's HTTP parser
 * refuses them in a target, which the check does not rely on). A query escaping other characters
 * (`?q=caf%C3%A9`) is not parsed.
 */
const COULD_SPELL_TRANSPORT = /transport|%(?:7[0234]|6[1EeFf])|[\t\n\r]/g;

/** Whether `text` from `from` on could spell the name `transport` ({@link COULD_SPELL_TRANSPORT}). */
function couldSpellTransport(text: string, from: number): boolean {
  COULD_SPELL_TRANSPORT.lastIndex = from;
  return COULD_SPELL_TRANSPORT.test(text);
}

/**
 * The guards that check `target` on the server: those one of whose request paths it starts
 * with (engine.io's own match), else, when it names an engine.io transport
 * ({@link namesEngineTransport}), every guard that checks requests at all. So a Socket.IO
 * engine under a path nobody gave (set in a Nest `IoAdapter`, or attached after the Express
 * middleware's first request) still opens no session for a bot (outside review, 4 December,
 * seventh session: both opened one).
 */
function guardsForTarget(
  guards: readonly UpgradeGuard[],
  target: string | undefined,
): UpgradeGuard[] | undefined {
  if (typeof target !== 'string') return undefined;
  let found: UpgradeGuard[] | undefined;
  for (const guard of guards)
    for (const prefix of guard.requestPaths)
      if (target.startsWith(prefix)) {
        found ??= [];
        found.push(guard);
        break;
      }
  if (found === undefined && namesEngineTransport(target)) return guards.slice();
  return found;
}

/** The server's guards with request paths, as the wrapper reads them. */
function refreshRoutes(state: ServerGuards): void {
  state.routes.guards = state.guards.filter((held) => held.requestPaths.length > 0);
}

/** A guard's request paths after its holds changed. */
function updateRoutes(state: ServerGuards, guard: UpgradeGuard): void {
  guard.requestPaths = [...new Set(guard.holds.flatMap((hold) => hold.requestPaths))];
  guard.continuePathRules =
    guard.holds.length > 0 && guard.holds.every((hold) => hold.continuePathRules);
  refreshRoutes(state);
}

/** Wrap the server's `emit` once; later guards join the same wrapper. */
function serverGuards(server: UpgradeServer): ServerGuards {
  const existing = guarded.get(server);
  if (existing !== undefined) return existing;
  const original = server.emit;
  const guards: UpgradeGuard[] = [];
  const routes: ServerGuards['routes'] = { guards: [] };
  // `arguments` passed through as they came: no array is built for the events that are not
  // `'upgrade'` (every `'request'` and `'connection'` of the server goes through here).
  function cdnOriginGuardUpgradeEmit(
    this: unknown,
    event: string | symbol,
    req?: unknown,
    socket?: unknown,
  ): boolean {
    // `'connect'` too: Node hands a CONNECT request to the server's `'connect'` listeners (a
    // proxy), past the request listener, as it hands an upgrade to its `'upgrade'` listeners.
    // And `'checkContinue'` / `'checkExpectation'` (a request with `Expect:`), which Node emits
    // instead of `'request'` when the app listens to them (outside review, 8th session: app
    // code ran for a bot, and a bot was told `100 Continue`); the deny goes on their response.
    // An ordinary request under a request path (Socket.IO's long-polling): checked here too,
    // since the listener answering it may come before the framework.
    // A copy of the guards: a callback removing one while the request is decided must not make
    // the loop skip the next (review, 4 December, fifth session).
    const checking =
      event === 'upgrade' ||
      event === 'connect' ||
      event === 'checkContinue' ||
      event === 'checkExpectation'
        ? guards.slice()
        : event === 'request' && routes.guards.length > 0
          ? guardsForTarget(routes.guards, (req as UpgradeRequest | undefined)?.url)
          : undefined;
    if (checking !== undefined && checking.length > 0) {
      const admitted = admit(
        checking,
        req as UpgradeRequest,
        socket as Duplex,
        event === 'checkContinue',
      );
      if (admitted === false) return true;
      if (admitted !== true) {
        // biome-ignore lint/complexity/noArguments: the event's arguments, kept for later
        const args = Array.prototype.slice.call(arguments);
        emitWhenAdmitted(
          admitted,
          () => Reflect.apply(original, this, args) as boolean,
          socket,
          event as string,
        );
        return true;
      }
    }
    // biome-ignore lint/complexity/noArguments: forwards every argument of every event, allocation-free
    return Reflect.apply(original, this, arguments);
  }
  const state: ServerGuards = {
    guards,
    routes,
    wrapper: cdnOriginGuardUpgradeEmit,
    original,
    ownEmit: Object.hasOwn(server, 'emit'),
  };
  server.emit = cdnOriginGuardUpgradeEmit;
  guarded.set(server, state);
  return state;
}

/**
 * The listeners on `server` that answer requests before a framework does, and that
 * {@link guardUpgrades} checks: `'upgrade'` (WebSocket handshakes), `'connect'`,
 * `'checkContinue'` / `'checkExpectation'` (requests with an `Expect` header) and, given the
 * framework's own `'request'` listener, any other `'request'` listener (Socket.IO's engine, which
 * answers its long-polling requests before the framework and, polling only, has no `'upgrade'`
 * listener to show it), each named in words for a log line. What an adapter that finds a server
 * nobody guarded says was exposed.
 *
 * @param server - anything with `listenerCount` (an `EventEmitter`; `listeners` too for `app`).
 * @param app - the framework's own `'request'` listener (`EXPRESS_APP` for an Express
 *   app); without it, `'request'` listeners are not looked at.
 * @returns the kinds of such listeners `server` has, in that order; `[]` for none.
 * @example
 * ```ts
 * import { EXPRESS_APP, listenersBeforeFramework } from '@cdn-origin-guard/core';
 * server.on('upgrade', onUpgrade);
 * listenersBeforeFramework(server, EXPRESS_APP); // ["'upgrade' listeners (WebSocket handshakes)"]
 * ```
 */
export function listenersBeforeFramework(
  server: {
    listenerCount(event: string): number;
    listeners?(event: string): unknown[];
  },
  app?: AppListener,
): string[] {
  const kinds: string[] = [];
  if (server.listenerCount('upgrade') > 0) kinds.push("'upgrade' listeners (WebSocket handshakes)");
  if (server.listenerCount('connect') > 0) kinds.push("'connect' listeners (CONNECT requests)");
  for (const event of ['checkContinue', 'checkExpectation'])
    if (server.listenerCount(event) > 0)
      kinds.push(`'${event}' listeners (requests with an Expect header)`);
  if (
    app !== undefined &&
    typeof server.listeners === 'function' &&
    server.listeners('request').some((listener) => !app.is(listener))
  )
    kinds.push(`a 'request' listener that is not ${app.name} (Socket.IO's engine)`);
  return kinds;
}

/**
 * Whether `verifier` (or, without one, any verifier) already checks the upgrade requests of
 * `server` ({@link guardUpgrades} was called with both, and its remover has not run): how an
 * adapter that meets the server only through its requests (the Express middleware) tells
 * whether the app called it.
 *
 * @param server - any object (a server, or anything else: then `false`).
 * @param verifier - the verifier to look for; any when left out.
 */
export function isGuardingUpgrades(server: unknown, verifier?: OriginVerifier): boolean {
  if ((typeof server !== 'object' && typeof server !== 'function') || server === null) return false;
  const guards = guarded.get(server)?.guards;
  if (guards === undefined) return false;
  return verifier === undefined ? guards.length > 0 : guards.some((g) => g.verifier === verifier);
}

/**
 * Whether `server` is a server: an Express app has an `emit` too, but no `address()`, and Node
 * never emits `'upgrade'` on it, so guarding it would guard nothing, silently (outside review,
 * 4 December, fifth session).
 */
function isServer(server: unknown): server is UpgradeServer {
  if ((typeof server !== 'object' && typeof server !== 'function') || server === null) return false;
  const candidate = server as Partial<Record<keyof UpgradeServer, unknown>>;
  return (
    typeof candidate.emit === 'function' &&
    typeof candidate.listen === 'function' &&
    typeof candidate.address === 'function'
  );
}

/** Why `server` is not one, and the fix. */
function notAServer(server: unknown): string {
  if (server === null || (typeof server !== 'object' && typeof server !== 'function'))
    return `is ${server === null ? 'null' : typeof server}; pass the http.Server or https.Server (what app.listen() returns).`;
  if (typeof (server as { emit?: unknown }).emit === 'function')
    return "is not a server (no listen() and address(): an Express app?); Node emits 'upgrade' on the server, so pass the http.Server that app.listen() returns.";
  return 'has no emit(); pass the http.Server or https.Server (what app.listen() returns).';
}

function checkedOptions(options: unknown): UpgradeGuardOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError(
      'guardUpgrades(options)',
      'is not an object; pass { onDecision, onError, requestPaths, continuePathRules } or leave it out.',
    );
  const own = options as Record<string, unknown>;
  for (const key of Object.keys(own)) {
    if (key === 'requestPaths') continue;
    if (key === 'continuePathRules') {
      checkContinuePathRules(own[key]);
      continue;
    }
    if (key !== 'onDecision' && key !== 'onError')
      throw new InvalidOptionError(
        key,
        'is not an option of guardUpgrades; use onDecision, onError, requestPaths and continuePathRules.',
      );
    if (own[key] !== undefined && typeof own[key] !== 'function')
      throw new InvalidOptionError(
        key,
        `is ${typeof own[key]}; expected a function (decision or error, req).`,
      );
  }
  // A copy of the own properties: never read later from a caller's object that may change, and
  // never from its prototype (a polluted `Object.prototype.continuePathRules` turned the path
  // rules on for every guard; review, eleventh session).
  const mine = (key: keyof UpgradeGuardOptions): unknown =>
    Object.hasOwn(own, key) ? own[key] : undefined;
  return {
    onDecision: mine('onDecision') as UpgradeGuardOptions['onDecision'],
    onError: mine('onError') as UpgradeGuardOptions['onError'],
    requestPaths: validRequestPaths(mine('requestPaths')),
    continuePathRules: mine('continuePathRules') === true,
  };
}

/**
 * A `continuePathRules` option (see {@link UpgradeGuardOptions.continuePathRules}), checked as
 * {@link guardUpgrades} checks it, for an adapter that takes it among its own options and fails
 * at construction.
 *
 * @param value - the option as given: `true`, `false` or `undefined`.
 * @returns the value, `undefined` left as it is.
 * @throws {@link InvalidOptionError} naming `continuePathRules` and the fix.
 * @example
 * ```ts
 * checkContinuePathRules(true); // true
 * checkContinuePathRules('yes'); // throws: continuePathRules is string; expected true or false
 * ```
 */
export function checkContinuePathRules(value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidOptionError(
    'continuePathRules',
    `is ${value === null ? 'null' : typeof value}; expected true (your 'checkContinue' listener hands every request to the app, which routes it) or false.`,
  );
}

/**
 * A `requestPaths` option (see {@link UpgradeGuardOptions.requestPaths}), checked as
 * {@link guardUpgrades} checks it: path prefixes, each starting with `/`, without `?`, `#` or
 * spaces; `undefined` gives the default, `['/socket.io']`. Trailing `/`s are cut (`'/'` kept): a
 * Socket.IO `path` given as `/live/` missed `/live?EIO=4…`, which engine.io answers with
 * `addTrailingSlash: false` (review, 4 December, sixth session). For an adapter that takes the
 * option from its user, so that a bad value is an error when the app is built, naming the
 * option and the fix.
 *
 * @param value - the option as given.
 * @returns the prefixes (a frozen array).
 * @throws {@link InvalidOptionError} naming `requestPaths` (or the bad entry) and the fix.
 * @example
 * ```ts
 * checkRequestPaths(['/live']); // ['/live']
 * checkRequestPaths('/live'); // throws: requestPaths is string; expected an array ...
 * ```
 */
export function checkRequestPaths(value: unknown): readonly string[] {
  const paths = validRequestPaths(value);
  if (paths === DEFAULT_REQUEST_PATHS) return paths;
  return Object.freeze(
    paths.map((path) => (path.length > 1 ? path.replace(/\/+$/, '') || '/' : path)),
  );
}

/** `requestPaths` as given, checked (trailing `/`s kept: the Nest module adds `/live/` itself). */
function validRequestPaths(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_REQUEST_PATHS;
  if (!Array.isArray(value))
    throw new InvalidOptionError(
      'requestPaths',
      `is ${value === null ? 'null' : typeof value}; expected an array of path prefixes such as ['/socket.io'].`,
    );
  return Object.freeze(
    value.map((path: unknown, i) => {
      if (
        typeof path !== 'string' ||
        !path.startsWith('/') ||
        /[?#\s]/.test(path) ||
        path.length > 1024
      )
        throw new InvalidOptionError(
          `requestPaths[${i}]`,
          `is ${typeof path === 'string' ? JSON.stringify(path.slice(0, 40)) : typeof path}; expected a path prefix starting with '/' (no '?', '#' or spaces), such as '/socket.io'.`,
        );
      return path;
    }),
  );
}

/**
 * Check every HTTP upgrade request (`Connection: Upgrade`: a WebSocket handshake) of `server`
 * with `verifier` before any `'upgrade'` listener sees it, whenever the listeners were added
 * (`ws`'s `WebSocketServer({ server })`, Socket.IO, your own `server.on('upgrade')`). Node
 * emits such a request as the server's `'upgrade'` event, not as `'request'`, so framework
 * middleware and hooks never see it.
 *
 * It wraps `server.emit` for the `'upgrade'` event (and `'connect'`: a CONNECT request goes to
 * the `'connect'` listeners the same way, past the request listener; `'checkContinue'` and
 * `'checkExpectation'`, which replace `'request'` for a request with an `Expect` header when the
 * app listens to them; and `'request'` under `requestPaths`: Socket.IO's long-polling), the
 * other events pass through untouched. The verifier's `excludePaths` and `healthCheckPaths` do
 * not apply to handshakes, CONNECT and `requestPaths` / `transport` requests: the listeners
 * answering them do not route by path (a `ws` server without a `path` takes a handshake for any
 * target), so a path the rules exempt would exempt them all. Nor, by default, to `Expect`
 * requests: a `'checkExpectation'` listener answers them itself, and a `'checkContinue'` one
 * may too; set `continuePathRules` when your `'checkContinue'` listener hands every request on
 * to the app that routes it. An
 * upgrade request the verifier allows
 * (in report mode too) gets the decision recorded (`req.cdnOriginGuard`, as in an Express
 * handler) and goes on to the listeners; one it denies, or one met while the verifier throws or
 * cannot load its sources (it denies with `secret-unavailable` / `ranges-unavailable` once a
 * first load failed), gets the
 * verifier's uniform deny response (status, headers and body, plus `connection: close`) as raw
 * HTTP/1.1 on its socket, which is then closed: no listener is called. Decided with the
 * verifier's `check()`, as adapters decide on an ordinary request: synchronously, except while
 * the sources first load or when the secret alone matched nothing and a rate-limited re-read may
 * pick up a rotation; then the upgrade goes on (or is denied) once that is done, the socket left
 * unread meanwhile, so no byte the client sent after the handshake is lost.
 *
 * Guarding a server again with the same verifier adds no second check (the first call's
 * callbacks stay), and the check stays until every call's remover has run; with another
 * verifier, an upgrade must pass both (in the order they were added). Returns a function that
 * removes this call's guard (and the wrapper, with the last guard of the server); calling it
 * again does nothing.
 *
 * The adapters call it for you: Fastify's plugin on `fastify.server`, Nest's module on the HTTP
 * server; with Express call the Express package's `guardUpgrades(server, guard)`.
 *
 * @param server - a Node `http.Server`, `https.Server` or `http2` server: the server, not an
 * Express app (refused: Node never emits `'upgrade'` on it).
 * @param verifier - the verifier (`createOriginVerifier(...)`).
 * @param options - callbacks to log decisions and failures, `requestPaths` and
 * `continuePathRules`.
 * @returns a function that stops guarding the server's upgrades with this verifier.
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { WebSocketServer } from 'ws';
 * import { createOriginVerifier, decisionLogLine, guardUpgrades } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * await verifier.ready();
 * const server = createServer(handler);
 * guardUpgrades(server, verifier, {
 *   onDecision: (decision, req) => {
 *     if (!decision.allowed) console.warn(decisionLogLine(decision, { method: req.method, path: req.url }));
 *   },
 * });
 * new WebSocketServer({ server }); // a bot's handshake gets 403 and never reaches it
 * server.listen(3000);
 * ```
 */
export function guardUpgrades(
  server: UpgradeServer,
  verifier: OriginVerifier,
  options?: Readonly<UpgradeGuardOptions>,
): () => void {
  if (!isServer(server)) throw new InvalidOptionError('guardUpgrades(server)', notAServer(server));
  if (!isOriginVerifier(verifier))
    throw new InvalidOptionError(
      'guardUpgrades(verifier)',
      'is not an OriginVerifier; pass the one createOriginVerifier(...) returned.',
    );
  const resolved = checkedOptions(options);
  const state = serverGuards(server);
  let guard = state.guards.find((held) => held.verifier === verifier);
  if (guard === undefined) {
    guard = {
      verifier,
      options: resolved,
      deny: rawDenyResponse(verifier.denyResponse),
      reported: new Set(),
      holds: [],
      requestPaths: [],
      continuePathRules: false,
      reportedDisagreement: false,
    };
    state.guards.push(guard);
  }
  // Each call holds the guard, with its own request paths (a second call adds its paths to
  // the first's), and removes its own hold once: a second registration sharing the verifier
  // (two plugin scopes on one server) closing first must not unguard the other (outside
  // review, 4 December, fifth session).
  const hold: Hold = {
    requestPaths: resolved.requestPaths ?? DEFAULT_REQUEST_PATHS,
    continuePathRules: resolved.continuePathRules === true,
  };
  // Registrations that disagree turn the path rules off for `'checkContinue'`: say so, once per
  // guard, rather than deny an excluded webhook with no word why (review, eleventh session).
  if (
    !guard.reportedDisagreement &&
    guard.holds.some((held) => held.continuePathRules !== hold.continuePathRules)
  ) {
    guard.reportedDisagreement = true;
    process.emitWarning(
      "cdn-origin-guard: guardUpgrades was called on one server with the same verifier both with and without continuePathRules; the path rules apply to 'checkContinue' requests only while every call sets it, so they do not now. Set it the same way in every call (the Express middleware's own call, made when it finds the server unguarded at its first request, does not set it: call guardUpgrades yourself right after app.listen()).",
      { code: 'CDN_ORIGIN_GUARD_CONTINUE_PATH_RULES' },
    );
  }
  guard.holds.push(hold);
  updateRoutes(state, guard);
  const held = guard;
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    held.holds.splice(held.holds.indexOf(hold), 1);
    updateRoutes(state, held);
    if (held.holds.length > 0) return;
    const at = state.guards.indexOf(held);
    if (at < 0) return;
    state.guards.splice(at, 1);
    refreshRoutes(state);
    // The last guard: restore `emit`, unless someone wrapped it after us (then our wrapper stays,
    // passing every event through, and a later guard joins it).
    if (state.guards.length > 0 || server.emit !== state.wrapper) return;
    if (state.ownEmit) server.emit = state.original;
    else delete (server as { emit?: unknown }).emit;
    guarded.delete(server);
  };
}

/**
 * `CdnOriginGuard`: translates a Nest request (Express or Fastify platform, or GraphQL over
 * HTTP) into the core's input and a deny decision into {@link OriginDeniedException}.
 * @module
 */
import { IncomingMessage } from 'node:http';
import {
  type Decision,
  type DenyResponse,
  decisionLogLine,
  guardFailureLogLine,
  loggerCaller,
  type OriginVerifier,
  pathUnderMount,
  recordDecision,
  type ServerWatch,
  type VerifyInput,
} from '@cdn-origin-guard/core';
import {
  type CanActivate,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  Logger,
  Optional,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import parseurl from 'parseurl';
import {
  CDN_ORIGIN_GUARD_VERIFIER,
  CDN_ORIGIN_GUARD_WIRING,
  ORIGIN_GUARD_RULE,
  type OriginGuardRule,
} from './constants.js';
import { denyHeld, releaseHold } from './hold.js';
import { serverOf, serverWatchOf } from './servers.js';

declare global {
  namespace Express {
    interface Request {
      /** The cdn-origin-guard decision for this request (set by the module's middleware or guard). */
      cdnOriginGuard?: Decision;
    }
  }
}

/**
 * The request as handlers see it once the guard ran: `request.cdnOriginGuard` holds the
 * decision (`undefined` on routes where the guard was skipped or not applied).
 *
 * @example
 * ```ts
 * import { Controller, Get, Req } from '@nestjs/common';
 * import type { OriginGuardRequest } from '@cdn-origin-guard/nestjs';
 *
 * @Controller()
 * export class AppController {
 *   @Get() root(@Req() req: OriginGuardRequest) { return { allowed: req.cdnOriginGuard?.allowed }; }
 * }
 * ```
 */
export interface OriginGuardRequest {
  /** The cdn-origin-guard decision for this request. */
  cdnOriginGuard?: Decision | undefined;
}

/**
 * Thrown by {@link CdnOriginGuard} on a deny; nothing has been written yet. It is an ordinary
 * `HttpException` with the deny response's status and body (the same for every reason), so any
 * exception filter can answer it, including Nest's documented `AllExceptionsFilter`. The
 * module's own filter writes it as the exact uniform deny response (`denyResponse` below) when
 * no filter of yours catches it first.
 *
 * @example
 * ```ts
 * import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
 * import { OriginDeniedException } from '@cdn-origin-guard/nestjs';
 *
 * @Catch(OriginDeniedException)
 * export class DenyFilter implements ExceptionFilter {
 *   catch(error: OriginDeniedException, host: ArgumentsHost) {
 *     const { status, headers, body } = error.denyResponse;
 *     host.switchToHttp().getResponse().status(status).set(headers).send(body);
 *   }
 * }
 * ```
 */
export class OriginDeniedException extends HttpException {
  /** The uniform deny response (status, headers, body) to write. */
  readonly denyResponse: DenyResponse;
  constructor(denyResponse: DenyResponse) {
    super(denyResponse.body, denyResponse.status);
    this.name = 'OriginDeniedException';
    this.denyResponse = denyResponse;
  }
}

/** Express's request is an `IncomingMessage`; Fastify's wraps one in `raw`. */
type PlatformRequest = OriginGuardRequest &
  (
    | (IncomingMessage & { originalUrl?: string; raw?: undefined })
    | { raw: IncomingMessage; originalUrl?: string }
  );

/**
 * The "already allowed" mark: the decision this module allowed a request with, and by which
 * verifier (the all-paths check, then the guard; or a global guard plus
 * `@RequireOriginGuard()`), so the guard does not decide twice. The verifier and the path go on
 * the decision (symbol-keyed: a fresh object of a stable shape, where adding them costs nothing
 * measurable); the decision goes, under a registered symbol, on the request's `rawHeaders` array
 * rather than on the request. Under Express the request's prototype was changed, and on the V8
 * of Node 20 and 22 each request then has a hidden class of its own, so every property read on
 * it misses the inline caches: reading the mark back through `req.cdnOriginGuard` (an accessor
 * there, see the core's `recordDecision`) and `request.raw` cost the guard about 2 µs a request
 * in place (`BENCH_FRAMEWORKS=nest npm run bench:in-place`, bench/RESULTS.md section 12), where
 * the parser's array has the same hidden class on every request. A request without a
 * `rawHeaders` array carries the mark itself. Nothing on the wire can set a symbol-keyed
 * property, and a request whose mark is missing (an app replaced `rawHeaders`) or is another
 * verifier's is simply checked again. Not a WeakMap: one entry per request makes every garbage
 * collection walk a table of short-lived keys.
 */
const ALLOWED = Symbol.for('@cdn-origin-guard/nestjs-allowed');
const ALLOWED_BY = Symbol.for('@cdn-origin-guard/nestjs-allowed-by');
/**
 * The path an allow depended on (a health check or an exclusion), when it did: a later check
 * trusts that allow only for the same path (something between them may have rewritten the URL
 * and routed the request elsewhere). Absent for a verified request, whose allow holds anywhere.
 */
const ALLOWED_FOR_PATH = Symbol.for('@cdn-origin-guard/nestjs-allowed-for-path');
type MarkedDecision = Decision & {
  [ALLOWED_BY]?: OriginVerifier;
  [ALLOWED_FOR_PATH]?: string | undefined;
};
/** What carries the mark: the request's `rawHeaders` array, else the request. */
type MarkCarrier = { [ALLOWED]?: MarkedDecision | undefined };

/**
 * Where the mark of `raw` is kept; `rawHeaders` when the caller already read it (one read of
 * the request fewer).
 */
function markCarrier(raw: IncomingMessage, rawHeaders: unknown = raw.rawHeaders): MarkCarrier {
  return Array.isArray(rawHeaders) ? (rawHeaders as MarkCarrier) : (raw as MarkCarrier);
}

/**
 * Where a check runs, which decides which of the request's URL fields holds the target the
 * platform routes on: the all-paths check on the platform itself (an Express `app.use`
 * function, a Fastify `onRequest` hook), the same check as a Nest middleware, or the guard.
 */
export type CheckSite = 'platform' | 'middleware' | 'guard';

/**
 * The core's input for a Node request, checked at `site`. The path is the one the platform
 * routes on (see {@link routedTarget}); `onExpress` says the request is Express's when the
 * caller knows it (the platform check on Express), which saves reading `req.app`.
 */
export function toVerifyInput(
  raw: IncomingMessage & { originalUrl?: string; baseUrl?: string },
  site: CheckSite,
  onExpress = false,
): VerifyInput {
  return {
    headers: raw.headers,
    rawHeaders: raw.rawHeaders,
    remoteAddress: raw.socket?.remoteAddress, // the socket peer, never req.ip
    method: raw.method,
    path: targetAt(raw, site, onExpress),
  };
}

/** {@link routedTarget}, without reading `req.app` when the caller knows the request is Express's. */
export function targetAt(
  raw: IncomingMessage & { originalUrl?: string; baseUrl?: string },
  site: CheckSite,
  onExpress: boolean,
): string | undefined {
  return onExpress ? expressPath(raw) : routedTarget(raw, site);
}

/**
 * The target the platform routes this request on, seen from `site`, for path rules:
 * - Express: the pathname Express routes on (parseurl, as Express itself; see
 *   {@link expressPath}).
 * - Fastify, in the platform hook and the guard: `url`, the target find-my-way routed (after
 *   an app's `rewriteUrl`, which keeps the target as received in `originalUrl`). The core cuts
 *   it at `?`/`#` and never excludes one find-my-way could read another way.
 * - Fastify, in a Nest middleware: `originalUrl`, which @fastify/middie sets to the routed
 *   target before it cuts a middleware's mount path from `url`.
 */
export function routedTarget(
  raw: IncomingMessage & { originalUrl?: string; baseUrl?: string },
  site: CheckSite,
): string | undefined {
  if (typeof (raw as { app?: unknown }).app === 'function') return expressPath(raw);
  return site === 'middleware' ? (raw.originalUrl ?? raw.url) : raw.url;
}

/**
 * The pathname Express routes on (parseurl, as Express itself). Unmounted and not rewritten
 * (`originalUrl` is `url`, the usual case) that is the parse Express's router already cached
 * on the request (`parseurl(req)`), so nothing is parsed or allocated again. Under a mount
 * path (a Nest middleware) it is the original URL's path; when something before the check
 * rewrote `url`, undefined: no path rule applies (the core's `pathUnderMount`).
 */
function expressPath(
  raw: IncomingMessage & { originalUrl?: string; baseUrl?: string },
): string | undefined {
  const routed = parseurl(raw)?.pathname ?? undefined;
  if (raw.originalUrl === undefined || raw.originalUrl === raw.url) return routed;
  return pathUnderMount(parseurl.original(raw)?.pathname ?? undefined, routed, raw.baseUrl);
}

/** What the guard reads of a Socket.IO connection's handshake request (Node's, or HTTP/2's). */
interface HandshakeRequest {
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders?: string[];
  readonly url?: string;
  readonly method?: string;
  readonly socket?: { readonly remoteAddress?: string } | null;
}

/**
 * The handshake request of a Socket.IO socket (`socket.request`): `undefined` for a client that
 * has none (a `ws` WebSocket: its upgrade was checked on the server), `null` for a `request` the
 * guard cannot read (denied).
 */
function handshakeOf(client: unknown): HandshakeRequest | null | undefined {
  const request = (client as { request?: unknown } | null | undefined)?.request;
  if (request === undefined) return undefined;
  const headers = (request as { headers?: unknown } | null)?.headers;
  return typeof headers === 'object' && headers !== null ? (request as HandshakeRequest) : null;
}

/**
 * Decisions on handshake requests, by the verifier that made them: the module's server-level
 * check marks those it verified ({@link markHandshake}); the guard adds those it made itself, a
 * deny included, and a decision still pending (a `Promise` of whether it is allowed), so a bot's
 * connection is verified and logged once, not at every message (nor at every message of one
 * batch while the first check waits).
 */
const handshakeDecisions = new WeakMap<
  object,
  { verifier: OriginVerifier; allowed: boolean | Promise<boolean> }
>();

/**
 * Record that `verifier` allowed `req` on the server (an upgrade, or a polling request) because it
 * passed the checks (`verified`, or `reported` in report mode). A request allowed because of its
 * path (`excluded`, `health-check`) is not marked: a connection opened there is not verified, and
 * its messages get the full check (review, 4 December, seventh session).
 */
export function markHandshake(req: object, verifier: OriginVerifier, decision: Decision): void {
  if (decision.reason === 'verified' || decision.reason === 'reported')
    handshakeDecisions.set(req, { verifier, allowed: true });
}

/** Close a denied Socket.IO connection (`socket.disconnect(true)`); `false`, the refusal. */
function closeConnection(client: unknown): false {
  const disconnect = (client as { disconnect?: unknown } | null | undefined)?.disconnect;
  if (typeof disconnect === 'function') {
    try {
      Reflect.apply(disconnect, client, [true]);
    } catch {
      // already closed: nothing to do
    }
  }
  return false;
}

/**
 * The decision this verifier already allowed the request with, if it did: verified, or allowed
 * by a path rule for the path the request is routed on as seen from `site`.
 */
export function allowedBefore(
  raw: IncomingMessage,
  verifier: OriginVerifier,
  site: CheckSite,
): Decision | undefined {
  const decision = markCarrier(raw)[ALLOWED];
  if (decision === undefined || decision[ALLOWED_BY] !== verifier) return undefined;
  const forPath = decision[ALLOWED_FOR_PATH];
  return forPath === undefined || forPath === routedTarget(raw, site) ? decision : undefined;
}

/** Record an allowed decision on the Node request, for the guard and `@OriginDecision()`. */
export function markAllowed(
  raw: IncomingMessage,
  verifier: OriginVerifier,
  decision: Decision,
  input: VerifyInput | undefined,
): void {
  const marked = decision as MarkedDecision;
  marked[ALLOWED_BY] = verifier;
  if (decision.reason === 'excluded' || decision.reason === 'health-check')
    marked[ALLOWED_FOR_PATH] = input?.path ?? '';
  markCarrier(raw, input?.rawHeaders)[ALLOWED] = marked;
  recordDecision(raw, marked);
}

const LOG_METHOD = {
  trace: 'verbose',
  debug: 'debug',
  info: 'log',
  warn: 'warn',
  error: 'error',
} as const;

/**
 * One deny (or report-mode) line at the verifier's `logLevel`: codes and addresses, never a
 * header value. Without a decision the verifier threw (a bug): that line is at `error` and
 * names the error.
 */
export function logDecision(
  logger: Logger,
  verifier: OriginVerifier,
  decision: Decision | undefined,
  input: Pick<VerifyInput, 'method' | 'path'> | undefined,
  error?: unknown,
): void {
  const level = verifier.logLevel;
  if (level === 'silent') return;
  const where = { method: input?.method, path: input?.path };
  // The app's logger may throw (a failing transport): never a 500 or an unhandled rejection
  // instead of the deny (outside review, thirteenth session).
  const log = logCallOf(verifier);
  if (decision === undefined) log('error', () => logger.error(guardFailureLogLine(error, where)));
  else if (!decision.allowed || decision.reason === 'reported') {
    const method = LOG_METHOD[level];
    log(method, () => logger[method](decisionLogLine(decision, where)));
  }
}

const logCalls = new WeakMap<OriginVerifier, ReturnType<typeof loggerCaller>>();

/**
 * Calls the app's logger (through Nest's `Logger`) for one verifier's lines: a throw is said
 * once per verifier, never thrown.
 */
function logCallOf(verifier: OriginVerifier): ReturnType<typeof loggerCaller> {
  let log = logCalls.get(verifier);
  if (log === undefined) {
    log = loggerCaller('@cdn-origin-guard/nestjs');
    logCalls.set(verifier, log);
  }
  return log;
}

/** Where a GraphQL-over-HTTP request lives in a resolver's context (Apollo: `req`; Mercurius: `reply.request`). */
function graphqlRequest(context: ExecutionContext): PlatformRequest | undefined {
  const gql = context.getArgByIndex<
    | { req?: PlatformRequest; request?: PlatformRequest; reply?: { request?: PlatformRequest } }
    | undefined
  >(2);
  return gql?.req ?? gql?.request ?? gql?.reply?.request;
}

/**
 * The Node request of a platform's request: Express's is one (told by its class: reading the
 * absent `raw` up an Express request's prototype chain costs a cache miss on Node 20 and 22);
 * Fastify's wraps one.
 */
function nodeRequest(request: PlatformRequest): IncomingMessage {
  return request instanceof IncomingMessage
    ? request
    : (request.raw ?? (request as IncomingMessage));
}

/**
 * Nest guard (`CanActivate`) that lets a request through only when it came through your own
 * CloudFront distribution, on both the Express and the Fastify platform. Puts the decision on
 * `request.cdnOriginGuard`; on deny it logs the reason code, the offending hop, method and path
 * with Nest's `Logger` at the `logLevel` option and throws {@link OriginDeniedException}
 * (written as the uniform deny response by the module's filter). Honours `@SkipOriginGuard()` /
 * `@RequireOriginGuard()`, method over class. GraphQL over HTTP is checked on the request in
 * the GraphQL context (`req`, `request` or `reply.request`); other non-HTTP contexts (`rpc`,
 * `ws`, a GraphQL context without a request) are denied unless listed in the module's
 * `allowContextTypes` (a WebSocket's handshake is verified by the module on the HTTP server).
 * Needs `CdnOriginGuardModule` imported.
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
 *
 * // Guards every route (and every unknown path) by default.
 * @Module({ imports: [CdnOriginGuardModule.forRoot({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' })] })
 * export class AppModule {}
 * ```
 */
@Injectable()
export class CdnOriginGuard implements CanActivate {
  private readonly logger = new Logger('CdnOriginGuard');
  private readonly allowedTypes: ReadonlySet<string>;
  private readonly watch: ServerWatch;

  constructor(
    @Inject(CDN_ORIGIN_GUARD_VERIFIER) private readonly verifier: OriginVerifier,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Optional() @Inject(CDN_ORIGIN_GUARD_WIRING) wiring?: { allowContextTypes?: readonly string[] },
  ) {
    this.allowedTypes = new Set(wiring?.allowContextTypes ?? []);
    this.watch = serverWatchOf(verifier);
  }

  /**
   * `@SkipOriginGuard()` / `@RequireOriginGuard()` of a handler on a class, method over class:
   * decorators run once, when the class is defined, so the lookup is made once per handler and
   * class and cached (keyed by class, then handler: a subclass may inherit a handler and
   * decorate itself differently).
   */
  private readonly rules = new WeakMap<object, Map<unknown, OriginGuardRule | undefined>>();

  private ruleOf(context: ExecutionContext): OriginGuardRule | undefined {
    const handler = context.getHandler();
    const cls = context.getClass();
    let byHandler = this.rules.get(cls);
    if (byHandler?.has(handler)) return byHandler.get(handler);
    const rule = this.reflector.getAllAndOverride<OriginGuardRule | undefined>(ORIGIN_GUARD_RULE, [
      handler,
      cls,
    ]);
    if (typeof cls === 'function') {
      if (!byHandler) {
        byHandler = new Map();
        this.rules.set(cls, byHandler);
      }
      byHandler.set(handler, rule);
    }
    return rule;
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.ruleOf(context) === 'skip') {
      this.noteSkipped(context);
      return true;
    }
    const type = context.getType<string>();
    const request =
      type === 'http'
        ? context.getArgByIndex<PlatformRequest>(0) // the request, without switchToHttp()'s closures
        : type === 'graphql'
          ? graphqlRequest(context)
          : undefined;
    if (request === undefined) {
      // rpc, ws, or GraphQL without an HTTP request (a subscription over WebSocket): nothing to
      // verify, so nothing passes unless allowContextTypes lists the type. A context that has an
      // HTTP request is always verified, listed or not (outside review, 4 December: listing
      // 'graphql' for subscriptions let GraphQL queries over HTTP through unchecked).
      if (this.allowedTypes.has(type)) {
        if (type !== 'ws') return true;
        // A Socket.IO message: its connection's handshake request must have been verified.
        const client: unknown = context.getArgByIndex(0);
        const handshake = handshakeOf(client);
        return handshake === undefined ? true : this.admitHandshake(client, handshake);
      }
      logCallOf(this.verifier)('warn', () =>
        this.logger.warn(
          `cdn-origin-guard denied a ${type} context: no HTTP request to verify (allow it with allowContextTypes: ['${type}'])`,
        ),
      );
      return false;
    }
    const raw = nodeRequest(request);
    const before = allowedBefore(raw, this.verifier, 'guard');
    if (before !== undefined) {
      // The module's all-paths check decided on this very request (Express: the same object).
      if (request !== raw) request.cdnOriginGuard = before;
      return true;
    }
    // Decided at the front, denied, on a handler that is not skipped: the held deny, now.
    if (denyHeld(raw)) throw new OriginDeniedException(this.verifier.denyResponse);
    // Not decided by the all-paths check (`applyGlobally: false`), which watches the servers.
    const server = serverOf(raw);
    if (server !== this.watch.last) this.watch.see(server);
    let input: VerifyInput | undefined;
    let result: Decision | Promise<Decision>;
    try {
      input = toVerifyInput(raw, 'guard');
      result = this.verifier.check(input);
    } catch (error) {
      return this.settle(request, raw, undefined, input, error); // fail closed, never a 500
    }
    return result instanceof Promise
      ? result.then(
          (decision) => this.settle(request, raw, decision, input),
          (error: unknown) => this.settle(request, raw, undefined, input, error),
        )
      : this.settle(request, raw, result, input);
  }

  /**
   * Note the server of a request to a `@SkipOriginGuard()` route: no check of the module saw it
   * before (the Nest middleware excludes the route, and a front check runs only where it can tell
   * a skipped route's paths), so a server whose requests all went to skipped routes was never
   * guarded where no front check ran (found moving the watch to the core). One comparison. And
   * let go a deny the front check held on it (hold.ts): the skipped handler answers.
   */
  private noteSkipped(context: ExecutionContext): void {
    if (context.getType<string>() !== 'http') return;
    const request = context.getArgByIndex<PlatformRequest | undefined>(0);
    if (request === undefined || request === null) return;
    const raw = nodeRequest(request);
    // A skipped handler answers: a deny the front check held is let go (hold.ts).
    releaseHold(raw);
    const server = serverOf(raw);
    if (server !== this.watch.last) this.watch.see(server);
  }

  /**
   * A Socket.IO message with `ws` listed in `allowContextTypes`: allowed when this verifier allowed
   * its connection's handshake request, on the server (the module marks it) or here at an earlier
   * message; else that request is verified now, once per connection (the decision is kept, a deny
   * logged once). The server-level check sees a handshake only under the paths it knows or naming
   * an engine.io transport, and not at all on a gateway's own port; this makes "only messages of
   * verified connections" hold there too (outside review, 4 December, seventh session: a `path`
   * set in an `IoAdapter` let a bot's messages reach `@SubscribeMessage` handlers). A denied
   * connection is closed (`disconnect(true)`) and the message refused (`false`: Nest answers with
   * its `WsException`); a handshake the guard cannot read (`null`) is denied alike.
   */
  private admitHandshake(
    client: unknown,
    handshake: HandshakeRequest | null,
  ): boolean | Promise<boolean> {
    if (handshake === null) {
      logCallOf(this.verifier)('warn', () =>
        this.logger.warn(
          'cdn-origin-guard denied a ws message: its connection has a handshake request the guard cannot read',
        ),
      );
      return closeConnection(client);
    }
    const known = handshakeDecisions.get(handshake);
    if (known !== undefined && known.verifier === this.verifier)
      return known.allowed instanceof Promise
        ? known.allowed.then((allowed) => allowed || closeConnection(client))
        : known.allowed || closeConnection(client);
    let input: VerifyInput | undefined;
    let result: Decision | Promise<Decision>;
    try {
      input = {
        headers: handshake.headers,
        rawHeaders: handshake.rawHeaders,
        remoteAddress: handshake.socket?.remoteAddress,
        method: handshake.method,
        // No path: a path rule (excludePaths, healthCheckPaths) exempts a request, never a
        // connection's messages.
        path: undefined,
      };
      result = this.verifier.check(input);
    } catch (error) {
      return this.settleHandshake(client, handshake, undefined, input, error);
    }
    if (!(result instanceof Promise)) return this.settleHandshake(client, handshake, result, input);
    const allowed = result.then(
      (decision) => this.settleHandshake(client, handshake, decision, input),
      (error: unknown) => this.settleHandshake(client, handshake, undefined, input, error),
    );
    handshakeDecisions.set(handshake, { verifier: this.verifier, allowed });
    return allowed;
  }

  private settleHandshake(
    client: unknown,
    handshake: HandshakeRequest,
    decision: Decision | undefined,
    input: VerifyInput | undefined,
    error?: unknown,
  ): boolean {
    if (decision !== undefined) {
      handshakeDecisions.set(handshake, { verifier: this.verifier, allowed: decision.allowed });
      recordDecision(handshake, decision);
    } else if (handshakeDecisions.get(handshake)?.verifier === this.verifier)
      handshakeDecisions.delete(handshake); // the verifier threw: checked again next time
    if (decision?.allowed !== true || decision.reason === 'reported')
      logDecision(this.logger, this.verifier, decision, input, error);
    return decision?.allowed === true || closeConnection(client);
  }

  /**
   * Record the decision (allowed: on the Node request too) and log it, or throw the deny. No
   * decision: the verifier threw `error`.
   */
  private settle(
    request: PlatformRequest,
    raw: IncomingMessage,
    decision: Decision | undefined,
    input: VerifyInput | undefined,
    error?: unknown,
  ): true {
    // On Express the request is the Node request: recorded once (the core's `recordDecision`).
    if (request !== raw) request.cdnOriginGuard = decision;
    else if (!decision?.allowed) recordDecision(raw, decision);
    if (decision?.allowed) {
      markAllowed(raw, this.verifier, decision, input);
      if (decision.reason === 'reported') logDecision(this.logger, this.verifier, decision, input);
      return true;
    }
    logDecision(this.logger, this.verifier, decision, input, error);
    throw new OriginDeniedException(this.verifier.denyResponse);
  }
}

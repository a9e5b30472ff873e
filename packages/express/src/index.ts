/**
 * @cdn-origin-guard/express: `app.use(cdnOriginGuard(options))`.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  checkContinuePathRules,
  checkOptionKeys,
  checkRequestPaths,
  createOriginVerifier,
  type Decision,
  EXPRESS_APP,
  guardUpgrades as guardServerUpgrades,
  InvalidOptionError,
  isOriginVerifier,
  OPTION_KEYS,
  type OriginGuardOptions,
  type OriginVerifier,
  pathUnderMount,
  recordDecision,
  ServerWatch,
  type UpgradeServer,
  writeDenyResponse,
} from '@cdn-origin-guard/core';
import parseurl from 'parseurl';
import { createGuardLog, type GuardLog, type GuardLogger } from './log.js';

export type {
  BaseGuardOptions,
  Decision,
  OriginGuardOptions,
  OriginVerifier,
  UpgradeServer,
} from '@cdn-origin-guard/core';
export { InvalidOptionError, isOriginGuardError, optionsFromEnv } from '@cdn-origin-guard/core';
export type { GuardLogger } from './log.js';

declare global {
  namespace Express {
    interface Request {
      /** The cdn-origin-guard decision for this request (set before `next()` is called). */
      cdnOriginGuard?: Decision;
    }
  }
}

/** A request as the middleware reads it: Express's request is one. */
type GuardRequest = IncomingMessage & {
  originalUrl?: string;
  baseUrl?: string;
  cdnOriginGuard?: Decision;
};

/**
 * Options of {@link cdnOriginGuard}: the core options plus `logger`.
 *
 * @example
 * ```ts
 * import { cdnOriginGuard, optionsFromEnv, type CdnOriginGuardOptions } from '@cdn-origin-guard/express';
 * const options: CdnOriginGuardOptions = { ...optionsFromEnv(), logger: console };
 * cdnOriginGuard(options);
 * ```
 */
export type CdnOriginGuardOptions = OriginGuardOptions & {
  /**
   * Where deny lines, report-mode lines, startup failures and source failures/recoveries go:
   * `console` or any pino/winston-like object with `error`, `warn` and `info` (`debug`/`trace`
   * used when present). Lines are single strings; the secret is never in them.
   * Defaults to `console`.
   */
  readonly logger?: GuardLogger;
};

/** The middleware returned by {@link cdnOriginGuard}, with its verifier attached. */
export interface CdnOriginGuardMiddleware {
  (req: GuardRequest, res: ServerResponse, next: (error?: unknown) => void): void;
  /** The core verifier (stats, readiness, the deny response). */
  readonly verifier: OriginVerifier;
  /**
   * Wait for the sources to load: `await guard.ready()` before `app.listen`. Rejects with
   * `NotReadyError` when they cannot load and `failOnStartupError` is `true` (the default);
   * with `failOnStartupError: false` it logs a warning and resolves (the guard denies until
   * the sources load).
   */
  ready(): Promise<void>;
  /** Stop the verifier's refresh timers (call on shutdown). */
  close(): Promise<void>;
}

/**
 * Express middleware (Express 4 and 5) that lets a request through only when it came through
 * your own CloudFront distribution. Reads the socket's peer address, never `req.ip`, and
 * matches exclusions and health paths on the pathname Express routes on. Every deny gets the
 * same response; the decision is on `req.cdnOriginGuard`. Sources start loading at once;
 * `await guard.ready()` before listening fails fast on a bad setup, and a startup failure
 * nobody awaited is logged at `error`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { cdnOriginGuard } from '@cdn-origin-guard/express';
 *
 * const app = express();
 * const guard = cdnOriginGuard({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * app.use(guard);
 * await guard.ready();
 * app.listen(3000);
 * ```
 */
export function cdnOriginGuard(
  options: Readonly<CdnOriginGuardOptions> | OriginVerifier,
): CdnOriginGuardMiddleware {
  const { logger, core } = splitOptions(options);
  const verifier = isOriginVerifier(core) ? core : createOriginVerifier(core);
  const log = createGuardLog(logger ?? console, verifier.logLevel);
  const unsubscribe = log.sourceEvents(verifier);
  const denyResponse = verifier.denyResponse;

  // Start loading now. A failure is the caller's to handle once they awaited `ready()`;
  // until then it must not pass unseen (an app that answers 403 to everything, silently).
  let awaited = false;
  /** `close()` was called: a first load it cut short is not a startup failure to report. */
  let closing = false;
  const loading = verifier.ready();
  loading.catch((error: Error) => {
    if (!awaited && !closing) log.startupNotAwaited(error);
  });

  /**
   * The uniform deny (`writeDenyResponse`): only its own headers, so what earlier middleware set
   * (Express's `X-Powered-By`) cannot tell it from the server-level check's deny of an upgrade
   * or a Socket.IO request (review, 4 December, fifth session); on HTTP/1 the connection is
   * closed, so a denied request's body is not read to its end.
   */
  const deny = (res: ServerResponse): void => writeDenyResponse(res, denyResponse);

  /** Record the decision, log a deny (or would-be deny) and answer or pass the request on. */
  function finish(
    req: GuardRequest,
    res: ServerResponse,
    next: (error?: unknown) => void,
    decision: Decision,
    path: string | undefined,
  ): void {
    recordDecision(req, decision);
    if (!decision.allowed || decision.reason === 'reported')
      log.decision(decision, req.method, path);
    if (decision.allowed) next();
    else deny(res);
  }

  /**
   * The servers this middleware's requests come from (the core's `ServerWatch`): unless the app
   * called `guardUpgrades` on one (or another guard guards it), its upgrades (and Socket.IO's
   * long-polling) are guarded from its first request on, with an `error` line naming the
   * listeners that answered before Express (they took requests unchecked until then). Until 4
   * December (sixth session) an app that forgot the call left its WebSocket handshakes and
   * Socket.IO sessions open to any bot, silently. Express has no startup or shutdown hook: the
   * watch runs from now on and is never stopped.
   */
  const watch = new ServerWatch({
    report: (event) =>
      event.type === 'guarded-late'
        ? log.upgradesGuardedLate(event.listeners)
        : log.upgradesUnguardable(event.error),
  });
  watch.start({
    guard: (server) => guardUpgrades(server, middleware),
    app: EXPRESS_APP,
  });

  // No closure per request: a decision that is ready (the usual case, `check` returns it
  // synchronously) goes straight to `finish`; only a promise gets callbacks.
  function cdnOriginGuardMiddleware(
    req: GuardRequest,
    res: ServerResponse,
    next: (error?: unknown) => void,
  ): void {
    let path: string | undefined;
    let result: Decision | Promise<Decision>;
    try {
      const socket = req.socket as (GuardRequest['socket'] & { server?: unknown }) | undefined;
      if (socket?.server !== watch.last) watch.see(socket?.server);
      path = routedPath(req);
      result = verifier.check({
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        remoteAddress: socket?.remoteAddress,
        method: req.method,
        path,
      });
    } catch (error) {
      // Fail closed with the uniform response; never a 500 with a stack. Logged: it is a bug.
      log.guardFailed(error, req.method, path);
      deny(res);
      return;
    }
    if (!(result instanceof Promise)) {
      finish(req, res, next, result, path);
      return;
    }
    // `.catch` last: a throw in `finish` must not become an unhandled rejection (a crash).
    result
      .then((decision) => finish(req, res, next, decision, path))
      .catch((error: unknown) => {
        log.guardFailed(error, req.method, path);
        deny(res);
      });
  }

  const middleware = Object.assign(cdnOriginGuardMiddleware, {
    verifier,
    ready: async () => {
      awaited = true;
      try {
        await loading;
      } catch (error) {
        if (verifier.failOnStartupError) throw error;
        log.startupTolerated(error as Error);
      }
    },
    close: async () => {
      closing = true;
      unsubscribe();
      await verifier.close();
    },
  });
  middlewareLogs.set(middleware, log);
  return middleware;
}

/** The log of each middleware, so that {@link guardUpgrades} writes its lines the same way. */
const middlewareLogs = new WeakMap<object, GuardLog>();

/** Options of {@link guardUpgrades}. */
export interface GuardUpgradesOptions {
  /**
   * Where the deny lines of upgrade requests go. Defaults to the middleware's `logger` (given
   * the middleware), else `console`.
   */
  readonly logger?: GuardLogger;
  /**
   * Path prefixes of ordinary requests to check on the server too, before any `'request'`
   * listener: Socket.IO's engine answers its HTTP long-polling requests itself, before Express.
   * Defaults to `['/socket.io']` (give your own Socket.IO `path` the same way, without a
   * trailing `/`; `[]` checks none). See the core's `requestPaths`.
   */
  readonly requestPaths?: readonly string[];
  /**
   * Set it when your server's `'checkContinue'` listener hands every request on to the app
   * (`res.writeContinue(); app(req, res)`): the middleware's `excludePaths` and
   * `healthCheckPaths` then apply to those requests too, so an excluded webhook that sends
   * `Expect: 100-continue` passes. Defaults to `false`: a listener that answers by itself would
   * otherwise run for a bot on an excluded path. See the core's `continuePathRules`.
   */
  readonly continuePathRules?: boolean;
}

/**
 * Check the HTTP upgrade requests (WebSocket handshakes) of your server too: Node emits them as
 * the server's `'upgrade'` event, which no Express middleware sees, so without this a bot's
 * handshake reaches `ws`, Socket.IO or your own `'upgrade'` listener unchecked. Call it on the
 * server `app.listen()` returns (or the one you created for the app), with the middleware; the
 * listeners may be added before or after. A denied handshake gets the same deny response as a
 * denied request (plus `connection: close`) and its socket is closed; an allowed one goes on
 * with the decision on `req.cdnOriginGuard`. Denies (and would-be denies in report mode) are
 * logged like the middleware's. Called again with the same guard it adds no second check (its
 * `requestPaths` are added), and the check stays until every call's remover has run. Returns a
 * function that stops this call's checking.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { WebSocketServer } from 'ws';
 * import { cdnOriginGuard, guardUpgrades } from '@cdn-origin-guard/express';
 *
 * const app = express();
 * const guard = cdnOriginGuard({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * app.use(guard);
 * await guard.ready();
 * const server = app.listen(3000);
 * guardUpgrades(server, guard);
 * new WebSocketServer({ server });
 * ```
 */
export function guardUpgrades(
  server: UpgradeServer,
  guard: CdnOriginGuardMiddleware | OriginVerifier,
  options: Readonly<GuardUpgradesOptions> = {},
): () => void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError(
      'guardUpgrades(options)',
      `is ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}; pass { logger, requestPaths, continuePathRules } or leave it out.`,
    );
  checkOptionKeys(
    options,
    GUARD_UPGRADES_KEYS,
    'is not an option of guardUpgrades; it takes `logger`, `requestPaths` and `continuePathRules`.',
  );
  const verifier = isOriginVerifier(guard)
    ? guard
    : (guard as Partial<CdnOriginGuardMiddleware>)?.verifier;
  if (!isOriginVerifier(verifier))
    throw new InvalidOptionError(
      'guardUpgrades(guard)',
      'is neither the middleware cdnOriginGuard() returned nor an OriginVerifier; pass the middleware.',
    );
  // Own properties only: never an option from a polluted `Object.prototype` (review, eleventh
  // session: `continuePathRules` read through the prototype turned the path rules on).
  const own: Readonly<GuardUpgradesOptions> = Object.assign(Object.create(null), options);
  const log =
    (own.logger === undefined ? middlewareLogs.get(guard) : undefined) ??
    createGuardLog(own.logger ?? console, verifier.logLevel);
  return guardServerUpgrades(server, verifier, {
    onDecision: (decision, req) => {
      if (!decision.allowed || decision.reason === 'reported')
        log.decision(decision, req.method, req.url);
    },
    onError: (error, req) => log.guardFailed(error, req.method, req.url),
    requestPaths: checkRequestPaths(own.requestPaths),
    continuePathRules: checkContinuePathRules(own.continuePathRules),
  });
}

/**
 * The pathname Express routes this request on (fragment and query cut, absolute form resolved,
 * as Express's router itself: parseurl), for path rules. Unmounted and not rewritten
 * (`originalUrl` is `url`, the usual case) that is the parse Express's router already cached on
 * the request (`parseurl(req)`), so nothing is parsed or allocated again. Under a mount path it
 * is the original URL's path; when something before the guard rewrote `req.url`, undefined: no
 * path rule applies (see the core's `pathUnderMount`).
 */
function routedPath(req: GuardRequest): string | undefined {
  const routed = parseurl(req)?.pathname ?? undefined;
  if (req.originalUrl === undefined || req.originalUrl === req.url) return routed;
  return pathUnderMount(parseurl.original(req)?.pathname ?? undefined, routed, req.baseUrl);
}

/** The options of `guardUpgrades`. */
const GUARD_UPGRADES_KEYS: readonly string[] = ['logger', 'requestPaths', 'continuePathRules'];

/** The options of this adapter, next to the core's: a typo of either gets a "Did you mean". */
const KNOWN_KEYS: readonly string[] = [...OPTION_KEYS, 'logger'];

/** `logger` (an own property only, as the core reads every option) and the core's options. */
function splitOptions(options: Readonly<CdnOriginGuardOptions> | OriginVerifier): {
  logger: GuardLogger | undefined;
  core: Readonly<OriginGuardOptions> | OriginVerifier;
} {
  if (isOriginVerifier(options) || options === null || typeof options !== 'object')
    return { logger: undefined, core: options };
  checkOptionKeys(options, KNOWN_KEYS);
  if (!Object.hasOwn(options, 'logger')) return { logger: undefined, core: options };
  const { logger, ...core } = options;
  return { logger, core };
}

export default cdnOriginGuard;

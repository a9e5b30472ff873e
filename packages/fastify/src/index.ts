/**
 * @cdn-origin-guard/fastify: `app.register(cdnOriginGuard, options)`.
 * @packageDocumentation
 */
import {
  CdnOriginGuardError,
  checkContinuePathRules,
  checkOptionKeys,
  checkRequestPaths,
  createOriginVerifier,
  DEFAULT_DENY_RESPONSE,
  type Decision,
  type DeniedDecision,
  guardUpgrades,
  InvalidOptionError,
  isOriginVerifier,
  type LogLevel,
  loggerCaller,
  OPTION_KEYS,
  type OriginGuardOptions,
  type OriginVerifier,
  type ReportedDecision,
  writeDenyResponse,
} from '@cdn-origin-guard/core';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import fp from 'fastify-plugin';

export type {
  BaseGuardOptions,
  Decision,
  OriginGuardOptions,
  OriginVerifier,
} from '@cdn-origin-guard/core';
export { InvalidOptionError, isOriginGuardError, optionsFromEnv } from '@cdn-origin-guard/core';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` opts this route out of the guard (declare it on routes you mean to be public). */
    cdnOriginGuard?: boolean;
  }
  interface FastifyRequest {
    /** The cdn-origin-guard decision for this request (null before the hook ran). */
    cdnOriginGuard: Decision | null;
  }
  interface FastifyInstance {
    /** The cdn-origin-guard verifier (stats, readiness). */
    cdnOriginGuard: OriginVerifier;
  }
}

/** What the plugin itself takes, with the core options or with `{ verifier }`. */
export interface CdnOriginGuardPluginWiring {
  /**
   * Path prefixes of requests checked on the server, before any `'request'` listener: give
   * your Socket.IO `path` here when it is not `/socket.io` (without a trailing `/`). Socket.IO's
   * engine, attached to `app.server` (`fastify-socket.io`, `new Server(app.server, { path })`),
   * answers its HTTP long-polling requests itself, before any hook, so a request under a path
   * missing here reaches it unchecked. Each must start with `/`; `[]` checks none. Defaults to
   * `['/socket.io']`. See the core's `guardUpgrades`.
   */
  readonly requestPaths?: readonly string[];
  /**
   * Set it when a `'checkContinue'` listener you add to `app.server` hands every request on to
   * Fastify (`res.writeContinue(); app.routing(req, res)`): the core's `excludePaths` and
   * `healthCheckPaths` then apply to those requests on the server too, so an excluded webhook
   * that sends `Expect: 100-continue` passes. Defaults to `false`: a listener that answers by
   * itself would otherwise run for a bot on an excluded path. See the core's
   * `continuePathRules`.
   */
  readonly continuePathRules?: boolean;
}

/**
 * Plugin options: the core options, or `{ verifier }` to share one you created (you close it;
 * the app's `onClose` only closes a verifier the plugin created); either with `requestPaths` and `continuePathRules`.
 */
export type CdnOriginGuardPluginOptions = (
  | Readonly<OriginGuardOptions>
  | { readonly verifier: OriginVerifier }
) &
  CdnOriginGuardPluginWiring;

async function cdnOriginGuardPlugin(
  fastify: FastifyInstance,
  options: CdnOriginGuardPluginOptions,
): Promise<void> {
  if (fastify.hasDecorator('cdnOriginGuard') || fastify.hasRequestDecorator('cdnOriginGuard'))
    throw new CdnOriginGuardError(
      'ERR_CDN_ORIGIN_GUARD_OPTION',
      '@cdn-origin-guard/fastify is already registered on this instance or a parent of it; register it once (a child instance inherits it). To share one verifier across apps, pass { verifier }.',
    );
  // Express-style middleware (@fastify/middie, @fastify/express: both decorate `use`) runs in an
  // `onRequest` hook added when that plugin was registered. Hooks run in the order they were
  // added, so middleware registered before the guard runs first and can answer (serve a file,
  // proxy) a request the guard never checks. Fail at boot, naming the fix.
  if (fastify.hasDecorator('use') || middlewarePluginLoaded(fastify))
    throw new CdnOriginGuardError(
      'ERR_CDN_ORIGIN_GUARD_OPTION',
      '@cdn-origin-guard/fastify is registered after a plugin that runs Express-style middleware (@fastify/middie or @fastify/express), on this instance, a parent of it or a child plugin registered before it; its onRequest hook runs first, so a middleware could answer a request the guard never checked. Register @cdn-origin-guard/fastify before that plugin.',
    );
  // @fastify/cors answers a CORS preflight in its own `onRequest` hook: registered first, it
  // answered a bot's preflight (204 and the app's CORS policy) before the guard saw it (outside
  // review, 4 December, sixth session). A warning, not a refusal: the plugin tree cannot tell
  // a sibling scope or `hook: 'preHandler'` (both safe) from the unsafe order.
  if (fastify.printPlugins().includes('@fastify/cors'))
    fastify.log.warn(
      "cdn-origin-guard is registered after @fastify/cors: unless cors runs in another scope or with hook: 'preHandler', its onRequest hook answers a bot's CORS preflight (204 and your CORS policy) before the guard checks it. Register @cdn-origin-guard/fastify before @fastify/cors.",
    );
  // Checked before anything is created: a bad value fails the boot, naming the option; a typo
  // of the plugin's own keys gets its "Did you mean" too (review, eleventh session).
  // `{ verifier }` as an own property only, as every option (a polluted prototype's `verifier`
  // failed the boot; review, eleventh session).
  const given =
    typeof options === 'object' && options !== null && Object.hasOwn(options, 'verifier');
  if (typeof options === 'object' && options !== null && !given)
    checkOptionKeys(options, FASTIFY_KNOWN_KEYS);
  const requestPaths =
    typeof options === 'object' && options !== null && Object.hasOwn(options, 'requestPaths')
      ? checkRequestPaths(options.requestPaths)
      : undefined;
  // Own properties only, as `requestPaths`: a polluted `Object.prototype.continuePathRules`
  // turned the path rules on (review, eleventh session).
  const continuePathRules =
    typeof options === 'object' && options !== null && Object.hasOwn(options, 'continuePathRules')
      ? checkContinuePathRules((options as CdnOriginGuardPluginWiring).continuePathRules)
      : undefined;
  // A verifier passed in belongs to the caller, who closes it; one created here is ours.
  const owned = !given;
  const verifier = given
    ? givenVerifier(options as { readonly verifier: OriginVerifier })
    : createOriginVerifier(stripFastifyKeys(options as Readonly<OriginGuardOptions>));
  const log = loggerCaller('@cdn-origin-guard/fastify');
  const { check } = responder(verifier, log);

  fastify.decorate('cdnOriginGuard', verifier);
  fastify.decorateRequest('cdnOriginGuard', null);

  // An upgrade request (a WebSocket handshake) is the server's 'upgrade' event, which no hook
  // sees unless a plugin routes it through them (@fastify/websocket does): checked on the
  // server, whatever listens to it. Server-wide: one check per server and verifier, so a plugin
  // registered in several scopes with one `{ verifier }` checks once, and with several
  // verifiers an upgrade must pass each (neither route opt-outs nor path rules apply).
  const level = verifier.logLevel;
  const unguardUpgrades = guardUpgrades(fastify.server, verifier, {
    onDecision(decision, req) {
      if (!decision.allowed || decision.reason === 'reported')
        logDecision(log, fastify.log, level, decision, req.method, req.url);
    },
    onError: (error, req) => logFailure(log, fastify.log, level, error, req.method, req.url),
    requestPaths,
    continuePathRules,
  });

  // Per-route opt-out, declared by the app on its own route: `config: { cdnOriginGuard: false }`.
  // `request.routeOptions` builds a new object on every read (about 1 µs inside a request,
  // bench/RESULTS.md), so the hook reads it only when a route may opt out: one this plugin saw
  // declared with the opt-out (`onRoute`, looked at once all routes are in, at `onReady`, so an
  // app's own `onRoute` hook that sets it counts), or any route declared before this plugin
  // loaded (whose config it cannot see). `printRoutes()` answers `(empty tree)` when there is
  // none; any other answer, today's or a future version's, means "read it".
  let optOutPossible = fastify.printRoutes() !== '(empty tree)';
  let declared: { readonly config?: { readonly cdnOriginGuard?: boolean } }[] = [];
  fastify.addHook('onRoute', function cdnOriginGuardOnRoute(route) {
    declared.push(route);
  });
  fastify.addHook('onReady', function cdnOriginGuardOnReady(ready) {
    if (declared.some((route) => route.config?.cdnOriginGuard === false)) optOutPossible = true;
    declared = [];
    ready();
  });

  fastify.addHook('onRequest', function cdnOriginGuardOnRequest(request, reply, done) {
    // A request no route matched is always checked, even under a not-found handler given a
    // config with the opt-out (unknown paths are never public).
    if (optOutPossible && !request.is404 && request.routeOptions.config.cdnOriginGuard === false) {
      done();
      return;
    }
    check(request, reply, done);
  });

  const unsubscribe = verifier.onSourceEvent((event) => {
    // A first load failing is the startup failure, reported below.
    if (event.type === 'failing' && !event.everLoaded) return;
    if (event.type === 'failing')
      fastify.log.error(
        { err: event.error, source: event.source },
        `cdn-origin-guard ${event.source} source failing; serving the last-known-good value`,
      );
    else if (event.type === 'expired' && event.reason === 'revoked')
      fastify.log.error(
        { err: event.error, source: event.source },
        `cdn-origin-guard ${event.source} source revoked (values dropped); denying until a load succeeds`,
      );
    else if (event.type === 'expired')
      fastify.log.error(
        { source: event.source, staleMs: event.staleMs },
        `cdn-origin-guard ${event.source} source expired (${event.source === 'ranges' ? 'rangesMaxStaleMs' : 'maxStaleMs'}); denying until a load succeeds`,
      );
    else if (event.type === 'warning')
      fastify.log.warn(
        { err: event.error, source: event.source },
        `cdn-origin-guard ${event.source} source warning`,
      );
    else
      fastify.log.info(
        { source: event.source, failedAttempts: event.failedAttempts, downMs: event.downMs },
        `cdn-origin-guard ${event.source} source recovered`,
      );
  });

  fastify.addHook('onClose', async function cdnOriginGuardOnClose() {
    unguardUpgrades();
    unsubscribe();
    if (owned) await verifier.close();
  });

  try {
    await verifier.ready();
  } catch (error) {
    if (verifier.failOnStartupError) {
      // Boot fails: stop the retry timers of a verifier nobody else will close.
      unsubscribe();
      unguardUpgrades();
      // The boot error is the one thrown; a failure to close as well is logged, not lost.
      if (owned)
        await verifier
          .close()
          .catch((closeError: unknown) =>
            fastify.log.warn(
              { err: closeError },
              'cdn-origin-guard could not close its verifier after the failed start',
            ),
          );
      throw error;
    }
    fastify.log.warn(
      `cdn-origin-guard sources not loaded yet; denying until they load (failOnStartupError: false): ${(error as Error).message}`,
    );
  }
}

/**
 * One line per deny (and per would-be deny in report mode), on a request's logger or, for an
 * upgrade request, the instance's: reason codes and addresses, never a header value.
 */
function logDecision(
  log: LogCall,
  logger: FastifyBaseLogger,
  level: LogLevel,
  decision: DeniedDecision | ReportedDecision,
  method: string | undefined,
  target: string | undefined,
): void {
  if (level === 'silent') return;
  log(level, () =>
    logger[level](
      {
        cdnOriginGuard: {
          reason: decision.reason,
          failures: decision.failures,
          offendingHop: decision.offendingHop,
          proxyHops: decision.proxyHops,
          method,
          path: pathOf(target),
          peer: decision.peerAddress,
          edge: decision.edgeAddress,
        },
      },
      decision.allowed
        ? 'cdn-origin-guard would deny request (report mode)'
        : 'cdn-origin-guard denied request',
    ),
  );
}

/** The line for a request denied because the verifier threw (a bug): at `error`. */
function logFailure(
  log: LogCall,
  logger: FastifyBaseLogger,
  level: LogLevel,
  error: unknown,
  method: string | undefined,
  target: string | undefined,
): void {
  if (level === 'silent') return;
  log('error', () =>
    logger.error(
      { err: error, cdnOriginGuard: { method, path: pathOf(target) } },
      'cdn-origin-guard denied request: the guard failed',
    ),
  );
}

/**
 * Calls the app's logger; a logger that throws (a failing serializer or transport) never breaks
 * the request (the core's `loggerCaller`): its deny stays the uniform response.
 */
type LogCall = ReturnType<typeof loggerCaller>;

/** A request target without its query or fragment (a log line never carries query values). */
function pathOf(target: string | undefined): string | undefined {
  return target?.split(/[?#]/, 1)[0];
}

/** How the plugin and {@link cdnOriginGuardFrameworkErrors} answer, log and record a decision. */
interface Responder {
  /**
   * Check the request: record the decision on it, log a deny (or would-be deny), then answer
   * with the deny response or call `done`. A verifier that throws (a bug, never a client's
   * doing) is logged at `error` and the request denied.
   */
  check(request: FastifyRequest, reply: FastifyReply, done: () => void): void;
}

function responder(verifier: OriginVerifier, log: LogCall): Responder {
  const denyResponse = verifier.denyResponse;
  const level = verifier.logLevel;

  const deny = (reply: FastifyReply) => {
    // Written on the raw response, past Fastify's reply pipeline: the `onSend` hooks of the route
    // or of its plugin scope (a header, a `cache-control`, a rewritten payload) would otherwise
    // make the deny differ by route and tell a bot which paths exist (outside review, 4
    // December). Headers set on the reply by earlier hooks are dropped with it, and so are those
    // an earlier hook set on the raw response itself (`@fastify/helmet` does): a deny from the
    // router's error path has none, so they told routes apart too (outside review, 4 December,
    // fifth session), by the core's `writeDenyResponse`, which also closes an HTTP/1 connection
    // (Fastify's `bodyLimit` never applies to a denied body, since nothing parses it).
    // `onResponse` hooks still run.
    reply.hijack();
    writeDenyResponse(reply.raw, denyResponse);
  };

  /** The verifier threw (a bug, never a client's doing): log it at `error` and deny. */
  const failed = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    logFailure(log, request.log, level, error, request.method, request.url);
    if (!reply.sent) deny(reply);
  };

  const finish = (
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    decision: Decision,
  ) => {
    request.cdnOriginGuard = decision;
    if (!decision.allowed || decision.reason === 'reported')
      logDecision(log, request.log, level, decision, request.method, request.url);
    if (decision.allowed) done();
    else deny(reply);
  };

  return {
    // No closure per request: a decision that is ready (the usual case, `check` returns it
    // synchronously) goes straight to `finish`; only a promise gets callbacks.
    check(request, reply, done) {
      let result: Decision | Promise<Decision>;
      try {
        const raw = request.raw;
        result = verifier.check({
          headers: request.headers,
          rawHeaders: raw.rawHeaders,
          remoteAddress: raw.socket?.remoteAddress,
          method: request.method,
          // The raw target: the core cuts it at `?`/`#`, resolves an absolute form and never
          // matches an exclusion or health path on one a router could read another way (`;`, `%2e`).
          path: request.url,
        });
      } catch (error) {
        // Fail closed with the uniform response; never a 500 with a stack. Logged: it is a bug.
        failed(request, reply, error);
        return;
      }
      if (!(result instanceof Promise)) {
        finish(request, reply, done, result);
        return;
      }
      result
        .then((decision) => finish(request, reply, done, decision))
        .catch((error: unknown) => {
          // Never a rejection out of here: unhandled, it would end the process on a request.
          try {
            failed(request, reply, error);
          } catch {
            // Not even the deny could be written: close the connection, unanswered.
            request.raw.destroy();
          }
        });
    },
  };
}

/**
 * The verifier of `{ verifier }` options, checked: nothing else may come with it (the options
 * it was created with are the ones that apply, so another option here would be ignored).
 */
function givenVerifier(options: { readonly verifier: OriginVerifier }): OriginVerifier {
  const verifier = options.verifier;
  if (!isOriginVerifier(verifier))
    throw new InvalidOptionError(
      'verifier',
      'is not an OriginVerifier; pass the one createOriginVerifier(...) returned, or leave `verifier` out and pass the guard options.',
    );
  const others = Object.keys(options).filter(
    (key) => key !== 'verifier' && !(PLUGIN_KEYS as readonly string[]).includes(key),
  );
  if (others.length > 0)
    throw new InvalidOptionError(
      others[0]!,
      `cannot be given with \`verifier\` (the verifier's own options apply); pass it to createOriginVerifier(...) instead.`,
    );
  return verifier;
}

/** Keys that are not the core's: Fastify's registration `prefix`, and the plugin's own. */
const PLUGIN_KEYS = ['prefix', 'requestPaths', 'continuePathRules'] as const;

/** Every key the plugin takes without `verifier`: the core's options and its own. */
const FASTIFY_KNOWN_KEYS: readonly string[] = [...OPTION_KEYS, ...PLUGIN_KEYS];

function stripFastifyKeys(options: Readonly<OriginGuardOptions>): OriginGuardOptions {
  // Fastify may pass its own registration keys (prefix, logLevel handled by core) along.
  const {
    prefix: _p,
    requestPaths: _r,
    continuePathRules: _c,
    ...rest
  } = options as OriginGuardOptions & {
    prefix?: unknown;
    requestPaths?: unknown;
    continuePathRules?: unknown;
  };
  return rest as OriginGuardOptions;
}

/** Names of the plugins that run Express-style middleware in an `onRequest` hook. */
const MIDDLEWARE_PLUGINS = ['@fastify/middie', '@fastify/express'] as const;

/**
 * Whether a middleware plugin was loaded anywhere in the app before the guard, a child plugin
 * registered earlier included, where `fastify.use` is not visible from here (outside review,
 * 4 December: middie in an earlier child answered that child's routes unchecked). Read from
 * the plugin tree Fastify prints (`printPlugins()`), which lists the plugins loaded so far.
 */
function middlewarePluginLoaded(fastify: FastifyInstance): boolean {
  const tree = fastify.printPlugins();
  return MIDDLEWARE_PLUGINS.some((name) => tree.includes(name));
}

/**
 * Fastify 5 plugin that lets a request through only when it came through your own CloudFront
 * distribution. Runs as an `onRequest` hook on every route of the instance it is registered on
 * (it is not encapsulated). Sources load during registration, so `await app.ready()` fails
 * with a clear error when they cannot load (unless `failOnStartupError: false`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { cdnOriginGuard } from '@cdn-origin-guard/fastify';
 *
 * const app = Fastify({ logger: true });
 * await app.register(cdnOriginGuard, { secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * app.get('/', async (request) => ({ viewer: request.cdnOriginGuard?.allowed }));
 * await app.listen({ port: 3000 });
 * ```
 */
export const cdnOriginGuard = fp(cdnOriginGuardPlugin, {
  name: '@cdn-origin-guard/fastify',
  fastify: '5.x',
});

/** Fastify's `frameworkErrors` server option: a function of the error, the request and the reply. */
export type FrameworkErrorsHandler = NonNullable<FastifyServerOptions['frameworkErrors']>;

/** Options of {@link cdnOriginGuardFrameworkErrors}. */
export interface FrameworkErrorsOptions {
  /**
   * The verifier to check with. By default the plugin's, read from the root instance
   * (`app.cdnOriginGuard`): register the plugin on the root instance, or pass the verifier you
   * give the plugin as `{ verifier }`.
   */
  readonly verifier?: OriginVerifier;
  /**
   * What a request that passed the checks gets for its framework error. By default what Fastify
   * answers it without the option (the error, through the error handler: 400 for a target it
   * cannot decode, 414 for a parameter over `maxParamLength`, 500 for a failed async constraint).
   */
  readonly handler?: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;
}

/**
 * A `frameworkErrors` server option that checks a request before Fastify answers it with a
 * router error. Fastify's router answers some requests before any hook runs (so before the
 * plugin's check): a target it cannot decode (`/%zz`, 400), a parameter longer than
 * `maxParamLength` (414, which tells a parameter route from an unknown path) and a failed async
 * constraint (500). With this option those requests are checked first: one that fails gets
 * the uniform deny response (and the plugin's log line), one that passes gets Fastify's own
 * answer, or your `handler`'s. Route opt-outs do not apply (no route was matched).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { cdnOriginGuard, cdnOriginGuardFrameworkErrors } from '@cdn-origin-guard/fastify';
 *
 * const app = Fastify({ frameworkErrors: cdnOriginGuardFrameworkErrors() });
 * await app.register(cdnOriginGuard, { secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * ```
 */
export function cdnOriginGuardFrameworkErrors(
  options: FrameworkErrorsOptions = {},
): FrameworkErrorsHandler {
  if (typeof options !== 'object' || options === null)
    throw new CdnOriginGuardError(
      'ERR_CDN_ORIGIN_GUARD_OPTION',
      'cdnOriginGuardFrameworkErrors(options): options must be an object such as { verifier, handler }.',
    );
  for (const key of Object.keys(options))
    if (key !== 'verifier' && key !== 'handler')
      throw new CdnOriginGuardError(
        'ERR_CDN_ORIGIN_GUARD_OPTION',
        `cdnOriginGuardFrameworkErrors(options): ${key} is not known; use verifier and handler.`,
      );
  const given = options.verifier;
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof given.check !== 'function')
  )
    throw new CdnOriginGuardError(
      'ERR_CDN_ORIGIN_GUARD_OPTION',
      "cdnOriginGuardFrameworkErrors(options): verifier must be an OriginVerifier (createOriginVerifier(...)); leave it out to use the plugin's.",
    );
  const handler = options.handler;
  if (handler !== undefined && typeof handler !== 'function')
    throw new CdnOriginGuardError(
      'ERR_CDN_ORIGIN_GUARD_OPTION',
      "cdnOriginGuardFrameworkErrors(options): handler must be a function (error, request, reply); leave it out for Fastify's own answer.",
    );
  // One responder per verifier met (the plugin's is found on the first request).
  const responders = new WeakMap<OriginVerifier, Responder>();
  let warned = false;
  function cdnOriginGuardFrameworkErrorsHandler(
    error: FastifyError,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const found = given ?? (request.server as { cdnOriginGuard?: OriginVerifier }).cdnOriginGuard;
    if (found === undefined) {
      // Nothing to check with: fail closed, and say why once.
      if (!warned) {
        warned = true;
        request.log.error(
          'cdn-origin-guard frameworkErrors found no verifier: register @cdn-origin-guard/fastify on the root instance, or pass { verifier } to cdnOriginGuardFrameworkErrors; denying these requests',
        );
      }
      // Never an open door: the core's default deny, as a verifier without `denyResponse` gives.
      reply
        .code(DEFAULT_DENY_RESPONSE.status)
        .headers(DEFAULT_DENY_RESPONSE.headers)
        .send(DEFAULT_DENY_RESPONSE.body);
      return;
    }
    let respond = responders.get(found);
    if (respond === undefined) {
      respond = responder(found, loggerCaller('@cdn-origin-guard/fastify'));
      responders.set(found, respond);
    }
    respond.check(request, reply, () => {
      if (handler !== undefined) handler(error, request, reply);
      else reply.code(error.statusCode ?? 500).send(error);
    });
  }
  return cdnOriginGuardFrameworkErrorsHandler as FrameworkErrorsHandler;
}

export default cdnOriginGuard;

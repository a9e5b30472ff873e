/**
 * @cdn-origin-guard/fastify: `app.register(cdnOriginGuard, options)`.
 * @packageDocumentation
 */
import {
  CdnOriginGuardError,
  createOriginVerifier,
  type Decision,
  type DeniedDecision,
  type OriginGuardOptions,
  type OriginVerifier,
  type ReportedDecision,
} from '@cdn-origin-guard/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export type { Decision, OriginGuardOptions, OriginVerifier } from '@cdn-origin-guard/core';
export { optionsFromEnv } from '@cdn-origin-guard/core';

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

/**
 * Plugin options: the core options, or `{ verifier }` to share one you created (you close it;
 * the app's `onClose` only closes a verifier the plugin created).
 */
export type CdnOriginGuardPluginOptions =
  | Readonly<OriginGuardOptions>
  | { readonly verifier: OriginVerifier };

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
  // A verifier passed in belongs to the caller, who closes it; one created here is ours.
  const owned = !('verifier' in options);
  const verifier =
    'verifier' in options ? options.verifier : createOriginVerifier(stripFastifyKeys(options));
  const { status, headers, body } = verifier.denyResponse;
  const level = verifier.logLevel;

  fastify.decorate('cdnOriginGuard', verifier);
  fastify.decorateRequest('cdnOriginGuard', null);

  // One line per deny (and per would-be deny in report mode): reason codes, never a value.
  const log = (
    request: FastifyRequest,
    decision: DeniedDecision | ReportedDecision,
    target: string,
  ) => {
    if (level === 'silent') return;
    request.log[level](
      {
        cdnOriginGuard: {
          reason: decision.reason,
          failures: decision.failures,
          offendingHop: decision.offendingHop,
          proxyHops: decision.proxyHops,
          method: request.method,
          path: target.split(/[?#]/, 1)[0],
          peer: decision.peerAddress,
          edge: decision.edgeAddress,
        },
      },
      decision.allowed
        ? 'cdn-origin-guard would deny request (report mode)'
        : 'cdn-origin-guard denied request',
    );
  };

  const deny = (reply: FastifyReply) => {
    reply.code(status).headers(headers).send(body);
  };

  /** The verifier threw (a bug, never a client's doing): log it at `error` and deny. */
  const failed = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    if (level !== 'silent')
      request.log.error(
        {
          err: error,
          cdnOriginGuard: { method: request.method, path: request.url.split(/[?#]/, 1)[0] },
        },
        'cdn-origin-guard denied request: the guard failed',
      );
    if (!reply.sent) deny(reply);
  };

  /** Record the decision, log a deny (or would-be deny) and answer or pass the request on. */
  const finish = (
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
    decision: Decision,
  ) => {
    request.cdnOriginGuard = decision;
    if (!decision.allowed || decision.reason === 'reported') log(request, decision, request.url);
    if (decision.allowed) done();
    else deny(reply);
  };

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

  // No closure per request: a decision that is ready (the usual case, `check` returns it
  // synchronously) goes straight to `finish`; only a promise gets callbacks.
  fastify.addHook('onRequest', function cdnOriginGuardOnRequest(request, reply, done) {
    // A request no route matched is always checked, even under a not-found handler given a
    // config with the opt-out (unknown paths are never public).
    if (optOutPossible && !request.is404 && request.routeOptions.config.cdnOriginGuard === false) {
      done();
      return;
    }
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
      .catch((error: unknown) => failed(request, reply, error));
  });

  const unsubscribe = verifier.onSourceEvent((event) => {
    // A first load failing is the startup failure, reported below.
    if (event.type === 'failing' && !event.everLoaded) return;
    if (event.type === 'failing')
      fastify.log.error(
        { err: event.error, source: event.source },
        `cdn-origin-guard ${event.source} source failing; serving the last-known-good value`,
      );
    else
      fastify.log.info(
        { source: event.source, failedAttempts: event.failedAttempts, downMs: event.downMs },
        `cdn-origin-guard ${event.source} source recovered`,
      );
  });

  fastify.addHook('onClose', async function cdnOriginGuardOnClose() {
    unsubscribe();
    if (owned) await verifier.close();
  });

  try {
    await verifier.ready();
  } catch (error) {
    if (verifier.failOnStartupError) {
      // Boot fails: stop the retry timers of a verifier nobody else will close.
      unsubscribe();
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

function stripFastifyKeys(options: Readonly<OriginGuardOptions>): OriginGuardOptions {
  // Fastify may pass its own registration keys (prefix, logLevel handled by core) along.
  const { prefix: _p, ...rest } = options as OriginGuardOptions & { prefix?: unknown };
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

export default cdnOriginGuard;

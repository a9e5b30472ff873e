/**
 * The all-paths check installed on the platform itself (Express `app.use`, Fastify `onRequest`)
 * instead of as a Nest middleware: the same {@link AllPathsCheck}, without Nest's per-request
 * middleware machinery (an async proxy, a per-route `WeakSet`, the path match and, on Fastify,
 * @fastify/middie), which cost about 10 µs a request (bench/RESULTS.md, section 9).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { matchablePath, type OriginVerifier } from '@cdn-origin-guard/core';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { targetAt } from './guard.js';
import { AllPathsCheck } from './middleware.js';
import type { SkippedPaths } from './routes.js';

/** The part of Express's app the module uses (the package does not depend on Express). */
interface ExpressLikeApp {
  use(handler: Middleware): unknown;
}

/** The part of Fastify's instance the module uses (the package does not depend on Fastify). */
interface FastifyLikeInstance {
  addHook(
    name: 'onRequest',
    hook: (
      request: { raw: IncomingMessage },
      reply: { raw: ServerResponse },
      done: (error?: unknown) => void,
    ) => void,
  ): unknown;
}

/** What decides whether the check can run on the platform, read by the module at `configure()`. */
export interface PlatformCheckSite {
  /** The app's HTTP adapter (`HttpAdapterHost.httpAdapter`); undefined without one. */
  readonly adapter: AbstractHttpAdapter | undefined;
  /**
   * Whether another module may install Nest middleware (it has a `configure()`). On Fastify
   * Nest middleware run in @fastify/middie's `onRequest` hook, added before this module's
   * `configure()` runs, so a platform hook would run after them; the Nest middleware keeps
   * the check ahead of other modules' middleware as before.
   */
  readonly otherModulesConfigure: boolean;
  /**
   * Set when some route is `@SkipOriginGuard()`: the paths such a route might be routed on (see
   * `skippedPathMatcher`). The check is then a front check, Express only: a request on such a
   * path (or whose path it cannot read) is passed on untouched, for the Nest middleware that
   * excludes the skipped routes with Nest's own matching; any other request is decided at once.
   */
  readonly skippedPaths?: SkippedPaths | undefined;
  /**
   * Whether the module installs the check while the application is being created
   * (`NestFactory.create()`): before `main.ts` can give the adapter any middleware.
   */
  readonly early?: boolean | undefined;
}

/** A middleware as Express and @fastify/middie run it. */
type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * The all-paths check as a middleware: every request, or with `skipped` a front check that
 * leaves the requests on paths a skipped route may be routed on to the Nest middleware.
 */
function checkMiddleware(check: AllPathsCheck, skipped: SkippedPaths | undefined): Middleware {
  if (skipped === undefined)
    return function cdnOriginGuardAllPaths(req, res, next) {
      try {
        check.run(req, res, next);
      } catch (error) {
        check.failed(res, error); // fail closed, never a 500; logged
      }
    };
  return function cdnOriginGuardFront(req, res, next) {
    try {
      const target = targetAt(req, 'platform', check.onExpress);
      // A path a router or static-file server might read another way (dot segments, encoded
      // slashes, dots or `%`, backslashes, `;`) is never left for later: `main.ts`'s
      // registrations run before the Nest middleware, and serve-static resolves
      // `/ops/health/%2e%2e/file` to `/file` (outside review, 4 December).
      const path = target === undefined ? undefined : matchablePath(target);
      if (target === undefined || (path !== undefined && skipped.test(path, req.method)))
        // Nest's matching tells later whether a skipped route takes it: decided now, a deny
        // held until then (outside review, thirteenth session: left undecided, a static file or
        // any `main.ts` middleware answered a bot on such a path unchecked).
        check.runHolding(req, res, next);
      else check.run(req, res, next);
    } catch (error) {
      check.failed(res, error); // fail closed, never a 500; logged
    }
  };
}

/** A hook as Nest's Fastify adapter runs the one of `setOnRequestHook()`. */
type AdapterHook = (
  request: { raw: IncomingMessage },
  reply: { raw: ServerResponse },
  done: (error?: Error) => void,
) => unknown;

/** Nest's Fastify adapter with its request-hook slot (Nest 10.? and later). */
interface FirstHookAdapter {
  setOnRequestHook?: (hook: AdapterHook) => void;
  /** The hook in the slot (the adapter's own field). */
  onRequestHook?: unknown;
}

/**
 * Puts `middleware` in the Fastify adapter's request-hook slot: the adapter's constructor adds
 * the `onRequest` hook that runs it, so it runs before @fastify/middie's (which `NestFactory
 * .create()` registers before the modules exist), hence before the middleware `main.ts` gives
 * `app.use()` and every Nest middleware, without middie's per-request cost (a middie middleware
 * measured about 10 µs a request more, injected). The slot holds one hook, so it holds a chain
 * (one per adapter): every module instance's check in turn, then the app's hook (one already
 * there, or one `setOnRequestHook()` on this adapter puts there later: such a call replaces the
 * app's hook in the chain, never the checks). False when the adapter has no such slot.
 */
function takeFirstRequestHook(adapter: FirstHookAdapter, middleware: Middleware): boolean {
  const set = adapter.setOnRequestHook;
  if (typeof set !== 'function') return false;
  const existing = chains.get(adapter);
  if (existing !== undefined) {
    // Another module's check holds the slot: run after it (outside review, 4 December: each
    // took the other's hook for the app's, and the two called each other without end).
    existing.checks.push(middleware);
    return true;
  }
  const chain: HookChain = {
    checks: [middleware],
    app:
      typeof adapter.onRequestHook === 'function'
        ? (adapter.onRequestHook as AdapterHook)
        : undefined,
  };
  chains.set(adapter, chain);
  set.call(adapter, function cdnOriginGuardFirst(this: unknown, request, reply, done) {
    runChain(this, chain, 0, request, reply, done);
  });
  adapter.setOnRequestHook = (hook: AdapterHook) => {
    chain.app = hook;
  };
  return true;
}

/** The module's checks in an adapter's request-hook slot, then the app's own hook. */
interface HookChain {
  /** One per module instance, in the order they were installed. */
  readonly checks: Middleware[];
  /** The hook the app put in the slot (before or after the checks took it), if any. */
  app: AdapterHook | undefined;
}

/** The chain in each adapter's slot: installed once per adapter. */
const chains = new WeakMap<object, HookChain>();

/**
 * Runs the checks from `index` on, then the app's hook. A deny ends the Node response and never
 * calls `next`, as a middleware under middie; a throw from the app's hook is the app's error
 * (`done(error)`, as the adapter itself treats it), never a deny logged as the guard's failure.
 */
function runChain(
  self: unknown,
  chain: HookChain,
  index: number,
  request: { raw: IncomingMessage },
  reply: { raw: ServerResponse },
  done: (error?: Error) => void,
): void {
  const check = chain.checks[index];
  if (check !== undefined) {
    check(request.raw, reply.raw, () => runChain(self, chain, index + 1, request, reply, done));
    return;
  }
  const app = chain.app;
  if (app === undefined) {
    done();
    return;
  }
  const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));
  try {
    const result = app.call(self, request, reply, done) as { then?: unknown } | undefined;
    if (typeof result?.then === 'function')
      (result as Promise<unknown>).then(
        () => done(),
        (error: unknown) => done(asError(error)),
      );
  } catch (error) {
    done(asError(error));
  }
}

/**
 * Installs the all-paths check on the platform, ahead of everything `main.ts` registers:
 * - Express: an `app.use` function registered now (while the application is created, or at
 *   `configure()`, before Nest registers its middleware and routes).
 * - Fastify, while the application is created (`NestFactory.create()`): the adapter's
 *   request-hook slot ({@link takeFirstRequestHook}), which runs before @fastify/middie, or
 *   where the adapter has none the first middleware middie runs (given to the adapter's `use()`
 *   now: its `init()` registered middie before the modules were created); either way before the
 *   middleware `main.ts` gives `app.use()` and every Nest middleware (outside review, 4
 *   December: as a root `onRequest` hook it ran after middie's, and `main.ts`'s middleware
 *   answered a bot on any path).
 * - Fastify, later (at `configure()`, e.g. under @nestjs/testing): an `onRequest` hook on the
 *   root instance, only when no skipped route and no other module's Nest middleware exist.
 * With skipped routes it is a front check (Express, and Fastify while created), which leaves the
 * requests that may be on a skipped route to the Nest middleware. Returns false, installing
 * nothing, when it cannot: another adapter, a Fastify app past its creation with Nest
 * middleware that could come first, or a platform that refuses. The caller then installs the
 * Nest middleware (and always does after a front check, which decides only part of the requests).
 */
export function installPlatformCheck(verifier: OriginVerifier, site: PlatformCheckSite): boolean {
  const { adapter } = site;
  if (adapter === undefined) return false;
  const type = adapter.getType();
  const check = new AllPathsCheck(verifier, 'platform', type === 'express');
  if (type === 'express') {
    const app = adapter.getInstance<ExpressLikeApp>();
    if (typeof app?.use !== 'function') return false;
    app.use(checkMiddleware(check, site.skippedPaths));
    return true;
  }
  if (type !== 'fastify') return false;
  if (site.early) {
    const middleware = checkMiddleware(check, site.skippedPaths);
    if (takeFirstRequestHook(adapter as FirstHookAdapter, middleware)) return true;
    // Nest 10's adapter has no slot: the first middie middleware (registered by the adapter's
    // `init()`, which `NestFactory.create()` runs first). Where middie is not there yet, the
    // adapter refuses: not a failure, the Nest middleware runs the check instead.
    try {
      adapter.use(middleware);
    } catch {
      return false;
    }
    return true;
  }
  if (site.otherModulesConfigure || site.skippedPaths !== undefined) return false;
  const fastify = adapter.getInstance<FastifyLikeInstance>();
  if (typeof fastify?.addHook !== 'function') return false;
  try {
    fastify.addHook('onRequest', function cdnOriginGuardOnRequest(request, reply, done) {
      try {
        // A deny ends the Node response and never calls `done`, as a middleware under middie.
        check.run(request.raw, reply.raw, done);
      } catch (error) {
        check.failed(reply.raw, error); // fail closed, never a 500; logged
      }
    });
  } catch {
    // e.g. the instance is already listening: not a failure, the Nest middleware runs the same
    // check instead (the caller installs it).
    return false;
  }
  return true;
}

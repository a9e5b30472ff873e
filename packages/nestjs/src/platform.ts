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
import { routedTarget } from './guard.js';
import { AllPathsCheck } from './middleware.js';

/** The part of Express's app the module uses (the package does not depend on Express). */
interface ExpressLikeApp {
  use(handler: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): unknown;
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
  readonly skippedPaths?: Pick<RegExp, 'test'> | undefined;
}

/**
 * Installs the all-paths check on the platform: Express, an `app.use` function registered now,
 * before any Nest middleware and route (`configure()` runs before Nest registers either);
 * Fastify, an `onRequest` hook on the root instance (Fastify adds it to every encapsulated
 * context, existing or later, and to the not-found handler). Returns false, installing nothing,
 * when it cannot: another adapter, a Fastify app with other Nest middleware, a front check on
 * Fastify, or a platform that refuses. The caller then installs the Nest middleware (and always
 * does after a front check, which decides only part of the requests).
 */
export function installPlatformCheck(verifier: OriginVerifier, site: PlatformCheckSite): boolean {
  const { adapter } = site;
  if (adapter === undefined) return false;
  const type = adapter.getType();
  const check = new AllPathsCheck(verifier, 'platform', type === 'express');
  if (type === 'express') {
    const app = adapter.getInstance<ExpressLikeApp>();
    if (typeof app?.use !== 'function') return false;
    const skipped = site.skippedPaths;
    if (skipped === undefined)
      app.use(function cdnOriginGuardAllPaths(req, res, next) {
        try {
          check.run(req, res, next);
        } catch (error) {
          check.failed(res, error); // fail closed, never a 500; logged
        }
      });
    else
      app.use(function cdnOriginGuardFront(req, res, next) {
        try {
          const path = routedTarget(req, 'platform');
          // A path a router or static-file server might read another way (dot segments,
          // encoded slashes or dots, backslashes, `;`) is never left for later: `main.ts`'s
          // registrations run before the Nest middleware, and serve-static resolves
          // `/ops/health/%2e%2e/file` to `/file` (outside review, 4 December).
          if (path === undefined || (matchablePath(path) === path && skipped.test(path))) next();
          else check.run(req, res, next);
        } catch (error) {
          check.failed(res, error); // fail closed, never a 500; logged
        }
      });
    return true;
  }
  // On Fastify the Nest middleware already runs in @fastify/middie's `onRequest` hook, before
  // any body is read: a front check would add nothing.
  if (type === 'fastify' && !site.otherModulesConfigure && site.skippedPaths === undefined) {
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
      // e.g. the instance is already listening: not a failure, the Nest middleware runs the
      // same check instead (the caller installs it).
      return false;
    }
    return true;
  }
  return false;
}

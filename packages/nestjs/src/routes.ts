/**
 * What the module reads from the app's controllers at bootstrap: the routes that opted out
 * with `@SkipOriginGuard()` (left out of the all-routes middleware) and whether anything uses
 * the guard at all.
 * @module
 */
import { type MiddlewareConsumer, RequestMethod, type Type } from '@nestjs/common';
import type { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { ORIGIN_GUARD_RULE, type OriginGuardRule } from './constants.js';

// Nest's metadata keys (stable from Nest 10 to 12; not exported from the package root).
const PATH_METADATA = 'path';
const METHOD_METADATA = 'method';
const GUARDS_METADATA = '__guards__';
const MODULE_PATH = '__module_path__';
const VERSION_METADATA = '__version__';

/** A route as `MiddlewareConsumer.exclude()` takes it. */
export type RouteInfo = Exclude<
  Parameters<ReturnType<MiddlewareConsumer['apply']>['exclude']>[0],
  string
>;

/** The Nest services the scan reads. */
export interface RouteScan {
  readonly discovery: DiscoveryService;
  readonly scanner: MetadataScanner;
  readonly reflector: Reflector;
  readonly modules: ModulesContainer;
}

interface Handler {
  readonly controller: Type;
  readonly handler: (...args: unknown[]) => unknown;
  readonly modulePath: string | undefined;
}

function* handlers({ discovery, scanner, modules }: RouteScan): Generator<Handler> {
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type | undefined;
    if (!controller?.prototype) continue;
    const host = wrapper.host?.metatype;
    const modulePath: string | undefined = host
      ? (Reflect.getMetadata(MODULE_PATH + modules.applicationId, host) ??
        Reflect.getMetadata(MODULE_PATH, host))
      : undefined;
    for (const name of scanner.getAllMethodNames(controller.prototype)) {
      const handler = controller.prototype[name];
      if (typeof handler === 'function' && Reflect.hasMetadata(PATH_METADATA, handler))
        yield { controller, handler, modulePath };
    }
  }
}

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? ['/'] : Array.isArray(value) ? value : [value];

function join(...parts: (string | undefined)[]): string {
  const path = parts
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p.length > 0)
    .join('/');
  return `/${path}`;
}

/**
 * Every route whose handler resolves to `@SkipOriginGuard()` (method over class), as Nest's
 * `MiddlewareConsumer.exclude()` takes them (module path, controller path, handler path,
 * request method and version). Nest adds the global prefix itself.
 */
export function skippedRoutes(scan: RouteScan): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const { controller, handler, modulePath } of handlers(scan)) {
    const rule = scan.reflector.getAllAndOverride<OriginGuardRule | undefined>(ORIGIN_GUARD_RULE, [
      handler,
      controller,
    ]);
    if (rule !== 'skip') continue;
    const method: RequestMethod =
      Reflect.getMetadata(METHOD_METADATA, handler) ?? RequestMethod.GET;
    const version =
      Reflect.getMetadata(VERSION_METADATA, handler) ??
      Reflect.getMetadata(VERSION_METADATA, controller);
    for (const base of list(Reflect.getMetadata(PATH_METADATA, controller)))
      for (const path of list(Reflect.getMetadata(PATH_METADATA, handler)))
        routes.push({
          path: join(modulePath, base, path),
          method,
          ...(version === undefined ? {} : { version }),
        });
  }
  return routes;
}

/** A path segment with anything but literal text in it (Express 4/5, Fastify route syntax). */
const DYNAMIC_SEGMENT = /[:*?+(){}[\]\\!]/;

/**
 * A pattern that matches every path the skipped routes could be routed on, and usually little
 * else; `undefined` when some skipped route could be on any path (it starts with a parameter or
 * wildcard, or is `/`).
 *
 * Each route contributes its leading literal segments, e.g. `ops/health` for `ops/health/:id`.
 * Whatever is routed to that route has them, in that order and joined by `/`, somewhere in its
 * path: before them only what Nest puts in front (global prefix, URI version, RouterModule
 * path), after them the rest of the route. The pattern looks for them anywhere in the path,
 * ignoring case (Express routes case-insensitively by default), as written: Express matches a
 * route's literal segments against the raw path and decodes only parameters, so `/ops/heal%74h`
 * is never routed to `/ops/health` (a `%` elsewhere, in a parameter or a prefix, is left alone).
 * It may match paths of no skipped route: those are left to the middleware, which uses Nest's
 * own matching. (The front check runs on Express only.)
 */
export function skippedPathPattern(routes: readonly RouteInfo[]): RegExp | undefined {
  const literals = new Set<string>();
  for (const { path } of routes) {
    const segments: string[] = [];
    for (const segment of path.split('/')) {
      if (DYNAMIC_SEGMENT.test(segment)) break;
      if (segment !== '') segments.push(segment);
    }
    if (segments.length === 0) return undefined;
    literals.add(segments.join('/').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  }
  return new RegExp([...literals].join('|'), 'i');
}

/** Whether a controller or handler names `guard` in `@UseGuards()` (as `@RequireOriginGuard()` does). */
export function usedByAnyRoute(scan: RouteScan, guard: Type): boolean {
  for (const { controller, handler } of handlers(scan))
    for (const target of [handler, controller]) {
      const guards: unknown[] = Reflect.getMetadata(GUARDS_METADATA, target) ?? [];
      if (guards.some((g) => g === guard || g instanceof guard)) return true;
    }
  return false;
}

/** Whether some provider registers `guard` as an `APP_GUARD`. */
export function usedAsAppGuard(scan: RouteScan, guard: Type): boolean {
  return scan.discovery
    .getProviders()
    .some(
      (wrapper) =>
        typeof wrapper.token === 'string' &&
        wrapper.token.startsWith('APP_GUARD') &&
        (wrapper.metatype === guard || wrapper.instance instanceof guard),
    );
}

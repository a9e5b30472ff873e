/**
 * What the module reads from the app's controllers at bootstrap: the routes that opted out
 * with `@SkipOriginGuard()` (left out of the all-routes middleware) and whether anything uses
 * the guard at all.
 * @module
 */
import {
  type MiddlewareConsumer,
  RequestMethod,
  type Type,
  VERSION_NEUTRAL,
  VersioningType,
} from '@nestjs/common';
import type {
  ApplicationConfig,
  DiscoveryService,
  MetadataScanner,
  ModulesContainer,
  Reflector,
} from '@nestjs/core';
import { ORIGIN_GUARD_RULE, type OriginGuardRule } from './constants.js';

// Nest's metadata keys (stable from Nest 10 to 12; not exported from the package root).
const PATH_METADATA = 'path';
const METHOD_METADATA = 'method';
const GUARDS_METADATA = '__guards__';
const MODULE_PATH = '__module_path__';
const VERSION_METADATA = '__version__';

/** A route's version as Nest takes it (`@Version()`, a controller's `version`, `defaultVersion`). */
type VersionValue = string | typeof VERSION_NEUTRAL | (string | typeof VERSION_NEUTRAL)[];

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
 * A route `setGlobalPrefix(prefix, { exclude })` keeps outside the prefix, as Nest holds it
 * (`getGlobalPrefixOptions().exclude`: the request method and the path's regular expression).
 */
export interface ExcludedFromPrefix {
  readonly requestMethod?: RequestMethod | number | undefined;
  readonly pathRegex?: Pick<RegExp, 'test'> | undefined;
}

/** What Nest may put in front of a route's own path, read from the app's configuration. */
export interface RoutePrefixes {
  /** `app.setGlobalPrefix()`'s prefix ('' when none); routes it excludes stay at the root. */
  readonly globalPrefix: string;
  /**
   * The routes `setGlobalPrefix(prefix, { exclude })` lists: only a skipped route one of them
   * covers may be routed without the prefix.
   */
  readonly excludedFromGlobalPrefix?: readonly ExcludedFromPrefix[] | undefined;
  /** With URI versioning, the text before the version in its segment (`v` by default). */
  readonly uriVersionPrefix?: string | undefined;
  /** With URI versioning, the version of a route that declares none (`defaultVersion`). */
  readonly defaultVersion?: VersionValue | undefined;
}

/** What Nest puts in front of a route's path on this app (main.ts's global prefix, URI version). */
export function routePrefixes(config: ApplicationConfig): RoutePrefixes {
  const versioning = config.getVersioning();
  const uriVersionPrefix =
    versioning?.type === VersioningType.URI
      ? versioning.prefix === false
        ? ''
        : (versioning.prefix ?? 'v')
      : undefined;
  const defaultVersion =
    versioning?.type === VersioningType.URI ? versioning.defaultVersion : undefined;
  const excluded = config.getGlobalPrefixOptions?.()?.exclude ?? [];
  return {
    globalPrefix: config.getGlobalPrefix() ?? '',
    excludedFromGlobalPrefix: excluded as readonly ExcludedFromPrefix[],
    uriVersionPrefix,
    defaultVersion,
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Whether `setGlobalPrefix`'s exclusions may keep `route` outside the prefix: as Nest decides
 * (`isRouteExcluded`: the method, or all, and the path's regular expression on the route's path
 * without its version), erring towards "may" (a parameter length limit is not applied, and the
 * path is tried with a trailing slash too): taking the prefix as required for a route Nest
 * serves without it would deny that skipped route's own requests.
 */
function outsidePrefix(route: RouteInfo, excluded: readonly ExcludedFromPrefix[]): boolean {
  const path = route.path.startsWith('/') ? route.path : `/${route.path}`;
  return excluded.some(
    (e) =>
      (e.requestMethod === undefined ||
        e.requestMethod === RequestMethod.ALL ||
        e.requestMethod === -1 ||
        e.requestMethod === route.method) &&
      (e.pathRegex === undefined || e.pathRegex.test(path) || e.pathRegex.test(`${path}/`)),
  );
}

/** A skipped route's path as a pattern, as far as its segments are plain, and its version. */
interface RouteShape {
  /** The route, for the global prefix's exclusions. */
  readonly route: RouteInfo;
  /**
   * Its segments as a pattern, up to the first that is not plain text nor a plain parameter:
   * `/a/b/[^/]+` for `a/b/:id`, `/a/b` for `a/b/*rest`; '' for the root.
   */
  readonly segments: string;
  /** Whether a segment that may span several (a wildcard, an optional part, a pattern) follows. */
  readonly open: boolean;
  readonly version: VersionValue | undefined;
  /** The request methods it is routed on (see {@link methodsOf}). */
  readonly methods: readonly string[];
}

/** What {@link methodsOf} answers for a route on every method (`@All()`). */
const ANY_METHOD = '*';

/**
 * The request methods (as Node writes `req.method`) a route is routed on: `GET` also takes
 * `HEAD` (Express and Fastify both answer a `HEAD` with the `GET` handler), `ALL` (or a method
 * this Nest version names and we do not know) any method.
 */
function methodsOf(route: RouteInfo): readonly string[] {
  const name = (RequestMethod as unknown as Record<number, string | undefined>)[route.method];
  if (route.method === RequestMethod.ALL || typeof name !== 'string') return [ANY_METHOD];
  return name === 'GET' ? ['GET', 'HEAD'] : [name];
}

/**
 * The version segment Nest puts in front of a route under URI versioning: one of the route's own
 * versions (or the app's `defaultVersion` when it declares none), optional only when one of them
 * is `VERSION_NEUTRAL`; none when the route has no version or versioning is not by URI. Never
 * "any segment": a pattern accepting any version text would take `/vault-export.json` for the
 * root route under version `ault-export.json`, and the front check would let a bot through to
 * whatever `main.ts` serves there (outside review, 4 December).
 */
function versionSegment(version: VersionValue | undefined, prefixes: RoutePrefixes): string {
  const prefix = prefixes.uriVersionPrefix;
  const declared = version ?? prefixes.defaultVersion;
  if (prefix === undefined || declared === undefined) return '';
  const versions = Array.isArray(declared) ? declared : [declared];
  const named = versions.filter((v): v is string => typeof v === 'string');
  if (named.length === 0) return '';
  const segment = `/${escapeRegExp(prefix)}(?:${named.map(escapeRegExp).join('|')})`;
  return versions.includes(VERSION_NEUTRAL) ? `(?:${segment})?` : segment;
}

/**
 * A plain parameter segment (`:id`): Express (4 and 5) and Fastify route it on exactly one
 * non-empty segment.
 */
const PLAIN_PARAMETER = /^:[A-Za-z_$][\w$]*$/;

/**
 * Per skipped route, its path as a pattern (see {@link skippedPathPattern}); `undefined` when
 * some route could be on any path (its first segment may span several).
 */
function routeShapes(routes: readonly RouteInfo[]): RouteShape[] | undefined {
  const shapes: RouteShape[] = [];
  for (const route of routes) {
    const version = (route as { version?: VersionValue }).version;
    const parts: string[] = [];
    let open = false;
    for (const segment of route.path.split('/')) {
      if (segment === '') continue;
      if (PLAIN_PARAMETER.test(segment)) parts.push('/[^/]+');
      else if (!DYNAMIC_SEGMENT.test(segment)) parts.push(`/${escapeRegExp(segment)}`);
      else {
        open = true;
        break;
      }
    }
    if (open && parts.length === 0) return undefined;
    shapes.push({ route, segments: parts.join(''), open, version, methods: methodsOf(route) });
  }
  return shapes;
}

/** The pattern of {@link skippedPathPattern} from the routes' shapes and the app's prefixes. */
function patternOf(shapes: readonly RouteShape[], prefixes: RoutePrefixes): RegExp {
  const prefix = prefixes.globalPrefix
    .split('/')
    .filter((s) => s !== '')
    .map((s) => `/${escapeRegExp(s)}`)
    .join('');
  const excluded = prefixes.excludedFromGlobalPrefix ?? [];
  // The prefix is required unless setGlobalPrefix's exclusions cover the route: a path without
  // it that the pattern took for a skipped route would pass main.ts's registrations unchecked
  // (outside review, 4 December; until then any exclusion made it optional for every route).
  const alternatives = new Set(
    shapes.map(({ route, segments, open, version }) => {
      const prefixPart =
        prefix === '' ? '' : outsidePrefix(route, excluded) ? `(?:${prefix})?` : prefix;
      return `${prefixPart}${versionSegment(version, prefixes)}${segments}${open ? '(?:/|$)' : '/?$'}`;
    }),
  );
  return new RegExp(`^(?:${[...alternatives].join('|')})`, 'i');
}

/**
 * A pattern that matches every path the skipped routes could be routed on on Express, and little
 * else; `undefined` when some skipped route could be on any path (it starts with a wildcard, an
 * optional part or a parameter pattern).
 *
 * A route is routed on: Nest's global prefix (required unless `setGlobalPrefix`'s exclusions
 * cover the route), its URI version segment (see {@link versionSegment}), then the route's path
 * (RouterModule path, controller path, handler path) segment by segment: a literal segment as
 * written, a plain parameter (`:id`) as exactly one non-empty segment, as Express routes it. A
 * route made of those ends there (a trailing slash allowed); at the first segment that may span
 * several (a wildcard, an optional part, a parameter pattern) the path may go on (outside
 * review, 4 December: `ops/health/:id` used to take any path under `/ops/health/`, dot segments
 * included, which main.ts's static files then resolved outside it). Letters match in any case
 * (Express routes case-insensitively by default) and nothing is decoded: Express matches a
 * route's literal segments against the raw path, so `/ops/heal%74h` is never routed to
 * `/ops/health`. It may match paths of no skipped route: those are left to the Nest middleware,
 * which uses Nest's own matching.
 */
export function skippedPathPattern(
  routes: readonly RouteInfo[],
  prefixes: RoutePrefixes = { globalPrefix: '' },
): RegExp | undefined {
  const shapes = routeShapes(routes);
  return shapes && patternOf(shapes, prefixes);
}

/** Which requests the front check leaves to the Nest middleware (see {@link skippedPathMatcher}). */
export interface SkippedPaths {
  /** Whether a skipped route may be routed on `path` for a request of `method`. */
  test(path: string, method: string | undefined): boolean;
}

/**
 * {@link skippedPathPattern} for the front check, per request method, each built at its first
 * `test`: `main.ts` sets the global prefix and versioning after the module that installs the
 * check is created, and they are final once requests arrive. A path is left to the Nest
 * middleware only for a method one of the routes on it is routed on: a skipped `@Get()` route
 * left `POST`, `DELETE` and `OPTIONS` requests on its path to run through `main.ts`'s
 * registrations (CORS preflight, body parsers, `app.use()` middleware) unchecked (outside
 * review, 4 December, sixth session). `undefined` when some skipped route could be on any path.
 */
export function skippedPathMatcher(
  routes: readonly RouteInfo[],
  prefixes: () => RoutePrefixes,
): SkippedPaths | undefined {
  const shapes = routeShapes(routes);
  if (shapes === undefined) return undefined;
  const known = new Set(shapes.flatMap((shape) => shape.methods));
  // One pattern per method a route names, and one for every other method (the `@All()` routes):
  // never a key per method text a client sends.
  const patterns = new Map<string, RegExp | null>();
  return {
    test(path, method) {
      const key = method !== undefined && known.has(method) ? method : ANY_METHOD;
      let pattern = patterns.get(key);
      if (pattern === undefined) {
        const on = shapes.filter((s) => s.methods.includes(ANY_METHOD) || s.methods.includes(key));
        pattern = on.length === 0 ? null : patternOf(on, prefixes());
        patterns.set(key, pattern);
      }
      return pattern?.test(path) === true;
    },
  };
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

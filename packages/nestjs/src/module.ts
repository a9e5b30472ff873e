/**
 * `CdnOriginGuardModule`: provides the verifier, guards every path by default, loads its
 * sources during module init, logs source failures and closes the verifier on shutdown.
 * @module
 */
import {
  checkContinuePathRules,
  checkOptionKeys,
  checkRequestPaths,
  createOriginVerifier,
  guardUpgrades,
  InvalidOptionError,
  OPTION_KEYS,
  type OriginGuardOptions,
  type OriginVerifier,
  sourceEventLevel,
  sourceEventLogLine,
  type UpgradeGuardOptions,
  type UpgradeServer,
} from '@cdn-origin-guard/core';
import {
  type DynamicModule,
  type FactoryProvider,
  Inject,
  Logger,
  type MiddlewareConsumer,
  Module,
  type ModuleMetadata,
  type NestModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
  type Provider,
  type Type,
} from '@nestjs/common';
import {
  APP_FILTER,
  APP_GUARD,
  ApplicationConfig,
  DiscoveryModule,
  DiscoveryService,
  HttpAdapterHost,
  MetadataScanner,
  ModulesContainer,
  Reflector,
} from '@nestjs/core';
import {
  CDN_ORIGIN_GUARD_OPTIONS,
  CDN_ORIGIN_GUARD_VERIFIER,
  CDN_ORIGIN_GUARD_WIRING,
} from './constants.js';
import { gatewaysOf, ownPortLine, withGatewayPaths } from './gateways.js';
import { CdnOriginGuard, logDecision, markHandshake } from './guard.js';
import { CdnOriginGuardMiddleware, OriginDeniedFilter } from './middleware.js';
import { installPlatformCheck } from './platform.js';
import {
  type RouteScan,
  routePrefixes,
  skippedPathMatcher,
  skippedRoutes,
  usedAsAppGuard,
  usedByAnyRoute,
} from './routes.js';
import { appListenerOf, serverWatchOf } from './servers.js';

/** How the module is wired into the app; not passed to the core. */
export interface CdnOriginGuardModuleWiring {
  /** Register the module globally, so any module can inject the guard and the verifier. Defaults to `true`. */
  readonly isGlobal?: boolean;
  /** @deprecated Use `isGlobal`. The same setting under its old name. */
  readonly global?: boolean;
  /**
   * Guard every route: `CdnOriginGuard` as an `APP_GUARD` plus a middleware on every path, so
   * unknown paths get the same deny as guarded ones. Opt a route out with
   * `@SkipOriginGuard()`. `false` guards only `@RequireOriginGuard()` routes (and warns at
   * bootstrap when there are none). Defaults to `true`.
   */
  readonly applyGlobally?: boolean;
  /**
   * Execution context types let through when they carry no HTTP request to verify (`'rpc'`,
   * `'ws'`, `'graphql'` for subscriptions over WebSocket). A WebSocket's handshake is an HTTP
   * request the module verifies on the server, so `'ws'` lets through only the messages of
   * connections whose handshake passed. A context that has an HTTP request (GraphQL over HTTP)
   * is always verified, listed or not; anything not listed and without an HTTP request is
   * denied. Defaults to `[]`.
   */
  readonly allowContextTypes?: readonly ('rpc' | 'ws' | 'graphql' | (string & {}))[];
  /**
   * Path prefixes of requests checked on the HTTP server, before any `'request'` listener: give
   * your Socket.IO `path` here when it is not `/socket.io` (without a trailing `/`), e.g. a
   * gateway's `@WebSocketGateway({ path: '/live' })`. Socket.IO's engine answers its HTTP
   * long-polling requests itself, before Nest, so a request under a path missing here reaches
   * it unchecked. Each must start with `/`; `[]` checks none. Defaults to `['/socket.io']`.
   * See the core's `guardUpgrades`.
   */
  readonly requestPaths?: readonly string[];
  /**
   * Set it when a `'checkContinue'` listener you add to the HTTP server hands every request on
   * to Nest (`res.writeContinue(); server.emit('request', req, res)`): the core's
   * `excludePaths` and `healthCheckPaths` then apply to those requests on the server too, so an
   * excluded webhook that sends `Expect: 100-continue` passes. Defaults to `false`: a listener
   * that answers by itself would otherwise run for a bot on an excluded path. See the core's
   * `continuePathRules`.
   */
  readonly continuePathRules?: boolean;
}

/**
 * Options of {@link CdnOriginGuardModule.forRoot}: the core options plus the wiring
 * (`isGlobal`, `applyGlobally`, `allowContextTypes`, `requestPaths`, `continuePathRules`).
 *
 * @example
 * ```ts
 * import { CdnOriginGuardModule, optionsFromEnv, type CdnOriginGuardModuleOptions } from '@cdn-origin-guard/nestjs';
 * const options: CdnOriginGuardModuleOptions = { ...optionsFromEnv(), proxyHops: 2 };
 * CdnOriginGuardModule.forRoot(options);
 * ```
 */
export type CdnOriginGuardModuleOptions = OriginGuardOptions & CdnOriginGuardModuleWiring;

/**
 * A class that builds the core options, for `forRootAsync({ useClass })` / `{ useExisting }`.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import type { CdnOriginGuardOptionsFactory } from '@cdn-origin-guard/nestjs';
 *
 * @Injectable()
 * export class GuardConfig implements CdnOriginGuardOptionsFactory {
 *   createCdnOriginGuardOptions() { return { secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' as const }; }
 * }
 * ```
 */
export interface CdnOriginGuardOptionsFactory {
  /** Returns the core options (sync or async). */
  createCdnOriginGuardOptions():
    | Readonly<OriginGuardOptions>
    | Promise<Readonly<OriginGuardOptions>>;
}

/**
 * Options of {@link CdnOriginGuardModule.forRootAsync}: exactly one of `useFactory`,
 * `useClass` or `useExisting`. The wiring options are given here, not by the factory, because
 * they decide how the module is wired before it runs.
 *
 * @example
 * ```ts
 * import { ConfigModule, ConfigService } from '@nestjs/config';
 * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
 *
 * CdnOriginGuardModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ secretId: config.getOrThrow('ORIGIN_SECRET_ID'), ranges: 'prefix-list' }),
 * });
 * ```
 */
export interface CdnOriginGuardModuleAsyncOptions extends CdnOriginGuardModuleWiring {
  /** Modules exporting the providers listed in `inject` or used by `useExisting`. Defaults to `[]`. */
  readonly imports?: ModuleMetadata['imports'];
  /** Returns the core options (sync or async), given the `inject` providers in order. */
  readonly useFactory?: (
    ...args: never[]
  ) => Readonly<OriginGuardOptions> | Promise<Readonly<OriginGuardOptions>>;
  /** Providers passed to `useFactory`. Defaults to `[]`. */
  readonly inject?: FactoryProvider['inject'];
  /** A class the module instantiates to build the options. Defaults to none. */
  readonly useClass?: Type<CdnOriginGuardOptionsFactory>;
  /** An existing provider (from `imports`) that builds the options. Defaults to none. */
  readonly useExisting?: Type<CdnOriginGuardOptionsFactory> | string | symbol;
}

const WIRING_KEYS = [
  'isGlobal',
  'global',
  'applyGlobally',
  'allowContextTypes',
  'requestPaths',
  'continuePathRules',
] as const;

/** The wiring options that are booleans. */
const BOOLEAN_WIRING_KEYS = ['isGlobal', 'global', 'applyGlobally'] as const;

/** Every key `forRoot` accepts: the core's options and the wiring. */
const FOR_ROOT_KEYS: readonly string[] = [...OPTION_KEYS, ...WIRING_KEYS];

/** Every key `forRootAsync` accepts (the compiler checks the list against the type). */
const FOR_ROOT_ASYNC_KEYS: readonly string[] = Object.keys({
  imports: true,
  useFactory: true,
  inject: true,
  useClass: true,
  useExisting: true,
  isGlobal: true,
  global: true,
  applyGlobally: true,
  allowContextTypes: true,
  requestPaths: true,
  continuePathRules: true,
} satisfies Record<keyof CdnOriginGuardModuleAsyncOptions, true>);

/**
 * The options of `forRoot` or `forRootAsync` (`method`), checked when it is called: an object
 * whose keys are all `known` (a typo gets "Did you mean"), whose boolean wiring options are
 * booleans. Returned as a copy of its own properties: an option is never read from a polluted
 * `Object.prototype`, as in the core.
 */
function ownOptions(
  method: 'forRoot' | 'forRootAsync',
  options: unknown,
  known: readonly string[],
  notKnown?: string,
): Readonly<Record<string, unknown>> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError(
      method,
      `was called with ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}; expected an options object.`,
    );
  checkOptionKeys(options, known, notKnown);
  const own: Record<string, unknown> = Object.assign(Object.create(null), options);
  for (const key of BOOLEAN_WIRING_KEYS) {
    const value = own[key];
    if (value !== undefined && typeof value !== 'boolean')
      throw new InvalidOptionError(
        key,
        `is ${typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : typeof value}; expected true or false.`,
      );
  }
  return own;
}

function coreOptions(options: Readonly<Record<string, unknown>>): OriginGuardOptions {
  const core: Record<string, unknown> = { ...options };
  for (const key of WIRING_KEYS) delete core[key];
  return core as unknown as OriginGuardOptions;
}

/** The core options a `forRootAsync` source returned: never a wiring key. */
function checkedCoreOptions(result: Readonly<OriginGuardOptions>): Readonly<OriginGuardOptions> {
  for (const key of WIRING_KEYS)
    if (result && typeof result === 'object' && Object.hasOwn(result, key))
      throw new InvalidOptionError(
        key,
        `decides how the module is wired; pass it to forRootAsync({ ${key} }) itself, not from the options factory.`,
      );
  return result;
}

function asyncOptionsProviders(options: Readonly<CdnOriginGuardModuleAsyncOptions>): Provider[] {
  const given = (['useFactory', 'useClass', 'useExisting'] as const).filter(
    (key) => options[key] !== undefined,
  );
  if (given.length !== 1)
    throw new InvalidOptionError(
      'forRootAsync',
      `needs exactly one of useFactory, useClass or useExisting; got ${given.length === 0 ? 'none' : given.join(' and ')}.`,
    );
  const { useFactory, useClass, useExisting } = options;
  if (useFactory)
    return [
      {
        provide: CDN_ORIGIN_GUARD_OPTIONS,
        useFactory: async (...args: never[]) => checkedCoreOptions(await useFactory(...args)),
        inject: options.inject ?? [],
      },
    ];
  const factoryToken = (useClass ?? useExisting) as Type<CdnOriginGuardOptionsFactory>;
  return [
    ...(useClass ? [{ provide: useClass, useClass }] : []),
    {
      provide: CDN_ORIGIN_GUARD_OPTIONS,
      useFactory: async (factory: CdnOriginGuardOptionsFactory) =>
        checkedCoreOptions(await factory.createCdnOriginGuardOptions()),
      inject: [factoryToken],
    },
  ];
}

const verifierProvider: Provider = {
  provide: CDN_ORIGIN_GUARD_VERIFIER,
  useFactory: (options: Readonly<OriginGuardOptions>) => createOriginVerifier(options),
  inject: [CDN_ORIGIN_GUARD_OPTIONS],
};

/** The wiring with its defaults applied. */
interface Wiring {
  readonly applyGlobally: boolean;
  readonly allowContextTypes: readonly string[];
  readonly requestPaths: readonly string[];
  readonly continuePathRules: boolean;
}

/**
 * Nest module providing the verifier (token `CDN_ORIGIN_GUARD_VERIFIER`) and `CdnOriginGuard`.
 * By default it guards every route and every unknown path on both platforms (an `APP_GUARD`
 * plus a middleware on all routes but `@SkipOriginGuard()` ones); `applyGlobally: false`
 * guards only `@RequireOriginGuard()` routes. Either way every HTTP upgrade request (a
 * WebSocket handshake) of the app's HTTP server is verified from bootstrap on, before any
 * `'upgrade'` listener. Sources load during module init: bootstrap fails
 * with a `NotReadyError` when they cannot load, or, with `failOnStartupError: false`, logs a
 * warning and denies until they load. Source failures after startup and their recovery are
 * logged once per streak. The verifier is closed when the app closes.
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
 *
 * @Module({
 *   imports: [CdnOriginGuardModule.forRoot({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' })],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class CdnOriginGuardModule
  implements
    NestModule,
    OnModuleInit,
    OnApplicationBootstrap,
    OnModuleDestroy,
    OnApplicationShutdown
{
  private readonly logger = new Logger('CdnOriginGuardModule');
  /** Where deny lines go, as the guard's. */
  private readonly denyLogger = new Logger('CdnOriginGuard');
  private readonly unsubscribe: () => void;
  /** Stops checking the HTTP server's upgrade requests (set at bootstrap). */
  private unguardUpgrades: (() => void) | undefined;
  /** Whether the all-paths check was installed on the platform when the module was created. */
  private readonly installedEarly: boolean;
  /** Whether a front check (Express, skip mode) decides every path no skipped route is on. */
  private frontCheck = false;

  constructor(
    @Inject(CDN_ORIGIN_GUARD_VERIFIER) private readonly verifier: OriginVerifier,
    @Inject(CDN_ORIGIN_GUARD_WIRING) private readonly wiring: Wiring,
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ApplicationConfig) private readonly appConfig: ApplicationConfig,
  ) {
    this.unsubscribe = verifier.onSourceEvent((event) => {
      // A first load failing is the startup failure, reported by onModuleInit.
      if (event.type === 'failing' && !event.everLoaded) return;
      const level = sourceEventLevel(event);
      if (level === 'error') this.logger.error(sourceEventLogLine(event));
      else if (level === 'warn') this.logger.warn(sourceEventLogLine(event));
      else this.logger.log(sourceEventLogLine(event));
    });
    this.installedEarly = this.installPlatformCheckNow();
  }

  /**
   * Installs the all-paths check on the platform while the application is being created, when
   * it can run there (see {@link configure}) and the adapter is already known (`NestFactory
   * .create()` sets it before creating modules; `@nestjs/testing` only afterwards). Created
   * now, it comes before everything `main.ts` and Nest's `init()` register on the platform:
   * Express's body parsers, `useStaticAssets()`, `enableCors()`, `app.use()` middleware. So a
   * bot's request is denied before a parser answers 400 or 413, a static file is served or a
   * preflight is answered: every deny looks the same and nothing is parsed for it. With a
   * `@SkipOriginGuard()` route it installs only a front check (Express), and returns false:
   * `configure()` still installs the Nest middleware that decides the paths it leaves.
   */
  private installPlatformCheckNow(): boolean {
    const adapter = this.adapterHost.httpAdapter ?? undefined;
    if (!this.wiring.applyGlobally || adapter === undefined) return false;
    const skipped = skippedRoutes(this.scan);
    const site = { adapter, otherModulesConfigure: this.otherModulesConfigure(), early: true };
    if (skipped.length === 0) return installPlatformCheck(this.verifier, site);
    // Some route is skipped: the Nest middleware (configure()) excludes it with Nest's own
    // matching. A front check on the platform answers, before anything else runs, the denies
    // on paths no skipped route can be on; the middleware still decides the others.
    const skippedPaths = skippedPathMatcher(skipped, () => routePrefixes(this.appConfig));
    if (skippedPaths === undefined) return false;
    this.frontCheck = installPlatformCheck(this.verifier, { ...site, skippedPaths });
    return false;
  }

  /**
   * Configure the module with static options. `isGlobal` and `applyGlobally` default to
   * `true`, `allowContextTypes` to `[]`, `requestPaths` to `['/socket.io']`.
   *
   * @example
   * ```ts
   * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
   * CdnOriginGuardModule.forRoot({ secret: process.env.ORIGIN_SECRET!, ranges: 'ip-ranges' });
   * ```
   */
  static forRoot(options: Readonly<CdnOriginGuardModuleOptions>): DynamicModule {
    const own = ownOptions('forRoot', options, FOR_ROOT_KEYS);
    return CdnOriginGuardModule.wire(
      own,
      [],
      [{ provide: CDN_ORIGIN_GUARD_OPTIONS, useValue: coreOptions(own) }],
    );
  }

  /**
   * Configure the module from providers, e.g. a `ConfigService`: `useFactory`, `useClass` or
   * `useExisting`. `isGlobal` and `applyGlobally` default to `true`.
   *
   * @example
   * ```ts
   * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
   * CdnOriginGuardModule.forRootAsync({ useFactory: async () => ({ secretId: await lookUpSecretId() }) });
   * ```
   */
  static forRootAsync(options: Readonly<CdnOriginGuardModuleAsyncOptions>): DynamicModule {
    const own: CdnOriginGuardModuleAsyncOptions = ownOptions(
      'forRootAsync',
      options,
      FOR_ROOT_ASYNC_KEYS,
      `is not an option of forRootAsync (${FOR_ROOT_ASYNC_KEYS.join(', ')}); the guard's own options come from useFactory, useClass or useExisting.`,
    );
    return CdnOriginGuardModule.wire(own, own.imports ?? [], asyncOptionsProviders(own));
  }

  private static wire(
    options: CdnOriginGuardModuleWiring,
    imports: NonNullable<ModuleMetadata['imports']>,
    optionsProviders: Provider[],
  ): DynamicModule {
    const wiring: Wiring = {
      applyGlobally: options.applyGlobally ?? true,
      allowContextTypes: checkedContextTypes(options.allowContextTypes),
      requestPaths: checkRequestPaths(options.requestPaths),
      continuePathRules: checkContinuePathRules(options.continuePathRules) ?? false,
    };
    return {
      module: CdnOriginGuardModule,
      global: options.isGlobal ?? options.global ?? true,
      imports: [DiscoveryModule, ...imports],
      providers: [
        ...optionsProviders,
        verifierProvider,
        { provide: CDN_ORIGIN_GUARD_WIRING, useValue: wiring },
        CdnOriginGuard,
        CdnOriginGuardMiddleware,
        { provide: APP_FILTER, useClass: OriginDeniedFilter },
        ...(wiring.applyGlobally ? [{ provide: APP_GUARD, useClass: CdnOriginGuard }] : []),
      ],
      exports: [CDN_ORIGIN_GUARD_VERIFIER, CdnOriginGuard],
    };
  }

  private get scan(): RouteScan {
    return {
      discovery: this.discovery,
      scanner: this.scanner,
      reflector: this.reflector,
      modules: this.modules,
    };
  }

  /**
   * Installs the deny-by-default check on every path. With no `@SkipOriginGuard()` route (the
   * usual case) it runs on the platform itself (platform.ts): no route is excluded, so no
   * route matching is re-implemented. With one, or where the platform hook cannot be used,
   * it is a Nest middleware on every path but the skipped routes, so Nest's own matching
   * decides what is excluded.
   */
  configure(consumer: MiddlewareConsumer): void {
    if (!this.wiring.applyGlobally || this.installedEarly) return;
    const skipped = skippedRoutes(this.scan);
    if (
      skipped.length === 0 &&
      installPlatformCheck(this.verifier, {
        adapter: this.adapterHost.httpAdapter ?? undefined,
        otherModulesConfigure: this.otherModulesConfigure(),
      })
    )
      return;
    if (!this.frontCheck) this.warnOfMiddlewareAhead();
    consumer
      .apply(CdnOriginGuardMiddleware)
      .exclude(...skipped)
      .forRoutes('*');
  }

  /**
   * The check is a Nest middleware here, and Nest runs the middleware of global modules first,
   * then by distance from the root module, each group in the order the modules were found: a
   * module with a `configure()` that comes before this one (another `@Global()` module imported
   * earlier, or any global one when this module is not global) has its middleware run first,
   * and it could answer a request the guard never checked. Said once at startup, naming them.
   */
  private warnOfMiddlewareAhead(): void {
    const entries = [...this.modules.values()];
    const ours = entries.find((m) => m.metatype === CdnOriginGuardModule);
    if (ours === undefined) return;
    const rank = (m: (typeof entries)[number]) =>
      m.distance === Number.MAX_VALUE ? -1 : m.distance;
    const ourRank = rank(ours);
    const ourIndex = entries.indexOf(ours);
    const ahead = entries.filter((m, i) => {
      if (m === ours || !hasConfigure(m)) return false;
      const r = rank(m);
      return r < ourRank || (r === ourRank && i < ourIndex);
    });
    if (ahead.length === 0) return;
    this.logger.warn(
      `the middleware of ${ahead.map((m) => m.name).join(', ')} runs before cdn-origin-guard's check (Nest runs global modules' middleware first, then by import order) and could answer requests the guard never checked. Import CdnOriginGuardModule before ${ahead.length === 1 ? 'it' : 'them'}, with isGlobal: true (the default).`,
    );
  }

  /**
   * Whether a module other than this one has a `configure()`, i.e. may install Nest middleware.
   * Read from its class (a module may not be created yet), then from its instance.
   */
  private otherModulesConfigure(): boolean {
    for (const module of this.modules.values()) {
      // This module: its instance is not set yet while its constructor runs.
      if (module.metatype === CdnOriginGuardModule) continue;
      if (hasConfigure(module, this)) return true;
    }
    return false;
  }

  /** Loads the sources; rejects bootstrap when they cannot load and `failOnStartupError` is true. */
  async onModuleInit(): Promise<void> {
    try {
      await this.verifier.ready();
    } catch (error) {
      if (this.verifier.failOnStartupError) throw error;
      this.logger.warn(
        `sources not loaded yet; denying until they load (failOnStartupError: false): ${(error as Error).message}`,
      );
    }
  }

  /**
   * Checks the HTTP server's upgrade requests, then warns when nothing uses the guard: a module
   * that guards nothing must not look like one that does.
   */
  onApplicationBootstrap(): void {
    this.guardUpgrades();
    if (this.wiring.applyGlobally) return;
    if (usedAsAppGuard(this.scan, CdnOriginGuard) || usedByAnyRoute(this.scan, CdnOriginGuard))
      return;
    this.logger.warn(
      'CdnOriginGuard is registered nowhere: applyGlobally is false, no APP_GUARD provides it and no route uses @RequireOriginGuard() or @UseGuards(CdnOriginGuard). Nothing is guarded.',
    );
  }

  /**
   * Checks every HTTP upgrade request (a WebSocket handshake: a gateway on the HTTP server,
   * GraphQL subscriptions over `graphql-ws`) before the server's `'upgrade'` listeners see it:
   * Node emits it as `'upgrade'`, not as a request, so neither the platform check nor a guard
   * ever does. On both platforms, with `applyGlobally` or not: no route stands for a handshake
   * (`@RequireOriginGuard()` cannot mark one), and the messages of a connection, which
   * `allowContextTypes: ['ws']` lets through, are only as trusted as its handshake. An app
   * without an HTTP server (an application context) has no upgrades.
   */
  private guardUpgrades(): void {
    let server: unknown;
    try {
      server = this.adapterHost.httpAdapter?.getHttpServer();
    } catch {
      return; // no HTTP server: nothing to upgrade
    }
    if (typeof (server as Partial<UpgradeServer> | undefined)?.emit !== 'function') return;
    const { denyLogger: logger, verifier } = this;
    const gateways = gatewaysOf(this.discovery);
    for (const gateway of gateways) if (gateway.port !== 0) this.logger.error(ownPortLine(gateway));
    const options: UpgradeGuardOptions = {
      onDecision: (decision, req) => {
        if (decision.allowed) markHandshake(req, verifier, decision);
        logDecision(logger, verifier, decision, { method: req.method, path: req.url });
      },
      onError: (error, req) =>
        logDecision(logger, verifier, undefined, { method: req.method, path: req.url }, error),
      requestPaths: withGatewayPaths(this.wiring.requestPaths, gateways),
      continuePathRules: this.wiring.continuePathRules,
    };
    this.unguardUpgrades = guardUpgrades(server as UpgradeServer, verifier, options);
    // Any other server Nest's requests come from (one created around the adapter's instance):
    // guarded at its first request, with an error line if it already had listeners.
    serverWatchOf(verifier).start({
      guard: (other) => guardUpgrades(other, verifier, options),
      app: appListenerOf(this.adapterHost.httpAdapter ?? undefined),
    });
  }

  /** Stops the verifier's refresh timers; decisions go on with the values it holds. */
  async onModuleDestroy(): Promise<void> {
    this.unsubscribe();
    await this.verifier.close();
  }

  /**
   * Stops checking upgrade requests once the HTTP server and its gateways are closed: Nest
   * closes them after `beforeApplicationShutdown`, so a graceful-shutdown drain still takes
   * handshakes, and removing the check in `onModuleDestroy` let a bot's open during it (outside
   * review, 4 December, fifth session).
   */
  onApplicationShutdown(): void {
    this.unguardUpgrades?.();
    this.unguardUpgrades = undefined;
    serverWatchOf(this.verifier).stop();
  }
}

/**
 * Whether a module has a `configure()` (may install Nest middleware). Read from its class (a
 * module may not be created yet), then from its instance (a `configure` assigned in a
 * constructor); `self` is left out.
 */
function hasConfigure(
  module: { metatype: unknown; instance: unknown },
  self?: CdnOriginGuardModule,
): boolean {
  const type = module.metatype as { prototype?: Partial<NestModule> } | undefined;
  if (typeof type?.prototype?.configure === 'function') return true;
  let instance: Partial<NestModule> | undefined;
  try {
    instance = module.instance as Partial<NestModule> | undefined;
  } catch {
    return false; // not created yet: its class said it has no `configure()`
  }
  return instance !== self && typeof instance?.configure === 'function';
}

/**
 * `allowContextTypes`, checked: an array of context type names, never `'http'` (an HTTP request
 * always carries what the guard verifies; listing it would let every one through the guard).
 */
function checkedContextTypes(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw new InvalidOptionError(
      'allowContextTypes',
      `is ${typeof value}; expected an array of context types such as ['rpc', 'ws'].`,
    );
  return value.map((type: unknown, i) => {
    if (typeof type !== 'string' || type === '')
      throw new InvalidOptionError(
        `allowContextTypes[${i}]`,
        `is ${type === '' ? 'empty' : typeof type}; expected a context type such as 'rpc', 'ws' or 'graphql'.`,
      );
    if (type.toLowerCase() === 'http')
      throw new InvalidOptionError(
        `allowContextTypes[${i}]`,
        "is 'http': HTTP requests are always verified, and listing it would let every one through the guard. List only contexts without a CloudFront request ('rpc', 'ws', 'graphql').",
      );
    return type;
  });
}

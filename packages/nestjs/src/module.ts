/**
 * `CdnOriginGuardModule`: provides the verifier, loads its sources during module init and
 * closes it on shutdown.
 * @module
 */
import {
  createOriginVerifier,
  InvalidOptionError,
  type OriginGuardOptions,
  type OriginVerifier,
} from '@cdn-origin-guard/core';
import {
  type DynamicModule,
  type FactoryProvider,
  Inject,
  Logger,
  Module,
  type ModuleMetadata,
  type OnModuleDestroy,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CDN_ORIGIN_GUARD_OPTIONS, CDN_ORIGIN_GUARD_VERIFIER } from './constants.js';
import { CdnOriginGuard } from './guard.js';

/** How the module is wired into the app; not passed to the core. */
interface ModuleWiring {
  /** Register the module globally, so any module can use the guard and the verifier. Defaults to `true`. */
  readonly global?: boolean;
  /** Register `CdnOriginGuard` as an `APP_GUARD`, guarding every route. Defaults to `false`. */
  readonly applyGlobally?: boolean;
}

/**
 * Options of {@link CdnOriginGuardModule.forRoot}: the core options plus `global` (defaults to
 * `true`) and `applyGlobally` (defaults to `false`).
 *
 * @example
 * ```ts
 * import { CdnOriginGuardModule, type CdnOriginGuardModuleOptions } from '@cdn-origin-guard/nestjs';
 * const options: CdnOriginGuardModuleOptions = { secretId: 'prod/cloudfront/origin-verify', applyGlobally: true };
 * CdnOriginGuardModule.forRoot(options);
 * ```
 */
export type CdnOriginGuardModuleOptions = OriginGuardOptions & ModuleWiring;

/**
 * Options of {@link CdnOriginGuardModule.forRootAsync}. `global` and `applyGlobally` are given
 * here, not by the factory, because they decide how the module is wired before it runs.
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
 *   applyGlobally: true,
 * });
 * ```
 */
export interface CdnOriginGuardModuleAsyncOptions extends ModuleWiring {
  /** Modules exporting the providers listed in `inject`. Defaults to `[]`. */
  readonly imports?: ModuleMetadata['imports'];
  /** Returns the core options (sync or async), given the `inject` providers in order. */
  readonly useFactory: (
    ...args: never[]
  ) => Readonly<OriginGuardOptions> | Promise<Readonly<OriginGuardOptions>>;
  /** Providers passed to `useFactory`. Defaults to `[]`. */
  readonly inject?: FactoryProvider['inject'];
}

function coreOptions(options: Readonly<CdnOriginGuardModuleOptions>): OriginGuardOptions {
  const { global: _global, applyGlobally: _applyGlobally, ...core } = options;
  return core as OriginGuardOptions;
}

const verifierProvider: Provider = {
  provide: CDN_ORIGIN_GUARD_VERIFIER,
  useFactory: (options: Readonly<OriginGuardOptions>) => createOriginVerifier(options),
  inject: [CDN_ORIGIN_GUARD_OPTIONS],
};

/**
 * Nest module providing the verifier (token `CDN_ORIGIN_GUARD_VERIFIER`) and `CdnOriginGuard`.
 * Sources load during module init: bootstrap fails with a `NotReadyError` when they cannot
 * load, or, with `failOnStartupError: false`, logs a warning and denies until they load. The
 * verifier is closed when the app closes.
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
 *
 * @Module({
 *   imports: [
 *     CdnOriginGuardModule.forRoot({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list', applyGlobally: true }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class CdnOriginGuardModule implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('CdnOriginGuardModule');

  constructor(@Inject(CDN_ORIGIN_GUARD_VERIFIER) private readonly verifier: OriginVerifier) {}

  /**
   * Configure the module with static options. `global` defaults to `true`, `applyGlobally`
   * to `false`.
   *
   * @example
   * ```ts
   * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
   * CdnOriginGuardModule.forRoot({ secret: process.env.ORIGIN_SECRET!, ranges: 'ip-ranges', applyGlobally: true });
   * ```
   */
  static forRoot(options: Readonly<CdnOriginGuardModuleOptions>): DynamicModule {
    return CdnOriginGuardModule.wire(options, [], {
      provide: CDN_ORIGIN_GUARD_OPTIONS,
      useValue: coreOptions(options),
    });
  }

  /**
   * Configure the module from providers, e.g. a `ConfigService`. `global` defaults to `true`,
   * `applyGlobally` to `false`.
   *
   * @example
   * ```ts
   * import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
   * CdnOriginGuardModule.forRootAsync({ useFactory: async () => ({ secretId: await lookUpSecretId() }) });
   * ```
   */
  static forRootAsync(options: Readonly<CdnOriginGuardModuleAsyncOptions>): DynamicModule {
    const { useFactory } = options;
    return CdnOriginGuardModule.wire(options, options.imports ?? [], {
      provide: CDN_ORIGIN_GUARD_OPTIONS,
      useFactory: async (...args: never[]) => {
        const result = await useFactory(...args);
        for (const key of ['global', 'applyGlobally'] as const)
          if (result && typeof result === 'object' && key in result)
            throw new InvalidOptionError(
              key,
              `decides how the module is wired; pass it to forRootAsync({ ${key} }) itself, not from useFactory.`,
            );
        return result;
      },
      inject: options.inject ?? [],
    });
  }

  private static wire(
    wiring: ModuleWiring,
    imports: NonNullable<ModuleMetadata['imports']>,
    optionsProvider: Provider,
  ): DynamicModule {
    return {
      module: CdnOriginGuardModule,
      global: wiring.global ?? true,
      imports,
      providers: [
        optionsProvider,
        verifierProvider,
        CdnOriginGuard,
        ...(wiring.applyGlobally ? [{ provide: APP_GUARD, useClass: CdnOriginGuard }] : []),
      ],
      exports: [CDN_ORIGIN_GUARD_VERIFIER, CdnOriginGuard],
    };
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

  /** Stops the verifier's refresh timers. */
  async onModuleDestroy(): Promise<void> {
    await this.verifier.close();
  }
}

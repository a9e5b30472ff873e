/**
 * Issue 10: `{ ...optionsFromEnv(), ...overrides }` type-checks as every adapter's options.
 */
import type { BaseGuardOptions } from '@cdn-origin-guard/core';
import {
  type CdnOriginGuardOptions,
  cdnOriginGuard,
  optionsFromEnv,
} from '@cdn-origin-guard/express';
import { cdnOriginGuard as fastifyGuard } from '@cdn-origin-guard/fastify';
import { CdnOriginGuardModule, type CdnOriginGuardModuleOptions } from '@cdn-origin-guard/nestjs';
import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';

const overrides: BaseGuardOptions = { proxyHops: 2, logLevel: 'warn' };

describe('adapter options compose with optionsFromEnv()', () => {
  it('Express: cdnOriginGuard({ ...optionsFromEnv(), ...overrides, logger })', () => {
    const options = { ...optionsFromEnv(), ...overrides, logger: console };
    expectTypeOf(options).toMatchTypeOf<CdnOriginGuardOptions>();
    expectTypeOf(cdnOriginGuard).toBeCallableWith(options);
  });

  it('Fastify: app.register(cdnOriginGuard, { ...optionsFromEnv(), ...overrides })', () => {
    const app = Fastify();
    app.register(fastifyGuard, { ...optionsFromEnv(), ...overrides });
  });

  it('Nest: forRoot({ ...optionsFromEnv(), ...overrides, applyGlobally })', () => {
    const options = { ...optionsFromEnv(), ...overrides, applyGlobally: true, isGlobal: true };
    expectTypeOf(options).toMatchTypeOf<CdnOriginGuardModuleOptions>();
    expectTypeOf(CdnOriginGuardModule.forRoot).toBeCallableWith(options);
  });

  it('rejects an unknown option next to the spread', () => {
    // @ts-expect-error `proxyHop` is not an option (did you mean proxyHops?)
    cdnOriginGuard({ ...optionsFromEnv(), proxyHop: 2 });
  });
});

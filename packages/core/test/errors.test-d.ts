import { describe, expectTypeOf, it } from 'vitest';
import { type ErrorCode, isOriginGuardError } from '../src/index.js';
import type { OptionKey } from '../src/options/types.js';

describe('isOriginGuardError', () => {
  it('narrows unknown to an Error with a string code', () => {
    const error: unknown = new Error('x');
    if (isOriginGuardError(error)) {
      expectTypeOf(error).toExtend<Error>();
      expectTypeOf(error.code).toEqualTypeOf<string>();
    }
  });

  it('has no code for a closed verifier (it rejects with NotReadyError)', () => {
    // @ts-expect-error ERR_CDN_ORIGIN_GUARD_CLOSED was never thrown and is gone
    const closed: ErrorCode = 'ERR_CDN_ORIGIN_GUARD_CLOSED';
    expectTypeOf(closed).toEqualTypeOf<ErrorCode>();
  });
});

describe('KNOWN_OPTIONS typing', () => {
  it('OptionKey covers both ways of giving the secret', () => {
    expectTypeOf<'secretId'>().toExtend<OptionKey>();
    expectTypeOf<'secret'>().toExtend<OptionKey>();
    expectTypeOf<'proxyHops'>().toExtend<OptionKey>();
    // @ts-expect-error not an option
    expectTypeOf<'proxyHop'>().toExtend<OptionKey>();
  });
});

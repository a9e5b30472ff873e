/**
 * Static sources: fixed secret values and fixed CIDR lists (development, tests, or values you
 * load yourself).
 * @module
 */
import type { SecretStage } from '../decision.js';
import type { RangeSnapshot, RangeSource, SecretSnapshot, SecretSource } from './types.js';

/** A static secret value, optionally with the stage label reported when it matches. */
export type StaticSecret = string | { readonly value: string; readonly stage?: SecretStage };

/**
 * A secret source that always returns the same values. Unlabelled values get the stages
 * `static:0`, `static:1`, ... in order.
 *
 * @example
 * ```ts
 * import { staticSecretSource } from '@cdn-origin-guard/core';
 * const source = staticSecretSource(['new-secret-value-0123456789', 'old-secret-value-0123456789']);
 * ```
 */
export function staticSecretSource(values: readonly StaticSecret[]): SecretSource {
  const snapshot = staticSecretSnapshot(values);
  return { name: 'static-secret', load: async () => snapshot };
}

/** The snapshot a static secret source returns. @internal */
export function staticSecretSnapshot(values: readonly StaticSecret[]): SecretSnapshot {
  return Object.freeze({
    values: Object.freeze(
      values.map((v, i) =>
        Object.freeze(
          typeof v === 'string'
            ? { stage: `static:${i}`, value: v }
            : { stage: v.stage ?? `static:${i}`, value: v.value },
        ),
      ),
    ),
    version: 'static',
  });
}

/**
 * A range source that always returns the same CIDR list.
 *
 * @example
 * ```ts
 * import { staticRangeSource } from '@cdn-origin-guard/core';
 * const source = staticRangeSource(['130.176.0.0/18', '2600:9000:eee::/48']);
 * ```
 */
export function staticRangeSource(cidrs: readonly string[]): RangeSource {
  const snapshot: RangeSnapshot = Object.freeze({
    cidrs: Object.freeze([...cidrs]),
    version: 'static',
  });
  return { name: 'static-ranges', load: async () => snapshot };
}

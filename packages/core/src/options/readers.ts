/**
 * Small readers for option values: each takes the option key and gets the name, the default
 * and the range from the defaults table, and throws an `InvalidOptionError` naming the fix.
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import type { RangeSource, SecretSource } from '../sources/types.js';
import { BOUNDS, type Bound, type BoundedOption, DEFAULTS } from './defaults.js';

/** A value shown in a message: its kind, and a short string's text (never a secret: callers pass only non-secret values or kinds). */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = i - 1;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const left = row[j - 1] ?? 0;
      row[j] = Math.min(above + 1, left + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * The name in `known` closest to `name` (ignoring case), for "Did you mean" hints; `undefined`
 * when none is within `maxDistance` edits (by default 2, or a third of `name`'s length).
 */
export function suggest(
  name: string,
  known: readonly string[],
  maxDistance = Math.max(2, Math.floor(name.length / 3)),
): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return bestDistance <= maxDistance ? best : undefined;
}

/**
 * The own enumerable properties of an options object, copied into an object without a
 * prototype: an option is read only from what the caller set, never from `Object.prototype`
 * (which prototype pollution elsewhere in an app could have given a `mode` or `excludePaths`).
 */
export function ownProperties(value: object): Readonly<Record<string, unknown>> {
  return Object.assign(Object.create(null) as Record<string, unknown>, value);
}

/**
 * A numeric option within its {@link BOUNDS}, or its default when `undefined`. Whole-number
 * options accept numeric strings (from the environment); fractions accept numbers only.
 */
export function numberOption<K extends BoundedOption>(
  key: K,
  value: unknown,
): number | (typeof DEFAULTS)[K] {
  if (value === undefined) return DEFAULTS[key];
  const bound: Bound = BOUNDS[key];
  const { min, max, unit, integer } = bound;
  const why = bound.why === undefined ? '' : ` ${bound.why}`;
  if (!integer) {
    if (typeof value !== 'number' || !(value >= min && value <= max))
      throw new InvalidOptionError(
        key,
        `is ${describe(value)}; expected a fraction from ${min} to ${max}${unit}.${why}`,
      );
    return value;
  }
  let n = value;
  if (typeof n === 'string' && /^\s*\d+\s*$/.test(n)) n = Number(n);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw new InvalidOptionError(
      key,
      `is ${describe(value)}; expected a whole number from ${min} to ${max}${unit}.${why}`,
    );
  return n;
}

/** An option whose default is a boolean. */
type BooleanOption = {
  [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends boolean ? K : never;
}[keyof typeof DEFAULTS];

/** A boolean option, or its default when `undefined`. */
export function booleanOption(key: BooleanOption, value: unknown): boolean {
  if (value === undefined) return DEFAULTS[key];
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(key, `is ${describe(value)}; expected true or false.`);
  return value;
}

/** A list of non-empty strings (trimmed, frozen), or `fallback` when `undefined`. */
export function stringList(
  name: string,
  value: unknown,
  fallback: readonly string[],
): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value))
    throw new InvalidOptionError(name, `is ${describe(value)}; expected an array of strings.`);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '')
      throw new InvalidOptionError(
        `${name}[${i}]`,
        `is ${describe(item)}; expected a non-empty string.`,
      );
  });
  return Object.freeze(value.map((item: string) => item.trim()));
}

/** A function option, or `undefined`. */
export function optionalFunction<T>(name: string, value: unknown): T | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new InvalidOptionError(name, `is ${describe(value)}; expected a function.`);
  return value as T | undefined;
}

/** Whether `value` is a custom source (an object with `load`). */
export function isSource(value: unknown): value is SecretSource & RangeSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { load?: unknown }).load === 'function'
  );
}

/** An AWS SDK v3 client the user brings (anything with `send`), or undefined. */
export function awsClient(name: string, value: unknown, expected: string): unknown {
  if (
    value !== undefined &&
    (typeof value !== 'object' ||
      value === null ||
      typeof (value as { send?: unknown }).send !== 'function')
  )
    throw new InvalidOptionError(name, `is ${describe(value)}; expected ${expected}.`);
  return value;
}

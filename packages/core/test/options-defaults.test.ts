import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { BOUNDS, DEFAULTS } from '../src/options/defaults.js';
import { booleanOption, numberOption } from '../src/options/readers.js';
import { resolveOptions, suggestOption } from '../src/options/resolve.js';

const MINIMAL = { secret: 'a'.repeat(32), ranges: ['130.176.0.0/16'] } as const;

describe('the defaults table', () => {
  it('is what resolution gives when an option is not set', () => {
    const resolved = resolveOptions(MINIMAL);
    expect(resolved).toMatchObject({
      headerName: DEFAULTS.headerName,
      proxyHops: DEFAULTS.proxyHops,
      trustedProxies: DEFAULTS.trustedProxies,
      requireCfId: DEFAULTS.requireCfId,
      secretRefreshMs: DEFAULTS.secretRefreshMs,
      maxStaleMs: DEFAULTS.maxStaleMs,
      rangesRefreshMs: DEFAULTS.rangesRefreshMs,
      refreshJitter: DEFAULTS.refreshJitter,
      mismatchRefreshMs: DEFAULTS.mismatchRefreshMs,
      timeoutMs: DEFAULTS.timeoutMs,
      maxForwardedForLength: DEFAULTS.maxForwardedForLength,
      logLevel: DEFAULTS.logLevel,
      failOnStartupError: DEFAULTS.failOnStartupError,
      modes: { secret: DEFAULTS.mode, edge: DEFAULTS.mode, cfId: DEFAULTS.mode },
    });
    expect(resolved.denyResponse.status).toBe(DEFAULTS['denyResponse.status']);
    expect(resolved.denyResponse.body).toBe(DEFAULTS['denyResponse.body']);
    expect(resolveOptions({ secret: 'a'.repeat(32) }).ranges).toEqual({
      kind: 'ip-ranges',
      url: DEFAULTS.ipRangesUrl,
      allowInsecure: DEFAULTS.allowInsecureIpRangesUrl,
    });
  });

  it('names only known options (top-level keys, or `option.field` paths)', () => {
    for (const key of Object.keys(DEFAULTS))
      expect(suggestOption(key.split('.')[0] ?? key), key).toBe(key.split('.')[0]);
  });

  it('holds each bounded default within its own bounds', () => {
    for (const [key, bound] of Object.entries(BOUNDS)) {
      const value = DEFAULTS[key as keyof typeof DEFAULTS];
      if (value === undefined) continue;
      expect(typeof value, key).toBe('number');
      expect(value as number, key).toBeGreaterThanOrEqual(bound.min);
      expect(value as number, key).toBeLessThanOrEqual(bound.max);
    }
  });
});

describe('numberOption', () => {
  it.each(Object.keys(BOUNDS) as (keyof typeof BOUNDS)[])(
    '%s: accepts both ends of its range, rejects one past each with the range in the message',
    (key) => {
      const { min, max, integer } = BOUNDS[key];
      expect(numberOption(key, min)).toBe(min);
      expect(numberOption(key, max)).toBe(max);
      expect(numberOption(key, undefined)).toBe(DEFAULTS[key]);
      const step = integer ? 1 : 0.01;
      for (const bad of [min - step, max + step])
        expect(() => numberOption(key, bad)).toThrowError(
          new RegExp(`option \`${key.replace('.', '\\.')}\` .* from ${min} to ${max}`),
        );
    },
  );

  it('converts numeric strings for whole numbers, not for fractions', () => {
    expect(numberOption('proxyHops', ' 3 ')).toBe(3);
    expect(() => numberOption('refreshJitter', '0.2')).toThrow(InvalidOptionError);
    expect(() => numberOption('proxyHops', '2.5')).toThrow(InvalidOptionError);
    expect(() => numberOption('refreshJitter', Number.NaN)).toThrow(InvalidOptionError);
  });
});

describe('booleanOption', () => {
  it.each([
    ['requireCfId', undefined, true],
    ['failOnStartupError', false, false],
    ['ipv6', undefined, false],
    ['allowInsecureIpRangesUrl', true, true],
  ] as const)('%s given %s is %s', (key, value, expected) => {
    expect(booleanOption(key, value)).toBe(expected);
  });

  it('rejects a non-boolean, naming the option', () => {
    expect(() => booleanOption('ipv6', 'yes')).toThrowError(/option `ipv6` .*true or false/);
  });
});

/**
 * Options are validated once, at construction, with errors that name the option and the fix;
 * the environment reader; generated values.
 */
import { InvalidOptionError } from '@cdn-origin-guard/core';
import {
  createRotationHandler,
  DEFAULTS,
  generateSecretValue,
  ROTATION_ENV_VARIABLES,
  type RotationOptions,
  rotationOptionsFromEnv,
} from '@cdn-origin-guard/rotation';
import { describe, expect, it } from 'vitest';
import { FROM_ENV_VARIABLES } from '../src/constants.js';

const DIST = { distributionIds: ['E2QWRUHEXAMPLE'], originIds: ['alb'] } as const;
const LISTENER =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2';

/** A listener ARN cut short (no load balancer id, no listener id). */
const TRUNCATED_LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web';
/** The distribution every environment of these tests names. */
const ENV_BASE = { CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS: 'E1' };

function optionError(options: unknown): InvalidOptionError {
  try {
    createRotationHandler(options as RotationOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('rotation options', () => {
  it.each([
    [{ ...DIST, propagationWaitMs: -1 }, 'rotation.propagationWaitMs', 'from 0 to 900000 (ms)'],
    [{ ...DIST, secretLength: 8 }, 'rotation.secretLength', 'from 16 to 128'],
    [{ ...DIST, maxUpdateAttempts: 0 }, 'rotation.maxUpdateAttempts', 'from 1 to 20'],
    [{ ...DIST, alphabet: 'abc*def' }, 'rotation.alphabet', 'ALB wildcards'],
    [{ ...DIST, alphabet: 'ab cd' }, 'rotation.alphabet', 'printable ASCII'],
    [{ ...DIST, alphabet: '01', secretLength: 64 }, 'rotation.alphabet', 'at least 128 bits'],
    // 26 letters in both cases: 52 for the app, 26 at the ALB (4.7 bits a character).
    [
      {
        ...DIST,
        alphabet: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
        secretLength: 25,
      },
      'rotation.alphabet',
      'case-insensitive',
    ],
    // Outside review, 3 December: the default alphabet skipped the floor (16 characters: 84 bits).
    [{ ...DIST, secretLength: 16 }, 'rotation.secretLength', 'at least 25 with the default'],
    // ... and ALB rules without a distribution broke at the second rotation.
    [{ listenerArns: [LISTENER] }, 'rotation.distributionIds', 'second rotation would deny'],
    [{ ...DIST, secretIds: [''] }, 'rotation.secretIds[0]', 'string'],
    [{ ...DIST, headerName: 'X-Forwarded-For' }, 'rotation.headerName', 'custom header'],
    [
      { ...DIST, headerName: 'Cookie' },
      'rotation.headerName',
      'cannot add as an origin custom header',
    ],
    [{ ...DIST, headerName: 'X-Edge-Origin-Verify' }, 'rotation.headerName', 'cannot add'],
    [{ ...DIST, headerName: 'bad header' }, 'rotation.headerName', 'HTTP header name'],
    [{ ...DIST, distributionIds: ['e2qwru'] }, 'rotation.distributionIds[0]', 'distribution id'],
    [
      { ...DIST, listenerArns: ['arn:aws:elasticloadbalancing:x'] },
      'rotation.listenerArns[0]',
      'listener ARN',
    ],
    // Truncated ARNs: they used to pass here and fail only in setSecret, after createSecret.
    [
      { ...DIST, listenerArns: ['arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web'] },
      'rotation.listenerArns[0]',
      'listener ARN',
    ],
    [
      { ...DIST, listenerArns: [`${LISTENER.replace('/f2f7dc8efc522ab2', '')}`] },
      'rotation.listenerArns[0]',
      'listener ARN',
    ],
    [
      { ...DIST, ruleArns: [LISTENER.replace(':listener/', ':listener-rule/')] },
      'rotation.ruleArns[0]',
      'listener rule ARN',
    ],
    [{ ...DIST, testUrl: 'ftp://x' }, 'rotation.testUrl', 'http(s) URL'],
    [{ ...DIST, clients: { cloudFront: {} } }, 'rotation.clients.cloudFront', 'SDK v3 client'],
    [{ ...DIST, distributionIdz: ['E1'] }, 'rotation.distributionIdz', 'known options are'],
    [{}, 'rotation.distributionIds', 'would change nothing'],
    [{ distributionIds: ['E2QWRUHEXAMPLE'] }, 'rotation.originIds', 'never guesses'],
  ])('rejects %j naming %s', (options, option, hint) => {
    const error = optionError(options);

    expect(error.option).toBe(option);
    expect(error.message).toContain(hint);
  });

  it('accepts distributions with their origins named', () => {
    expect(() =>
      createRotationHandler({ ...DIST, propagationWaitMs: '0' as unknown as number }),
    ).not.toThrow();
  });

  it('waits, by default, the core refresh interval plus its jitter plus a margin', () => {
    expect(DEFAULTS.propagationWaitMs).toBe(300_000 * 1.1 + 30_000);
  });

  it('never puts the alphabet or a value in an error message', () => {
    const error = optionError({ ...DIST, alphabet: 'SECRETISH*' });

    expect(error.message).not.toContain('SECRETISH');
  });
});

describe('rotationOptionsFromEnv', () => {
  it('reads lists and numbers from CDN_ORIGIN_GUARD_ROTATION_*', () => {
    const options = rotationOptionsFromEnv({
      CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS: ' E1AAAA, E2BBBB ,',
      CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS: LISTENER,
      CDN_ORIGIN_GUARD_ROTATION_PROPAGATION_WAIT_MS: '0',
      CDN_ORIGIN_GUARD_ROTATION_JSON_KEY: 'originVerify',
      CDN_ORIGIN_GUARD_ROTATION_TEST_URL: '',
      UNRELATED: 'x',
    });

    expect(options).toEqual({
      distributionIds: ['E1AAAA', 'E2BBBB'],
      listenerArns: [LISTENER],
      propagationWaitMs: '0',
      jsonKey: 'originVerify',
      [FROM_ENV_VARIABLES]: {
        distributionIds: {
          variable: 'CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS',
          value: ['E1AAAA', 'E2BBBB'],
        },
        listenerArns: { variable: 'CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS', value: [LISTENER] },
        propagationWaitMs: {
          variable: 'CDN_ORIGIN_GUARD_ROTATION_PROPAGATION_WAIT_MS',
          value: '0',
        },
        jsonKey: { variable: 'CDN_ORIGIN_GUARD_ROTATION_JSON_KEY', value: 'originVerify' },
      },
    });
    expect(() => createRotationHandler(options)).not.toThrow();
  });

  it('rejects an unknown CDN_ORIGIN_GUARD_ROTATION_* variable and a non-numeric number', () => {
    expect(() =>
      rotationOptionsFromEnv({ CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_ID: 'E1' }),
    ).toThrow(/CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_ID.*not a known variable/);
    const options = rotationOptionsFromEnv({
      CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS: 'E1',
      CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS: LISTENER,
      CDN_ORIGIN_GUARD_ROTATION_DEPLOY_WAIT_MS: '10m',
    });
    const error = optionError(options);
    expect(error.option).toBe('CDN_ORIGIN_GUARD_ROTATION_DEPLOY_WAIT_MS');
    expect(error.message).toContain('the string "10m"');
    expect(error.message).toContain('(option `rotation.deployWaitMs`)');
  });

  it('names the variable of an invalid value, also through a spread with options of code', () => {
    const options = {
      ...rotationOptionsFromEnv({
        ...ENV_BASE,
        CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS: `${LISTENER},${TRUNCATED_LISTENER}`,
      }),
      log: () => {},
    };
    const fromCode = optionError({ distributionIds: ['E1'], listenerArns: [TRUNCATED_LISTENER] });

    const error = optionError(options);

    expect(error.option).toBe('CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS');
    expect(error.message).toContain('(option `rotation.listenerArns[1]`)');
    expect(fromCode.option).toBe('rotation.listenerArns[0]');
  });

  it('names the option, not the variable, when code replaced the value read from the environment', () => {
    const options = {
      ...rotationOptionsFromEnv({
        ...ENV_BASE,
        CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS: LISTENER,
      }),
      listenerArns: [TRUNCATED_LISTENER],
    };

    expect(optionError(options).option).toBe('rotation.listenerArns[0]');
  });

  it('names the variable to set when a required value is given by none', () => {
    const error = optionError(rotationOptionsFromEnv({}));

    expect(error.option).toBe('CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS');
    expect(error.message).toContain('(option `rotation.distributionIds`)');
  });

  it('has a variable for every option but the log sink and the clients', () => {
    expect(Object.keys(ROTATION_ENV_VARIABLES).sort()).toEqual(
      Object.keys(DEFAULTS)
        .concat([
          'secretIds',
          'jsonKey',
          'distributionIds',
          'originIds',
          'originDomainNames',
          'listenerArns',
          'ruleArns',
          'alphabet',
          'testUrl',
        ])
        .sort(),
    );
  });
});

describe('generateSecretValue', () => {
  it('makes 48 random bytes as base64url by default, different every time', () => {
    const values = new Set(
      Array.from({ length: 200 }, () => generateSecretValue(64, DEFAULTS_ALPHABET)),
    );

    expect(values.size).toBe(200);
    for (const v of values) {
      expect(v).toMatch(/^[A-Za-z0-9_-]{64}$/);
      expect(Buffer.from(v, 'base64url')).toHaveLength(48);
    }
  });

  it('draws every character of a custom alphabet, and no other', () => {
    const seen = new Set(
      Array.from({ length: 50 }, () => generateSecretValue(32, 'abcXYZ0123')).join(''),
    );

    expect([...seen].sort().join('')).toBe('0123XYZabc');
  });
});

const DEFAULTS_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

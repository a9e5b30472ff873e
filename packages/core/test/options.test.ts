import { describe, expect, it } from 'vitest';
import {
  createOriginVerifier,
  InvalidOptionError,
  type OriginGuardOptions,
  optionsFromEnv,
} from '../src/index.js';
import { CF_RANGES, SECRET } from './fixtures.js';

const good = { secret: SECRET, ranges: CF_RANGES };

function errorFor(options: unknown): InvalidOptionError {
  try {
    createOriginVerifier(options as OriginGuardOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toBeInstanceOf(TypeError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('options are validated once, at construction', () => {
  it.each([
    [{ ...good, proxyHops: 0 }, 'proxyHops', /whole number from 1 to 32/],
    [{ ...good, proxyHops: 1.5 }, 'proxyHops', /whole number/],
    [{ ...good, proxyHops: 'two' }, 'proxyHops', /the string "two"/],
    [{ ...good, headerName: 'x origin verify' }, 'headerName', /HTTP header name/],
    [{ ...good, headerName: 'X-Forwarded-For' }, 'headerName', /set themselves/],
    [{ ...good, ranges: [] }, 'ranges', /empty list/],
    [{ ...good, ranges: 'cloudfront' }, 'ranges', /'prefix-list', 'ip-ranges'/],
    [{ ...good, ranges: ['130.176.0.0/33'] }, 'ranges', /ranges/],
    [{ ...good, trustedProxies: ['10.0.0.1/8'] }, 'trustedProxies', /10\.0\.0\.0\/8/],
    [{ ...good, mode: 'audit' }, 'mode', /'enforce', 'report'/],
    [{ ...good, mode: { secrte: 'report' } }, 'mode.secrte', /Did you mean `mode.secret`/],
    [{ ...good, proxyhops: 2 }, 'proxyhops', /Did you mean `proxyHops`/],
    [{ ...good, healthCheckPaths: ['healthz'] }, 'healthCheckPaths[0]', /starting with "\/"/],
    [{ ...good, excludePaths: [42] }, 'excludePaths[0]', /RegExp/],
    [{ ...good, refreshJitter: 2 }, 'refreshJitter', /0 to 0.5/],
    [{ ...good, timeoutMs: 10 }, 'timeoutMs', /50 to 120000/],
    [{ ...good, onDecision: 'log' }, 'onDecision', /function/],
    [{ ...good, denyResponse: { status: 200 } }, 'denyResponse.status', /400 to 599/],
    [{ ...good, denyResponse: { code: 403 } }, 'denyResponse.code', /status/],
    [{ ...good, logLevel: 'loud' }, 'logLevel', /info/],
    [{ ranges: CF_RANGES }, 'secretId', /Secrets Manager/],
    [{ ...good, secretId: 'prod/x' }, 'secret', /not both/],
    [{ ...good, jsonKey: 'k' }, 'jsonKey', /only applies with `secretId`/],
    [{ secretId: 'prod/x', ranges: CF_RANGES, secretStages: [] }, 'secretStages', /AWSCURRENT/],
    [
      { secretId: 'prod/x', ranges: CF_RANGES, secretsManagerClient: {} },
      'secretsManagerClient',
      /SecretsManagerClient/,
    ],
    [{ ...good, ranges: 'ip-ranges', ipRangesUrl: 'ftp://x' }, 'ipRangesUrl', /http\(s\) URL/],
    [{ ...good, ipv6: true }, 'ipv6', /prefix-list/],
    [{ ...good, secret: 'short' }, 'secret', /at least 16/],
    [{ ...good, secret: [SECRET, 'has a space in it 0123'] }, 'secret[1]', /printable ASCII/],
    [{ ...good, secret: [] }, 'secret', /non-empty array/],
  ])('rejects bad options naming the option (%#)', (options, option, message) => {
    const error = errorFor(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toMatch(message);
    expect(error.code).toBe('ERR_CDN_ORIGIN_GUARD_OPTION');
  });

  it('accepts numeric strings from the environment and converts them', () => {
    const v = createOriginVerifier({ ...good, proxyHops: '2' as unknown as number });
    expect(v.isReady).toBe(true);
  });

  it('never mutates the caller’s options', () => {
    const options = Object.freeze({ ...good, trustedProxies: Object.freeze(['loopback']) });
    expect(() => createOriginVerifier(options)).not.toThrow();
  });

  it('rejects a non-object', () => {
    expect(errorFor(null).option).toBe('options');
  });
});

describe('optionsFromEnv', () => {
  const env = {
    CDN_ORIGIN_GUARD_SECRET: `${SECRET},Another-Secret-Value-0123456789`,
    CDN_ORIGIN_GUARD_RANGES: '130.176.0.0/17, 2600:9000:eee::/48',
  };

  it('builds working options from the documented variables', () => {
    const options = optionsFromEnv({
      ...env,
      CDN_ORIGIN_GUARD_HEADER: 'X-Edge-Secret',
      CDN_ORIGIN_GUARD_PROXY_HOPS: '2',
      CDN_ORIGIN_GUARD_TRUSTED_PROXIES: 'loopback,10.0.0.0/8',
      CDN_ORIGIN_GUARD_HEALTH_PATHS: '/healthz,/ready',
      CDN_ORIGIN_GUARD_MODE: 'report',
      CDN_ORIGIN_GUARD_REFRESH_SECONDS: '120',
    });
    expect(options).toMatchObject({
      secret: [SECRET, 'Another-Secret-Value-0123456789'],
      ranges: ['130.176.0.0/17', '2600:9000:eee::/48'],
      headerName: 'X-Edge-Secret',
      proxyHops: 2,
      trustedProxies: ['loopback', '10.0.0.0/8'],
      healthCheckPaths: ['/healthz', '/ready'],
      mode: 'report',
      secretRefreshMs: 120_000,
    });
    expect(createOriginVerifier(options).isReady).toBe(true);
  });

  it('maps the Secrets Manager variables', () => {
    const options = optionsFromEnv({
      CDN_ORIGIN_GUARD_SECRET_ID: 'prod/origin-verify',
      CDN_ORIGIN_GUARD_SECRET_JSON_KEY: 'header',
      CDN_ORIGIN_GUARD_RANGES: 'prefix-list',
    });
    expect(options).toMatchObject({
      secretId: 'prod/origin-verify',
      jsonKey: 'header',
      ranges: 'prefix-list',
    });
  });

  it.each([
    [{ ...env, CDN_ORIGIN_GUARD_PROXY_HOPS: 'abc' }, 'CDN_ORIGIN_GUARD_PROXY_HOPS'],
    [{ ...env, CDN_ORIGIN_GUARD_PROXY_HOPS: '99' }, 'CDN_ORIGIN_GUARD_PROXY_HOPS'],
    [{ ...env, CDN_ORIGIN_GUARD_MODE: 'loud' }, 'CDN_ORIGIN_GUARD_MODE'],
    [{ ...env, CDN_ORIGIN_GUARD_REFRESH_SECONDS: '5m' }, 'CDN_ORIGIN_GUARD_REFRESH_SECONDS'],
    [{ ...env, CDN_ORIGIN_GUARD_RANGES: '130.176.0.0/40' }, 'CDN_ORIGIN_GUARD_RANGES'],
    [{ ...env, CDN_ORIGIN_GUARD_TRUSTED_PROXIES: 'everyone' }, 'CDN_ORIGIN_GUARD_TRUSTED_PROXIES'],
    [{ ...env, CDN_ORIGIN_GUARD_HEADER: 'bad header' }, 'CDN_ORIGIN_GUARD_HEADER'],
    [{ ...env, CDN_ORIGIN_GUARD_SECRET: 'short' }, 'CDN_ORIGIN_GUARD_SECRET'],
    [{ ...env, CDN_ORIGIN_GUARD_SECRET_ID: 'x' }, 'CDN_ORIGIN_GUARD_SECRET'],
    [{ CDN_ORIGIN_GUARD_RANGES: 'ip-ranges' }, 'CDN_ORIGIN_GUARD_SECRET_ID'],
    [{ ...env, CDN_ORIGIN_GUARD_IPV6: 'maybe' }, 'CDN_ORIGIN_GUARD_IPV6'],
  ])('names the variable in the error (%#)', (vars, variable) => {
    let error: unknown;
    try {
      optionsFromEnv(vars);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(variable);
    expect((error as Error).message).not.toContain(SECRET);
  });
});

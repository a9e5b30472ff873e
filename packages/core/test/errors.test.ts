import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';

const {
  CdnOriginGuardError,
  createOriginVerifier,
  InvalidOptionError,
  isOriginGuardError,
  NotReadyError,
  SourceError,
} = core;

describe('public exports', () => {
  it('are the ones before the restructure, plus isOriginGuardError, the log-line formatters, pathUnderMount, isReservedHeaderName, recordDecision, matchablePath, handleRejection, sourceEventLevel, isAwsResponseParseFailure, checkOptionKeys, OPTION_KEYS, errorText, DEFAULT_DENY_RESPONSE, guardUpgrades, isOriginVerifier, writeDenyResponse, checkContinuePathRules, listenersBeforeFramework, readSecretString, loggerCaller, ServerWatch and EXPRESS_APP', () => {
    expect(Object.keys(core).sort()).toEqual(
      [
        'ALLOW_REASONS',
        'CHECK_OF_REASON',
        'CLOUDFRONT_PREFIX_LIST',
        'CLOUDFRONT_PREFIX_LIST_IPV6',
        'CdnOriginGuardError',
        'DEFAULT_DENY_RESPONSE',
        'DEFAULT_IP_RANGES_URL',
        'DEFAULT_SECRET_STAGES',
        'EXPRESS_APP',
        'DENY_REASONS',
        'ENV_VARIABLES',
        'InvalidOptionError',
        'NotReadyError',
        'OPTION_KEYS',
        'RangeMatcher',
        'ServerWatch',
        'SourceError',
        'TRUSTED_PROXY_NAMES',
        'checkOptionKeys',
        'checkContinuePathRules',
        'checkRequestPaths',
        'createOriginVerifier',
        'decisionLogLine',
        'errorText',
        'formatIp',
        'guardFailureLogLine',
        'guardUpgrades',
        'handleRejection',
        'ipRangesSource',
        'isAwsResponseParseFailure',
        'isGuardingUpgrades',
        'listenersBeforeFramework',
        'loggerCaller',
        'isOriginGuardError',
        'isOriginVerifier',
        'isWellFormedCfId',
        'normalizeIp',
        'optionsFromEnv',
        'parseCidr',
        'parseForwardedEntry',
        'parseIp',
        'matchablePath',
        'pathUnderMount',
        'isReservedHeaderName',
        'prefixListSource',
        'readSecretString',
        'recordDecision',
        'secretsManagerSource',
        'sourceEventLevel',
        'sourceEventLogLine',
        'staticRangeSource',
        'staticSecretSource',
        'writeDenyResponse',
      ].sort(),
    );
  });
});

describe('isOriginGuardError', () => {
  it('recognises every error of the family by its code, InvalidOptionError (a TypeError) too', () => {
    const errors = [
      new InvalidOptionError('proxyHops', 'is bad.'),
      new SourceError('static-secret', 'failed'),
      new NotReadyError('not loaded'),
    ];
    for (const error of errors) {
      expect(isOriginGuardError(error)).toBe(true);
      expect(error.code.startsWith('ERR_CDN_ORIGIN_GUARD_')).toBe(true);
      expect(error.message.startsWith('@cdn-origin-guard: ')).toBe(true);
    }
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect(errors[0]).not.toBeInstanceOf(CdnOriginGuardError);
    expect(errors[1]).toBeInstanceOf(CdnOriginGuardError);
  });

  it('recognises an error thrown by the verifier for a bad option', () => {
    let thrown: unknown;
    try {
      createOriginVerifier({ secret: 'a'.repeat(32), ranges: ['130.176.0.0/16'], proxyHops: 0 });
    } catch (error) {
      thrown = error;
    }
    expect(isOriginGuardError(thrown)).toBe(true);
  });

  it('recognises a copy from another module instance by code alone', () => {
    const copy = Object.assign(new Error('@cdn-origin-guard: x'), {
      code: 'ERR_CDN_ORIGIN_GUARD_ROTATION',
    });
    expect(isOriginGuardError(copy)).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['a Node error with another code', Object.assign(new Error('x'), { code: 'ENOENT' })],
    ['a plain object with the code', { code: 'ERR_CDN_ORIGIN_GUARD_OPTION', message: 'x' }],
    ['a string', 'ERR_CDN_ORIGIN_GUARD_OPTION'],
    ['undefined', undefined],
    ['null', null],
  ])('is false for %s', (_name, value) => {
    expect(isOriginGuardError(value)).toBe(false);
  });
});

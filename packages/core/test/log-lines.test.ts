/** The log-line formatters every adapter uses: one wording for denies, report lines and sources. */
import { describe, expect, it } from 'vitest';
import type { DeniedDecision, ReportedDecision } from '../src/decision.js';
import { SourceError } from '../src/errors.js';
import { decisionLogLine, guardFailureLogLine, sourceEventLogLine } from '../src/log-lines.js';

const denied: DeniedDecision = {
  allowed: false,
  reason: 'edge-not-cloudfront',
  check: 'edge',
  failures: ['edge-not-cloudfront'],
  peerAddress: '10.0.1.23',
  edgeAddress: undefined,
  viewerAddress: undefined,
  cfId: undefined,
  offendingHop: '203.0.113.9',
  proxyHops: 1,
};

const reported: ReportedDecision = {
  allowed: true,
  reason: 'reported',
  failures: ['invalid-cf-id', 'invalid-secret'],
  peerAddress: '10.0.1.23',
  edgeAddress: '130.176.12.34',
  viewerAddress: '198.51.100.7',
  cfId: undefined,
  secretStage: undefined,
  offendingHop: undefined,
  proxyHops: 2,
};

describe('decisionLogLine', () => {
  it('names the reason, check, hop, hop count, request and addresses of a deny', () => {
    expect(decisionLogLine(denied, { method: 'GET', path: '/orders' })).toBe(
      'cdn-origin-guard denied request: reason=edge-not-cloudfront check=edge hop=203.0.113.9 proxyHops=1 method=GET path=/orders peer=10.0.1.23 edge=-',
    );
  });

  it('lists every failure of a report-mode decision', () => {
    expect(decisionLogLine(reported, { method: 'POST', path: '/pay' })).toBe(
      'cdn-origin-guard would deny request (report mode): reason=invalid-cf-id,invalid-secret check=- hop=- proxyHops=2 method=POST path=/pay peer=10.0.1.23 edge=130.176.12.34',
    );
  });

  it.each([
    ['/pay?card=4111111111111111', '/pay'],
    ['/pay#token=abc', '/pay'],
    ['/pay#a?b', '/pay'],
    ['/pay?a#b', '/pay'],
    ['/', '/'],
  ])('cuts the query and fragment off %j', (path, shown) => {
    expect(decisionLogLine(denied, { path })).toContain(` path=${shown} `);
  });

  it('writes - for what it does not know', () => {
    expect(decisionLogLine(denied)).toContain(' method=- path=- ');
  });
});

describe('sourceEventLogLine', () => {
  const error = new SourceError('secrets-manager', 'AccessDeniedException: not allowed');

  it('says whether a failing source still serves its last-known-good value', () => {
    expect(sourceEventLogLine({ type: 'failing', source: 'secret', error, everLoaded: true })).toBe(
      `cdn-origin-guard secret source failing (serving the last-known-good value): ${error.message}`,
    );
    expect(
      sourceEventLogLine({ type: 'failing', source: 'ranges', error, everLoaded: false }),
    ).toBe(`cdn-origin-guard ranges source failing (never loaded: denying): ${error.message}`);
  });

  it('gives the length of the streak on recovery', () => {
    expect(
      sourceEventLogLine({
        type: 'recovered',
        source: 'ranges',
        failedAttempts: 3,
        downMs: 61_400,
      }),
    ).toBe('cdn-origin-guard ranges source recovered after 3 failed attempt(s), 61 s');
  });
});

describe('guardFailureLogLine', () => {
  it('names the error and where the request went, without its query', () => {
    expect(guardFailureLogLine(new Error('boom'), { method: 'GET', path: '/pay?card=1' })).toBe(
      'cdn-origin-guard denied request: the guard failed (boom) method=GET path=/pay',
    );
    expect(guardFailureLogLine('not an Error')).toBe(
      'cdn-origin-guard denied request: the guard failed (not an Error) method=- path=-',
    );
  });
});

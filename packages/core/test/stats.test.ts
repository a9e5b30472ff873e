import { describe, expect, it } from 'vitest';
import { ALLOW_REASONS, CHECK_OF_REASON, DENY_REASONS, type DenyReason } from '../src/decision.js';
import { denied } from '../src/pipeline.js';
import { DecisionCounters } from '../src/stats.js';

const NO_SOURCES = {} as never;

describe('DecisionCounters', () => {
  it('starts with every reason of decision.ts at zero', () => {
    const stats = new DecisionCounters().snapshot(NO_SOURCES);
    expect(Object.keys(stats.byReason).sort()).toEqual([...ALLOW_REASONS, ...DENY_REASONS].sort());
    expect(Object.keys(stats.failures).sort()).toEqual([...DENY_REASONS].sort());
    expect(Object.values(stats.byReason).every((n) => n === 0)).toBe(true);
  });

  it('counts verified by stage, reported and denied failures, and totals', () => {
    const counters = new DecisionCounters();
    const verified = {
      allowed: true,
      reason: 'verified',
      peerAddress: '10.0.0.1',
      edgeAddress: '130.176.1.2',
      viewerAddress: '203.0.113.7',
      cfId: '',
      secretStage: 'AWSPREVIOUS',
    } as const;
    counters.record(verified);
    counters.record(verified);
    counters.record({
      allowed: true,
      reason: 'reported',
      failures: ['missing-cf-id', 'invalid-secret'],
      peerAddress: undefined,
      edgeAddress: undefined,
      viewerAddress: undefined,
      cfId: undefined,
      secretStage: undefined,
      offendingHop: undefined,
      proxyHops: 1,
    });
    counters.record(
      denied({
        reason: 'edge-not-cloudfront',
        failures: ['edge-not-cloudfront'],
        peerAddress: undefined,
        offendingHop: '198.51.100.1',
        proxyHops: 1,
      }),
    );
    const stats = counters.snapshot(NO_SOURCES);
    expect(stats).toMatchObject({ total: 4, allowed: 3, denied: 1 });
    expect(stats.bySecretStage).toEqual({ AWSPREVIOUS: 2 });
    expect(stats.byReason).toMatchObject({ verified: 2, reported: 1, 'edge-not-cloudfront': 1 });
    expect(stats.failures).toMatchObject({
      'missing-cf-id': 1,
      'invalid-secret': 1,
      'edge-not-cloudfront': 1,
    });
  });

  it('returns a copy: later decisions do not change an earlier snapshot', () => {
    const counters = new DecisionCounters();
    const before = counters.snapshot(NO_SOURCES);
    counters.record({ allowed: true, reason: 'excluded', peerAddress: undefined });
    expect(before.byReason.excluded).toBe(0);
    expect(counters.snapshot(NO_SOURCES).byReason.excluded).toBe(1);
  });
});

describe('denied', () => {
  it.each(DENY_REASONS.map((reason) => [reason] as [DenyReason]))(
    'derives the check of %s from the reason',
    (reason) => {
      const decision = denied({
        reason,
        failures: [reason],
        peerAddress: '10.0.0.1',
        offendingHop: undefined,
        proxyHops: 2,
        cfId: 'abc',
      });
      expect(decision).toEqual({
        allowed: false,
        reason,
        check: CHECK_OF_REASON[reason],
        failures: [reason],
        peerAddress: '10.0.0.1',
        edgeAddress: undefined,
        viewerAddress: undefined,
        cfId: 'abc',
        offendingHop: undefined,
        proxyHops: 2,
      });
    },
  );
});

import { describe, expectTypeOf, it } from 'vitest';
import type {
  Decision,
  DeniedDecision,
  DenyReason,
  OriginGuardOptions,
  SecretStage,
  VerifiedDecision,
} from '../src/index.js';

declare const decision: Decision;

describe('Decision narrows', () => {
  it('on allowed === false to a DeniedDecision with a DenyReason', () => {
    if (!decision.allowed) {
      expectTypeOf(decision).toEqualTypeOf<DeniedDecision>();
      expectTypeOf(decision.reason).toEqualTypeOf<DenyReason>();
    }
  });
  it("on reason === 'verified' to a VerifiedDecision with edge, viewer, cf-id and stage", () => {
    if (decision.reason === 'verified') {
      expectTypeOf(decision).toEqualTypeOf<VerifiedDecision>();
      expectTypeOf(decision.edgeAddress).toEqualTypeOf<string>();
      expectTypeOf(decision.viewerAddress).toEqualTypeOf<string>();
      expectTypeOf(decision.secretStage).toEqualTypeOf<SecretStage>();
    }
  });
  it('exhaustively in a switch on reason', () => {
    const label = (d: Decision): string => {
      switch (d.reason) {
        case 'verified':
        case 'health-check':
        case 'excluded':
        case 'reported':
          return 'allowed';
        case 'missing-secret':
        case 'invalid-secret':
        case 'missing-cf-id':
        case 'invalid-cf-id':
        case 'missing-forwarded-for':
        case 'malformed-forwarded-for':
        case 'edge-not-cloudfront':
        case 'untrusted-peer':
        case 'secret-unavailable':
        case 'ranges-unavailable':
          return 'denied';
        default: {
          const never: never = d;
          return never;
        }
      }
    };
    expectTypeOf(label).returns.toEqualTypeOf<string>();
  });
});

describe('OriginGuardOptions', () => {
  it('makes secret and secretId exclusive', () => {
    expectTypeOf({ secret: 'x', ranges: 'ip-ranges' } as const).toExtend<OriginGuardOptions>();
    expectTypeOf({ secretId: 'prod/x' } as const).toExtend<OriginGuardOptions>();
    expectTypeOf({ secret: 'x', secretId: 'prod/x' } as const).not.toExtend<OriginGuardOptions>();
  });
});

import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AwsSdkClient,
  type BaseGuardOptions,
  createOriginVerifier,
  type Decision,
  type DeniedDecision,
  type DenyReason,
  type OriginGuardOptions,
  optionsFromEnv,
  type ReportedDecision,
  type SecretStage,
  type SourceEvent,
  type VerifiedDecision,
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
        case 'expired-secret':
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

describe('hop detail on denied and reported decisions', () => {
  it('gives offendingHop and proxyHops on a deny and a report, not on a verified decision', () => {
    expectTypeOf<DeniedDecision['offendingHop']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<DeniedDecision['proxyHops']>().toEqualTypeOf<number>();
    expectTypeOf<ReportedDecision['offendingHop']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ReportedDecision['proxyHops']>().toEqualTypeOf<number>();
    expectTypeOf<VerifiedDecision>().not.toHaveProperty('offendingHop');
  });
});

describe('SourceEvent', () => {
  it('narrows on type', () => {
    const handle = (e: SourceEvent) => {
      if (e.type === 'failing') {
        expectTypeOf(e.error).toEqualTypeOf<Error>();
        expectTypeOf(e.everLoaded).toEqualTypeOf<boolean>();
      } else if (e.type === 'expired') {
        expectTypeOf(e.staleMs).toEqualTypeOf<number>();
        expectTypeOf(e.reason).toEqualTypeOf<'max-stale' | 'revoked'>();
        expectTypeOf(e.error).toEqualTypeOf<Error | undefined>();
      } else if (e.type === 'warning') {
        expectTypeOf(e.error).toEqualTypeOf<Error>();
      } else {
        expectTypeOf(e.failedAttempts).toEqualTypeOf<number>();
        expectTypeOf(e.downMs).toEqualTypeOf<number>();
      }
      expectTypeOf(e.source).toEqualTypeOf<'secret' | 'ranges'>();
    };
    expectTypeOf(handle).toBeFunction();
  });
});

describe('BaseGuardOptions composes', () => {
  it('spreads over optionsFromEnv() into createOriginVerifier', () => {
    const overrides: BaseGuardOptions = { proxyHops: 2, excludePaths: ['/public'] };
    const options = { ...optionsFromEnv(), ...overrides };
    expectTypeOf(options).toExtend<OriginGuardOptions>();
    expectTypeOf(createOriginVerifier).toBeCallableWith(options);
    expectTypeOf(createOriginVerifier).toBeCallableWith({ secretId: 'x', ...overrides });
  });
  it('holds no secret-style key', () => {
    expectTypeOf<BaseGuardOptions>().not.toHaveProperty('secret');
    expectTypeOf<BaseGuardOptions>().not.toHaveProperty('secretId');
    // @ts-expect-error a secret is not a base option
    const bad: BaseGuardOptions = { secret: 'x' };
    expectTypeOf(bad).toEqualTypeOf<BaseGuardOptions>();
  });
});

describe('AWS clients are typed structurally (no @aws-sdk import in the public types)', () => {
  it('accepts the real SDK v3 clients where the options take a client', () => {
    expectTypeOf<SecretsManagerClient>().toExtend<AwsSdkClient>();
    expectTypeOf<EC2Client>().toExtend<AwsSdkClient>();
    expectTypeOf(createOriginVerifier).toBeCallableWith({
      secretId: 'prod/origin-verify',
      secretsManagerClient: new SecretsManagerClient({}),
      ranges: 'prefix-list',
      ec2Client: new EC2Client({}),
    });
  });
  it('rejects something that is not a client', () => {
    // @ts-expect-error a client needs `send`
    const notAClient: AwsSdkClient = { destroy() {} };
    expectTypeOf(notAClient).toEqualTypeOf<AwsSdkClient>();
  });
});

/**
 * Decisions returned by the verifier, as a discriminated union on `allowed` and `reason`.
 * @module
 */

/** A Secrets Manager staging label, or a label given to a static value. */
export type SecretStage = 'AWSCURRENT' | 'AWSPREVIOUS' | 'AWSPENDING' | (string & {});

/** The independent checks the guard runs; each can be enforced or only reported. */
export type CheckName = 'secret' | 'edge' | 'cfId';

/** Why a request is (or in report mode, would be) denied. */
export type DenyReason =
  | 'missing-secret'
  | 'invalid-secret'
  | 'expired-secret'
  | 'missing-cf-id'
  | 'invalid-cf-id'
  | 'missing-forwarded-for'
  | 'malformed-forwarded-for'
  | 'edge-not-cloudfront'
  | 'untrusted-peer'
  | 'secret-unavailable'
  | 'ranges-unavailable';

/** Why a request is allowed. `reported` means a check failed but only in report mode. */
export type AllowReason = 'verified' | 'health-check' | 'excluded' | 'reported';

/** Every reason code a decision can carry. */
export type Reason = AllowReason | DenyReason;

/** All deny reasons, in a stable order (useful for metrics and exhaustive tables). */
export const DENY_REASONS: readonly DenyReason[] = Object.freeze([
  'missing-secret',
  'invalid-secret',
  'expired-secret',
  'missing-cf-id',
  'invalid-cf-id',
  'missing-forwarded-for',
  'malformed-forwarded-for',
  'edge-not-cloudfront',
  'untrusted-peer',
  'secret-unavailable',
  'ranges-unavailable',
]);

/** All allow reasons, in a stable order. */
export const ALLOW_REASONS: readonly AllowReason[] = Object.freeze([
  'verified',
  'health-check',
  'excluded',
  'reported',
]);

/** Which check a deny reason belongs to. */
export const CHECK_OF_REASON: Readonly<Record<DenyReason, CheckName>> = Object.freeze({
  'missing-secret': 'secret',
  'invalid-secret': 'secret',
  'expired-secret': 'secret',
  'secret-unavailable': 'secret',
  'missing-cf-id': 'cfId',
  'invalid-cf-id': 'cfId',
  'missing-forwarded-for': 'edge',
  'malformed-forwarded-for': 'edge',
  'edge-not-cloudfront': 'edge',
  'untrusted-peer': 'edge',
  'ranges-unavailable': 'edge',
});

interface DecisionCommon {
  /** The socket peer address (normalised; IPv4-mapped IPv6 shown as IPv4), if it parsed. */
  readonly peerAddress: string | undefined;
}

/** A request proven to come through our CloudFront distribution. */
export interface VerifiedDecision extends DecisionCommon {
  readonly allowed: true;
  readonly reason: 'verified';
  /** The CloudFront origin-facing address that connected to our outermost proxy. */
  readonly edgeAddress: string;
  /** The viewer address CloudFront appended to `X-Forwarded-For`. */
  readonly viewerAddress: string;
  /** The `X-Amz-Cf-Id` of the request. */
  readonly cfId: string;
  /** Which accepted secret value matched (e.g. `AWSCURRENT`). Never the value itself. */
  readonly secretStage: SecretStage;
}

/** A request let through without verification: an ALB health check or an excluded path. */
export interface BypassDecision extends DecisionCommon {
  readonly allowed: true;
  readonly reason: 'health-check' | 'excluded';
}

/** What denied and reported decisions add: which hop failed and how many hops were walked. */
interface HopDetail {
  /**
   * For `edge-not-cloudfront`, `untrusted-peer` and `malformed-forwarded-for`: the address or
   * `X-Forwarded-For` entry that was checked and failed, control characters escaped and cut to
   * at most 64 characters. Undefined for every other reason (and when no single entry failed,
   * e.g. several `X-Forwarded-For` lines or a header over `maxForwardedForLength`).
   */
  readonly offendingHop: string | undefined;
  /** The `proxyHops` in use, so a wrong hop count is obvious from one log line. */
  readonly proxyHops: number;
}

/** A request that failed at least one check that is only in report mode. */
export interface ReportedDecision extends DecisionCommon, HopDetail {
  readonly allowed: true;
  readonly reason: 'reported';
  /** Every failed check's reason, first failure first. Never empty. */
  readonly failures: readonly DenyReason[];
  readonly edgeAddress: string | undefined;
  readonly viewerAddress: string | undefined;
  readonly cfId: string | undefined;
  readonly secretStage: SecretStage | undefined;
}

/** A request that failed an enforced check. */
export interface DeniedDecision extends DecisionCommon, HopDetail {
  readonly allowed: false;
  /** The first enforced check that failed. */
  readonly reason: DenyReason;
  /** The check `reason` belongs to. */
  readonly check: CheckName;
  /** Every failed check's reason seen before the guard stopped, first failure first. */
  readonly failures: readonly DenyReason[];
  readonly edgeAddress: string | undefined;
  readonly viewerAddress: string | undefined;
  readonly cfId: string | undefined;
}

/** The verifier's answer for one request. Narrow on `allowed`, then on `reason`. */
export type Decision = VerifiedDecision | BypassDecision | ReportedDecision | DeniedDecision;

/** An allowed decision of any kind. */
export type AllowedDecision = VerifiedDecision | BypassDecision | ReportedDecision;

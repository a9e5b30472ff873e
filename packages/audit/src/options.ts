/**
 * Audit options: types, validation, resolution (once).
 * @module
 */

import { isIP } from 'node:net';
import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { DEFAULTS } from './constants.js';
import { AuditError } from './errors.js';

/** AWS SDK v3 clients the audit uses; any not given is created from the default chain. */
export interface AuditClients {
  readonly elbv2?: ElasticLoadBalancingV2Client;
  readonly ec2?: EC2Client;
  readonly cloudFront?: CloudFrontClient;
  readonly secretsManager?: SecretsManagerClient;
  readonly serviceQuotas?: ServiceQuotasClient;
}

/** Options of {@link runAudit}. */
export interface AuditOptions {
  /**
   * The ALB under audit: its name or ARN.
   * @example
   * import { runAudit } from '@cdn-origin-guard/audit';
   * const report = await runAudit({ loadBalancer: 'prod-web', secretId: 'prod/origin-verify' });
   */
  readonly loadBalancer: string;
  /** CloudFront distribution ids in front of the ALB. Defaults to every distribution with an origin at the ALB's DNS name. */
  readonly distributionIds?: readonly string[];
  /** Secrets Manager secret holding the header value. Defaults to none (value checks are skipped). */
  readonly secretId?: string;
  /** Key of a JSON secret that holds the value (the core's `jsonKey`). Defaults to the whole SecretString. */
  readonly jsonKey?: string;
  /** Header CloudFront adds. Defaults to `x-origin-verify`. */
  readonly headerName?: string;
  /** AWS region of the ALB. Defaults to the SDK's default chain (`AWS_REGION`, profile). */
  readonly region?: string;
  /** Request the ALB's DNS name without the header. Defaults to `false`. */
  readonly probe?: boolean;
  /** Connect the probe to this IP address instead of resolving the ALB's DNS name (e.g. one ALB node). Defaults to DNS. */
  readonly probeAddress?: string;
  /** Timeout of each probe request in ms. Defaults to `3000`. */
  readonly probeTimeoutMs?: number;
  /**
   * Exit 0 rather than 3 when a check could not run (access denied, throttled, an AWS error).
   * The status stays `INCOMPLETE`. Defaults to `false`: a hole the audit could not look for is
   * not a pass.
   */
  readonly allowIncomplete?: boolean;
  /** SDK attempts per call (throttling is retried, then the check is SKIPPED). Defaults to the SDK's `3`. */
  readonly maxAttempts?: number;
  /** Clients to use instead of new ones (tests, custom credentials). Defaults to new clients. */
  readonly clients?: AuditClients;
}

/** Options after validation. */
export interface ResolvedAuditOptions {
  readonly loadBalancer: string;
  readonly distributionIds: readonly string[];
  readonly secretId: string | undefined;
  readonly jsonKey: string | undefined;
  readonly headerName: string;
  readonly region: string | undefined;
  readonly probe: boolean;
  readonly probeTimeoutMs: number;
  readonly probeAddress: string | undefined;
  readonly maxAttempts: number | undefined;
  readonly allowIncomplete: boolean;
  readonly clients: AuditClients;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function bad(option: string, message: string): never {
  throw new AuditError('ERR_CDN_ORIGIN_GUARD_AUDIT_OPTION', `option \`${option}\` ${message}`);
}

function text(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') bad(option, 'must be a non-empty string');
  return value.trim();
}

/** Validate once and fill defaults. Throws an {@link AuditError} naming the option. */
export function resolveOptions(options: Readonly<AuditOptions>): ResolvedAuditOptions {
  const loadBalancer = text('loadBalancer', options.loadBalancer);
  if (loadBalancer === undefined) bad('loadBalancer', 'is required: the ALB name or ARN (--alb)');
  const headerName = (text('headerName', options.headerName) ?? DEFAULTS.headerName).toLowerCase();
  if (!HEADER_NAME.test(headerName)) bad('headerName', `is not a valid HTTP header name`);
  const distributionIds = (options.distributionIds ?? []).map((id, i) => {
    const v = text(`distributionIds[${i}]`, id) ?? '';
    if (!/^[A-Z0-9]{8,20}$/.test(v))
      bad(`distributionIds[${i}]`, `is not a CloudFront distribution id (e.g. E2QWRUHAPOMQZL)`);
    return v;
  });
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULTS.probeTimeoutMs;
  if (!Number.isInteger(probeTimeoutMs) || probeTimeoutMs < 50 || probeTimeoutMs > 60_000)
    bad('probeTimeoutMs', 'must be an integer between 50 and 60000 (ms)');
  const probeAddress = text('probeAddress', options.probeAddress);
  if (probeAddress !== undefined && isIP(probeAddress) === 0)
    bad('probeAddress', 'must be an IPv4 or IPv6 address');
  const maxAttempts = options.maxAttempts;
  if (
    maxAttempts !== undefined &&
    (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10)
  )
    bad('maxAttempts', 'must be an integer between 1 and 10');
  return {
    loadBalancer,
    distributionIds,
    secretId: text('secretId', options.secretId),
    jsonKey: text('jsonKey', options.jsonKey),
    headerName,
    region: text('region', options.region),
    probe: options.probe === true,
    probeTimeoutMs,
    probeAddress,
    maxAttempts,
    allowIncomplete: options.allowIncomplete === true,
    clients: options.clients ?? {},
  };
}

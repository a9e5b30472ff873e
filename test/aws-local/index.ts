/**
 * A local AWS-protocol endpoint for tests, the demo and load/soak runs: Secrets Manager,
 * EC2 managed prefix lists and ip-ranges.json on one 127.0.0.1 server. No network access.
 * @module
 */

export type { LocalEc2, LocalPrefixListInfo, LocalPrefixListOptions } from './ec2.js';
export type {
  LocalSecurityGroupInput,
  LocalSecurityGroupRuleInput,
  LocalSecurityGroups,
} from './ec2-security-groups.js';
export { setEnv } from './env.js';
export {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
  CLOUDFRONT_VIEWER_FACING_V4,
  CLOUDFRONT_VIEWER_FACING_V6,
} from './fixtures.js';
export {
  buildIpRangesDocument,
  type IpRangesDocument,
  type IpRangesIpv6Prefix,
  type IpRangesPrefix,
  type LocalIpRanges,
} from './ip-ranges.js';
export type {
  LocalSecretInfo,
  LocalSecretPutOptions,
  LocalSecrets,
  LocalSecretValue,
} from './secrets-manager.js';
export {
  type CallRecord,
  CLOUDFRONT_PREFIX_LIST_V4,
  CLOUDFRONT_PREFIX_LIST_V6,
  type FaultConfig,
  IP_RANGES_ACTION,
  type LocalAws,
  type LocalAwsEnv,
  type LocalAwsOptions,
  type LocalFaults,
  startLocalAws,
} from './server.js';
export type { LocalServiceQuotas } from './service-quotas.js';

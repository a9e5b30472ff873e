/**
 * A local AWS-protocol endpoint for tests, the demo and load/soak runs: Secrets Manager,
 * EC2 managed prefix lists, CloudFront, ELBv2 and ip-ranges.json on one 127.0.0.1 server.
 * No network access.
 * @module
 */

export type {
  LocalCloudFront,
  LocalDistributionSpec,
  LocalOriginSpec,
  LocalOriginView,
  LocalVpcOriginSpec,
  OriginProtocolPolicy,
} from './cloudfront.js';
export type { LocalEc2, LocalPrefixListInfo, LocalPrefixListOptions } from './ec2.js';
export type {
  LocalHosts,
  LocalInstanceInput,
  LocalNetworkInterfaceInput,
  LocalRouteInput,
  LocalRouteTableInput,
  LocalSecondaryAddressInput,
} from './ec2-hosts.js';
export type {
  LocalSecurityGroupInput,
  LocalSecurityGroupRuleInput,
  LocalSecurityGroups,
} from './ec2-security-groups.js';
export {
  DEFAULT_ALB_ATTRIBUTES,
  fixedResponse,
  forward,
  httpHeaderCondition,
  type LocalAlbRequest,
  type LocalElbv2,
  type LocalListenerSpec,
  type LocalLoadBalancerSpec,
  type LocalRuleSpec,
  type LocalRuleView,
  type LocalTargetGroupSpec,
  type LocalTargetSpec,
} from './elbv2.js';
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
  LocalRotationConfig,
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

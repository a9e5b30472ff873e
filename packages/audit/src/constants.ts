/**
 * Defaults and fixed names, written once; the README, the CLI and the checks read them here.
 * @module
 */

/** Defaults of the audit options. */
export const DEFAULTS = {
  /** Header CloudFront adds and the app checks. */
  headerName: 'x-origin-verify',
  /** AWS's default "Inbound or outbound rules per security group" quota. */
  rulesQuota: 60,
  /** WARN when the weighted rule count is within this fraction of the quota. */
  quotaWarnFraction: 0.1,
  /** Longest rotation schedule that passes. */
  maxRotationDays: 90,
  /**
   * An `AWSPENDING` version older than this (not also `AWSCURRENT`) WARNs: a rotation starts
   * within its window (at most a UTC day) and its four steps take minutes, so one still pending
   * after a day has failed or is stuck.
   */
  maxPendingHours: 24,
  /**
   * A pending version created more than this many minutes after this machine's clock WARNs that
   * the clock is behind (the SDK corrects its signatures for skew, so the calls still succeed,
   * and every age would be read short).
   */
  clockSkewMinutes: 5,
  /**
   * A public CIDR on a listener port this wide or wider (prefix length at most this, per family)
   * FAILs like `0.0.0.0/0`: a /8 alone is 16.7 million IPv4 addresses. The same bounds as the
   * core's refusal of over-broad fetched ranges.
   */
  widePublicPrefixLength: { IPv4: 8, IPv6: 16 },
  /**
   * Most pages of one AWS listing read (a VPC's interfaces at 1000 a page, an account's
   * distributions at 100): more is a faulty answer, an `error` skip, never a listing cut short.
   */
  maxListPages: 1_000,
  /** Per-request timeout of `--probe`. */
  probeTimeoutMs: 3_000,
} as const;

/** Service Quotas address of "Inbound or outbound rules per security group". */
export const RULES_QUOTA = { serviceCode: 'vpc', quotaCode: 'L-0EA8095F' } as const;

/** AWS-managed CloudFront origin-facing prefix lists, by address family. */
export const CLOUDFRONT_PREFIX_LISTS = {
  IPv4: 'com.amazonaws.global.cloudfront.origin-facing',
  IPv6: 'com.amazonaws.global.ipv6.cloudfront.origin-facing',
} as const;

/** Secrets Manager staging labels. */
export const STAGES = {
  current: 'AWSCURRENT',
  pending: 'AWSPENDING',
  previous: 'AWSPREVIOUS',
} as const;

/**
 * Every IAM action the audit calls: all read-only. The README's policy lists exactly these;
 * a test checks the two agree.
 */
export const IAM_ACTIONS = [
  'elasticloadbalancing:DescribeLoadBalancers',
  'elasticloadbalancing:DescribeLoadBalancerAttributes',
  'elasticloadbalancing:DescribeListeners',
  'elasticloadbalancing:DescribeRules',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeTargetHealth',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSecurityGroupRules',
  'ec2:DescribeManagedPrefixLists',
  'ec2:GetManagedPrefixListEntries',
  'ec2:DescribeInstances',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeRouteTables',
  'servicequotas:GetServiceQuota',
  'cloudfront:GetDistribution',
  'cloudfront:ListDistributions',
  'cloudfront:GetVpcOrigin',
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:ListSecretVersionIds',
] as const;

/** One of {@link IAM_ACTIONS}. */
export type IamAction = (typeof IAM_ACTIONS)[number];

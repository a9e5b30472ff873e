/**
 * Scenario accounts for the audit, each a whole account on the local AWS endpoint: the correct
 * setup, the story's starting point (all six holes) and each hole alone. Used by the tests and
 * by `npm run demo`.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { CheckId, CheckStatus } from '@cdn-origin-guard/audit';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
  CLOUDFRONT_PREFIX_LIST_V4,
  CLOUDFRONT_PREFIX_LIST_V6,
  fixedResponse,
  forward,
  httpHeaderCondition,
  type LocalAws,
  type LocalSecurityGroupRuleInput,
} from '../aws-local/index.js';

/** The six holes of the story (issue 11, and the app's own security group). */
export const HOLES = [
  'open-security-group',
  'rules-quota',
  'listener-rule-order',
  'direct-reachability',
  'header-drift',
  'open-target',
] as const;
export type Hole = (typeof HOLES)[number];

/** The checks each hole must make FAIL; every other check must PASS. */
export const FAILS_OF_HOLE: Readonly<Record<Hole, readonly CheckId[]>> = {
  'open-security-group': ['security-groups'],
  'rules-quota': ['rules-quota'],
  'listener-rule-order': ['listener-rules'],
  'direct-reachability': ['direct-reachability'],
  'header-drift': ['cloudfront-distribution', 'alb-rule-values'],
  'open-target': ['targets'],
};

/** Every check id, in report order. */
export const CHECK_IDS: readonly CheckId[] = [
  'security-groups',
  'rules-quota',
  'listener-rules',
  'alb-attributes',
  'cloudfront-distribution',
  'alb-rule-values',
  'secret-rotation',
  'secret-values',
  'targets',
  'direct-reachability',
];

/** The status every check must have with these holes (and the probe run). */
export function expectedStatuses(holes: readonly Hole[]): Record<CheckId, CheckStatus> {
  const failing = new Set(holes.flatMap((h) => FAILS_OF_HOLE[h]));
  return Object.fromEntries(
    CHECK_IDS.map((id) => [id, failing.has(id) ? 'FAIL' : 'PASS']),
  ) as Record<CheckId, CheckStatus>;
}

/** What the tests need to know about a built account. */
export interface Scenario {
  readonly albName: string;
  readonly albArn: string;
  readonly dnsName: string;
  readonly distributionId: string;
  readonly secretId: string;
  readonly securityGroupId: string;
  /** The inbound rule ids of the ALB's group, by role. */
  readonly ruleIds: { readonly cloudFront: string; readonly open?: string };
  readonly listenerArn: string;
  /** The HTTPS listener's port, the one the distribution's origin connects to (`HTTPSPort`). */
  readonly listenerPort: number;
  /** The app's target group, its one instance and that instance's security group. */
  readonly app: {
    readonly targetGroupArn: string;
    readonly instanceId: string;
    readonly securityGroupId: string;
  };
}

/** Options of {@link buildAccount}. */
export interface AccountOptions {
  readonly holes: readonly Hole[];
  /** The HTTPS listener's port (a local probe target's port when probing). Defaults to `443`. */
  readonly port?: number;
  /** Defaults to `story-alb`. */
  readonly albName?: string;
  /** A dualstack ALB; with `ipv6List`, its group also allows the CloudFront IPv6 list. Defaults to IPv4 only. */
  readonly dualstack?: { readonly ipv6List: boolean };
  /** Store the secret as JSON with the value under this key (the guard's `jsonKey`). Defaults to a plain string. */
  readonly jsonKey?: string;
}

const HEADER = 'X-Origin-Verify';
/** Real weight of the CloudFront IPv4 origin-facing list against the rules quota. */
export const CLOUDFRONT_V4_MAX_ENTRIES = 55;
/** Weight given to the IPv6 list in these fixtures. */
export const CLOUDFRONT_V6_MAX_ENTRIES = 45;
const DAY_MS = 86_400_000;

const deny403 = [fixedResponse('403')];

/**
 * Build a whole account on `aws` (a fresh local endpoint: the quota is account-wide): the
 * correct setup, with the given holes opened.
 */
export function buildAccount(aws: LocalAws, options: AccountOptions): Scenario {
  const has = (hole: Hole) => options.holes.includes(hole);
  const port = options.port ?? 443;
  const albName = options.albName ?? 'story-alb';
  const secretId = 'prod/cloudfront/origin-verify';
  const securityGroupId = 'sg-0a1b2c3d4e5f60718';

  // Secrets Manager: rotated 10 days ago on a 30-day schedule by a rotation function.
  const oldValue = randomBytes(32).toString('base64url');
  const value = randomBytes(32).toString('base64url');
  const stored = (v: string) =>
    options.jsonKey === undefined ? v : { [options.jsonKey]: v, note: 'other keys are kept' };
  aws.secrets.put(secretId, stored(oldValue));
  aws.secrets.put(secretId, stored(value));
  aws.secrets.setRotation(secretId, {
    enabled: true,
    lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:cdn-origin-guard-rotation',
    automaticallyAfterDays: 30,
    lastRotatedDate: Date.now() - 10 * DAY_MS,
  });
  // Hole 5: CloudFront and the ALB rule still carry the value from before the last rotation.
  const sent = has('header-drift') ? oldValue : value;

  // EC2: the CloudFront origin-facing list weighs its max entries against the quota.
  const list = aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4, {
    maxEntries: CLOUDFRONT_V4_MAX_ENTRIES,
  });
  const inbound: LocalSecurityGroupRuleInput[] = [
    { port, prefixListId: list.id, description: 'CloudFront origin-facing' },
  ];
  if (options.dualstack?.ipv6List === true) {
    const v6 = aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V6, CLOUDFRONT_ORIGIN_FACING_V6, {
      maxEntries: CLOUDFRONT_V6_MAX_ENTRIES,
    });
    inbound.push({ port, prefixListId: v6.id, description: 'CloudFront origin-facing IPv6' });
  }
  // Hole 1: 443 still open to the world.
  if (has('open-security-group')) inbound.push({ port, cidrIpv4: '0.0.0.0/0' });
  // Hole 2: the group is full (55 + 5 = 60 of 60); the correct setup has its quota raised.
  const privateRules = has('rules-quota') ? (has('open-security-group') ? 4 : 5) : 2;
  for (let i = 0; i < privateRules; i++)
    inbound.push({ port, cidrIpv4: `10.0.${i}.0/24`, description: `office VPN ${i}` });
  const ids = aws.ec2.securityGroups.set({ id: securityGroupId, name: 'story-alb-sg', inbound });
  aws.serviceQuotas.set(
    'vpc',
    'L-0EA8095F',
    has('rules-quota') ? 60 : 120,
    'Inbound or outbound rules per security group',
  );

  // The app: one instance on port 8080 in a group that admits the ALB's group alone.
  // Hole 6: the group also admits 8080 from anywhere, and the instance has a public address.
  const appGroupId = `sg-0${Buffer.from(`app:${albName}`).toString('hex').slice(0, 16)}`;
  aws.ec2.securityGroups.set({
    id: appGroupId,
    name: `${albName}-app-sg`,
    inbound: [
      { port: 8080, referencedGroupId: securityGroupId, description: 'from the ALB' },
      ...(has('open-target') ? [{ port: 8080, cidrIpv4: '0.0.0.0/0' }] : []),
    ],
  });
  const instanceId = `i-0${randomBytes(8).toString('hex')}`;
  aws.ec2.hosts.setInstance({
    id: instanceId,
    securityGroupIds: [appGroupId],
    privateIp: '10.0.1.25',
    ...(has('open-target') ? { publicIp: '54.210.33.7' } : {}),
  });
  const targetGroup = aws.elbv2.addTargetGroup({ name: `${albName}-app`, port: 8080 });
  aws.elbv2.registerTargets(targetGroup.arn, [{ id: instanceId }]);
  const toApp = [forward(targetGroup.arn)];

  // ELBv2: one HTTPS listener; header rule forwards, everything else gets 403.
  const alb = aws.elbv2.addLoadBalancer({
    name: albName,
    securityGroups: [securityGroupId],
    ipAddressType: options.dualstack === undefined ? 'ipv4' : 'dualstack',
    attributes: { 'routing.http.drop_invalid_header_fields.enabled': 'true' },
  });
  const listener = aws.elbv2.addListener(alb.arn, {
    port,
    protocol: 'HTTPS',
    defaultActions: deny403,
  });
  aws.elbv2.addRule(listener.arn, {
    priority: 10,
    conditions: [httpHeaderCondition(HEADER, [sent])],
    actions: toApp,
  });
  // Hole 3: a forwarding rule without the header, evaluated before the header check.
  if (has('listener-rule-order')) {
    aws.elbv2.addRule(listener.arn, {
      priority: 5,
      conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
      actions: toApp,
    });
  }

  // CloudFront: one origin at the ALB with the header.
  const distribution = aws.cloudfront.addDistribution({
    origins: [
      {
        id: 'alb-origin',
        domainName: alb.dnsName,
        protocolPolicy: has('header-drift') ? 'http-only' : 'https-only',
        httpsPort: port,
        headers: { [HEADER]: sent },
      },
      { id: 'static-assets', domainName: 'story-assets.s3.amazonaws.com', s3: true },
    ],
  });

  return {
    albName,
    albArn: alb.arn,
    dnsName: alb.dnsName,
    distributionId: distribution.id,
    secretId,
    securityGroupId,
    ruleIds: {
      cloudFront: ids.inbound[0] as string,
      ...(has('open-security-group') ? { open: ids.inbound[1] as string } : {}),
    },
    listenerArn: listener.arn,
    listenerPort: port,
    app: { targetGroupArn: targetGroup.arn, instanceId, securityGroupId: appGroupId },
  };
}

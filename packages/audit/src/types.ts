/**
 * The account snapshot the checks read, and the results they return. Gatherers fill the
 * snapshot with the AWS SDK; checks are pure functions over it.
 * @module
 */
import type { SecretText } from './secret-text.js';

/** Outcome of one check or one finding. */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL' | 'SKIPPED';

/** Stable ids of the checks, in report order. */
export type CheckId =
  | 'security-groups'
  | 'rules-quota'
  | 'listener-rules'
  | 'alb-attributes'
  | 'cloudfront-distribution'
  | 'alb-rule-values'
  | 'secret-rotation'
  | 'secret-values'
  | 'targets'
  | 'direct-reachability';

/** Evidence values: ids, ports, priorities, counts. Never a secret value. */
export type EvidenceValue = string | number | boolean | readonly (string | number)[];

/** One observation of a check. */
export interface Finding {
  readonly status: Exclude<CheckStatus, 'SKIPPED'>;
  /** What was found, in one sentence. */
  readonly message: string;
  /** Rule ids, ports, priorities, counts behind the message. */
  readonly evidence: Readonly<Record<string, EvidenceValue>>;
  /** The exact fix, on every WARN and FAIL. */
  readonly fix?: string;
}

/** Why a check did not run. */
export interface Skip {
  readonly reason: 'access-denied' | 'throttled' | 'error' | 'not-requested' | 'not-applicable';
  /** What happened, in one sentence. */
  readonly message: string;
  /** The IAM action that was denied, e.g. `elasticloadbalancing:DescribeRules`. */
  readonly missingAction?: string;
}

/** The result of one check. */
export interface CheckResult {
  readonly id: CheckId;
  readonly title: string;
  /** The worst status of the findings, or `SKIPPED`. */
  readonly status: CheckStatus;
  readonly findings: readonly Finding[];
  readonly skipped?: Skip;
  /**
   * Set when the check ran but could not look everywhere (a call it needed for part of its
   * judgement was denied, throttled or failed): its findings stand, and the hole it looks for
   * may be where it could not look, so the audit is `INCOMPLETE` as for a skipped check. E.g.
   * the entries of a customer-managed prefix list a rule allows could not be read.
   */
  readonly incomplete?: Skip;
}

/** A part of the snapshot: its value, or why it could not be read. */
export type Gathered<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly skip: Skip };

/** The load balancer under audit. */
export interface LoadBalancerInfo {
  readonly arn: string;
  readonly name: string;
  readonly dnsName: string;
  /** `ipv4`, `dualstack` or `dualstack-without-public-ipv4`. */
  readonly ipAddressType: string;
  readonly scheme: string;
  readonly securityGroupIds: readonly string[];
}

/** A listener action, reduced to what decides where a request goes. */
export interface ActionInfo {
  /** `forward`, `redirect`, `fixed-response`, `authenticate-oidc`, `authenticate-cognito`. */
  readonly type: string;
  /** The status code of a `fixed-response` (e.g. `403`) or a `redirect` (`HTTP_301`). */
  readonly statusCode?: string;
  /** A redirect's target protocol (`HTTPS`, `HTTP` or `#{protocol}`). */
  readonly redirectProtocol?: string;
  /** A redirect's target host (`#{host}` keeps the request's host). */
  readonly redirectHost?: string;
  /** The target groups a `forward` action sends to (ARNs). */
  readonly targetGroups?: readonly string[];
}

/** A listener rule condition, reduced. */
export interface ConditionInfo {
  /** `http-header`, `path-pattern`, `host-header`, ... */
  readonly field: string;
  /** Header name of an `http-header` condition, lower case. */
  readonly headerName?: string;
  /** Values of the condition. Header values are secrets and kept redacted. */
  readonly values: readonly string[];
  /** Exact values of an `http-header` condition, redacted. */
  readonly headerValues?: readonly SecretText[];
  /**
   * How many values of an `http-header` condition ALB matches as patterns (a `*` or `?`
   * wildcard, or a `RegexValues` entry): each lets through more than one header value.
   */
  readonly headerPatterns?: number;
}

/** A listener rule, reduced. */
export interface RuleInfo {
  readonly arn: string;
  /** A number, or `default`. */
  readonly priority: number | 'default';
  readonly conditions: readonly ConditionInfo[];
  /** The action that decides (the last one: authenticate actions come first). */
  readonly action: ActionInfo;
}

/** A listener with its rules (default rule last). */
export interface ListenerInfo {
  readonly arn: string;
  readonly port: number;
  /** `HTTP`, `HTTPS`, ... */
  readonly protocol: string;
  readonly rules: readonly RuleInfo[];
}

/** One inbound security group rule. */
export interface SecurityGroupRuleInfo {
  /** `sgr-...` */
  readonly id: string;
  readonly groupId: string;
  /** `tcp`, `udp`, `icmp` or `-1` (all). */
  readonly protocol: string;
  /** `-1` for all ports. */
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrIpv4?: string;
  readonly cidrIpv6?: string;
  readonly prefixListId?: string;
  readonly referencedGroupId?: string;
}

/** A security group of the ALB and its inbound rules. */
export interface SecurityGroupInfo {
  readonly id: string;
  readonly name: string;
  readonly inbound: readonly SecurityGroupRuleInfo[];
}

/** A managed prefix list referenced by a rule or looked up by name. */
export interface PrefixListInfo {
  readonly id: string;
  readonly name: string;
  readonly addressFamily: 'IPv4' | 'IPv6';
  /** The list's weight against the rules quota. */
  readonly maxEntries: number | undefined;
  /**
   * The list's CIDRs (GetManagedPrefixListEntries), or why they could not be read. Read only for
   * referenced lists that are not the CloudFront origin-facing ones; `undefined` otherwise.
   */
  readonly entries?: Gathered<readonly string[]>;
}

/** The rules-per-security-group quota. */
export interface QuotaInfo {
  readonly value: number;
  /** `service-quotas` when read, `default` when assumed. */
  readonly source: 'service-quotas' | 'default';
  /** Why the default was assumed. */
  readonly note?: string;
}

/** One CloudFront origin, reduced. */
export interface OriginInfo {
  readonly id: string;
  readonly domainName: string;
  /**
   * `http-only`, `https-only`, `match-viewer`: a custom origin's (`CustomOriginConfig`), or a
   * VPC origin's (`GetVpcOrigin`); undefined for S3 origins and for a VPC origin that could not
   * be read.
   */
  readonly protocolPolicy: string | undefined;
  /**
   * The ports CloudFront connects to over HTTP and HTTPS (`HTTPPort`, `HTTPSPort`: the custom
   * origin's, or the VPC origin's); undefined when not read (an S3 origin, a VPC origin that
   * could not be read), and then any listener of the protocol may be the one it connects to.
   */
  readonly ports?: { readonly http: number; readonly https: number };
  /**
   * Set for a VPC origin (`VpcOriginConfig`): CloudFront connects to the ALB inside its VPC,
   * with the protocol policy of the VPC origin. `unread` says why that could not be read.
   */
  readonly vpcOrigin?: { readonly id: string; readonly unread?: Skip };
  /** Custom header names (lower case) and their values, redacted. */
  readonly headers: ReadonlyMap<string, SecretText>;
}

/** A CloudFront distribution, reduced. */
export interface DistributionInfo {
  readonly id: string;
  /** `Deployed` or `InProgress`. */
  readonly status: string;
  readonly origins: readonly OriginInfo[];
  /**
   * Found by `ListDistributions` rather than named with `--distribution`: an origin of it that
   * sends the header to another domain than the ALB's is then this site's only when the value
   * it sends is one of the secret's (another site may use the same header name).
   */
  readonly listed?: boolean;
}

/** A network interface a target runs on, as EC2 tells it. */
export interface TargetHost {
  /** `i-...` for an instance's primary interface, `eni-...` for another one or an IP target's. */
  readonly resourceId: string;
  readonly securityGroupIds: readonly string[];
  /** A public IPv4 address of it (its primary private address's, else a secondary's), when it has one. */
  readonly publicIpv4: string | undefined;
  /** Its IPv6 addresses (globally routable in a VPC). */
  readonly ipv6: readonly string[];
  /** The subnet and VPC it is in, whose route table says whether the internet reaches it. */
  readonly subnetId: string | undefined;
  readonly vpcId: string | undefined;
  /**
   * The prefix delegated to the interface (`Ipv4Prefixes` / `Ipv6Prefixes`: EKS and ECS give
   * pods and tasks addresses from them) that holds the IP target's address, when it is held that
   * way. Its `publicIpv4` is then none (no public IPv4 address maps to a prefix's address) and
   * its `ipv6` the target's own address alone.
   */
  readonly delegatedPrefix?: string;
}

/** What a subnet's route table (its own, or the VPC's main one) says of the internet. */
export interface SubnetRoutes {
  readonly routeTableId: string;
  /** An active IPv4 route to an internet gateway (`igw-`). */
  readonly internetIpv4: boolean;
  /** An active IPv6 route to an internet gateway (not an egress-only one, which takes no inbound connection). */
  readonly internetIpv6: boolean;
}

/** A registered target (`DescribeTargetHealth`). */
export interface TargetInfo {
  /** An instance id, an IP address, a Lambda function ARN or an ALB ARN. */
  readonly id: string;
  /** The port the ALB sends to; `undefined` for Lambda targets. */
  readonly port: number | undefined;
  /** The health-check port when it is not the traffic port. */
  readonly healthCheckPort: number | undefined;
  /** `all`: an IP target outside the VPC (on premises, a peered VPC). */
  readonly availabilityZone: string | undefined;
  /**
   * Where it runs: every network interface of an instance target (the app listens on all of
   * them), the one interface holding an IP target's address. Empty when EC2 does not know it
   * (terminated, an address outside this account's network interfaces), and for Lambda and ALB
   * targets.
   */
  readonly hosts: readonly TargetHost[];
}

/** A target group the load balancer forwards to, and its registered targets. */
export interface TargetGroupInfo {
  readonly arn: string;
  readonly name: string;
  /** `instance`, `ip`, `lambda` or `alb`. */
  readonly targetType: string;
  readonly targets: readonly TargetInfo[];
}

/** The load balancer's targets, and the security groups of the hosts they run on. */
export interface TargetsInfo {
  readonly groups: readonly TargetGroupInfo[];
  /** Every security group of a target's host, with its inbound rules. */
  readonly securityGroups: readonly SecurityGroupInfo[];
  /** The prefix lists those groups' rules reference (entries read for customer-managed lists). */
  readonly prefixLists: ReadonlyMap<string, PrefixListInfo>;
  /**
   * Subnet id -> its routes (`DescribeRouteTables`), or why they could not be read: a target is
   * then judged as if its subnet routed to an internet gateway.
   */
  readonly routes: Gathered<ReadonlyMap<string, SubnetRoutes>>;
}

/** The secret as `DescribeSecret` tells it: its names and rotation settings, no value. */
export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  readonly rotationEnabled: boolean;
  readonly rotationLambdaArn: string | undefined;
  readonly automaticallyAfterDays: number | undefined;
  readonly scheduleExpression: string | undefined;
  readonly lastRotatedDate: Date | undefined;
  /**
   * The rotation in flight: a version labelled `AWSPENDING` and not `AWSCURRENT`; `undefined`
   * when there is none. A failed rotation leaves it so, and its value stays accepted.
   */
  readonly pendingRotation: PendingRotation | undefined;
  /**
   * How far Secrets Manager's clock is ahead of this machine's, in ms (negative: behind), from
   * the `Date` of its answers as the AWS SDK reads it (`systemClockOffset`); `undefined` when
   * not known. Ages are judged on AWS's clock: with this machine's clock wrong by a day, a
   * rotation started an hour ago read as stuck, and a stuck one as young.
   */
  readonly clockOffsetMs?: number | undefined;
}

/** A version labelled `AWSPENDING` but not `AWSCURRENT` (DescribeSecret's `VersionIdsToStages`). */
export interface PendingRotation {
  readonly versionId: string;
  /** The version labelled `AWSCURRENT` (DescribeSecret), for the command that finishes it. */
  readonly currentVersionId: string | undefined;
  /**
   * The version is also `AWSPREVIOUS`: a finished rotation left `AWSPENDING` on its version (as
   * AWS's templates do) and `AWSCURRENT` was then moved back (a rollback), not a failed rotation.
   */
  readonly rolledBack: boolean;
  /**
   * When the version was created (`ListSecretVersionIds`), `undefined` when that call does not
   * list it, or why it could not be read (e.g. `secretsmanager:ListSecretVersionIds` denied).
   */
  readonly created: Gathered<Date | undefined>;
}

/** The secret and its staged values, redacted. */
export interface SecretInfo extends SecretDescription {
  /**
   * Staging label -> value (AWSCURRENT, AWSPENDING, AWSPREVIOUS when present), for the values the
   * guard accepts.
   */
  readonly values: ReadonlyMap<string, SecretText>;
  /** Staging label -> why the guard refuses the value that stage holds (see `secret-values`). */
  readonly refused: ReadonlyMap<string, RefusedValue>;
}

/** A staged value the guard refuses, as the core's `readSecretString` says: never the value. */
export interface RefusedValue {
  readonly versionId: string | undefined;
  /** Why, ending with the fix: "has no SecretString; binary secrets are not supported." */
  readonly problem: string;
}

/** The answer to one direct request to the ALB. */
export interface ProbeResult {
  readonly url: string;
  /** `served` (an HTTP status came back), `refused`, `timeout`, `reset`, `error`. */
  readonly outcome: 'served' | 'refused' | 'timeout' | 'reset' | 'error';
  readonly statusCode?: number;
  /** The `Location` header of a served answer (a redirect's target; a URL, not a secret). */
  readonly location?: string;
  readonly detail?: string;
}

/** Everything the checks read. */
export interface AccountSnapshot {
  readonly region: string;
  /** Lower-case header name, e.g. `x-origin-verify`. */
  readonly headerName: string;
  readonly loadBalancer: LoadBalancerInfo;
  /** The listener ports (DescribeListeners), known even when the rules cannot be read. */
  readonly listenerPorts: Gathered<readonly number[]>;
  readonly listeners: Gathered<readonly ListenerInfo[]>;
  readonly attributes: Gathered<Readonly<Record<string, string>>>;
  readonly securityGroups: Gathered<readonly SecurityGroupInfo[]>;
  /**
   * Prefix lists by id: those the rules reference and the CloudFront ones by name. A referenced
   * id that does not exist (or is no longer shared) is absent.
   */
  readonly prefixLists: Gathered<ReadonlyMap<string, PrefixListInfo>>;
  readonly quota: QuotaInfo;
  /** Distributions in front of the ALB (given, or found by origin domain). */
  readonly distributions: Gathered<readonly DistributionInfo[]>;
  /**
   * The secret's rotation settings (`DescribeSecret` alone): judged even when its values cannot
   * be read.
   */
  readonly secretDescription: Gathered<SecretDescription>;
  /** The secret with its values (`DescribeSecret`, then `GetSecretValue`), for the value checks. */
  readonly secret: Gathered<SecretInfo>;
  /**
   * The targets of the target groups the load balancer forwards to, with their hosts' security
   * groups: whether the app can be reached around the ALB.
   */
  readonly targets: Gathered<TargetsInfo>;
  readonly probes: Gathered<readonly ProbeResult[]>;
}

/** The whole report. */
export interface AuditReport {
  readonly region: string;
  readonly loadBalancer: { readonly arn: string; readonly name: string; readonly dnsName: string };
  readonly checks: readonly CheckResult[];
  /**
   * FAIL when any check fails; else INCOMPLETE when a check could not run (access denied,
   * throttled, an AWS error: the hole it looks for may be there); else WARN when any warns;
   * else PASS. A check skipped because it was not asked for (`--secret-id`, `--probe`) or does
   * not apply does not make the audit incomplete.
   */
  readonly status: AuditStatus;
  /**
   * 0: no FAIL and complete (or incomplete with `allowIncomplete`); 1: a FAIL; 3: incomplete.
   * (2, could not run at all, is an {@link AuditError}.)
   */
  readonly exitCode: 0 | 1 | 3;
}

/** The overall status of an audit. */
export type AuditStatus = 'PASS' | 'WARN' | 'FAIL' | 'INCOMPLETE';

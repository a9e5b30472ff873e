/**
 * Targets behind the ALB: the app must not be reachable around it. A target whose security
 * group allows its port from the internet, on a host with a public address, skips the ALB's
 * header rule and CloudFront's edge controls alike; only the guard in the app is left.
 * @module
 */
import { CLOUDFRONT_PREFIX_LISTS } from '../constants.js';
import { isAnywhere, isPublicCidr } from '../net.js';
import type {
  AccountSnapshot,
  CheckResult,
  Finding,
  Gathered,
  PrefixListInfo,
  SecurityGroupInfo,
  SecurityGroupRuleInfo,
  Skip,
  SubnetRoutes,
  TargetGroupInfo,
  TargetHost,
  TargetInfo,
} from '../types.js';
import { openedPorts, ruleLabel, sourceOf } from './ports.js';
import { type Check, fail, partly, pass, result, skipped, warn } from './result.js';
import { isWidePublic } from './security-groups.js';

const check = { id: 'targets', title: 'Targets behind the ALB' } as const;

/** How far a public source reaches: the whole internet (or a /8), CloudFront's list, or a range. */
type Reach = 'anyone' | 'cloudfront' | 'range';

/** A public source a rule admits on a target's port, for one address family. */
interface PublicSource {
  readonly reach: Reach;
  readonly family: 'IPv4' | 'IPv6';
  /** As written in a message: `0.0.0.0/0`, `prefix list pl-1 (name)`. */
  readonly label: string;
}

/** One rule admitting public sources, with the targets it covers, split by exposure. */
interface OpenTargetRule {
  readonly group: SecurityGroupInfo;
  readonly rule: SecurityGroupRuleInfo;
  readonly sources: readonly PublicSource[];
  readonly ports: Set<number>;
  /** Targets with a public address of a family the rule opens: `i-1 (54.1.2.3)`. */
  readonly exposed: Set<string>;
  /** Targets without one. */
  readonly unexposed: Set<string>;
  /** Exposed targets whose subnet's routes could not be read (taken as reaching the internet). */
  readonly unrouted: Set<string>;
  readonly targetGroups: Set<string>;
}

/** Up to five names for a message, then how many in all. */
const listed = (names: Iterable<string>) => {
  const all = [...names];
  return all.length > 5
    ? `${all.slice(0, 5).join(', ')}, ... (${all.length} in all)`
    : all.join(', ');
};

const familyOf = (cidr: string): 'IPv4' | 'IPv6' => (cidr.includes(':') ? 'IPv6' : 'IPv4');

/** The public sources of a CIDR: none for a private range. */
function cidrSources(cidr: string, label = cidr): PublicSource[] {
  if (!isAnywhere(cidr) && !isPublicCidr(cidr)) return [];
  const reach: Reach = isAnywhere(cidr) || isWidePublic(cidr) ? 'anyone' : 'range';
  return [{ reach, family: familyOf(cidr), label }];
}

/**
 * What a rule admits: public sources, or why it could not be told (a prefix list whose entries
 * could not be read). Security groups and private ranges admit nothing public.
 */
function sourcesOf(
  rule: SecurityGroupRuleInfo,
  snapshot: AccountSnapshot,
): { sources: PublicSource[]; unread?: Skip } {
  const cidr = rule.cidrIpv4 ?? rule.cidrIpv6;
  if (cidr !== undefined) return { sources: cidrSources(cidr) };
  if (rule.prefixListId === undefined) return { sources: [] };
  const lists: ReadonlyMap<string, PrefixListInfo> = snapshot.targets.ok
    ? snapshot.targets.value.prefixLists
    : new Map();
  const list = lists.get(rule.prefixListId);
  if (list === undefined) {
    return {
      sources: [],
      unread: {
        reason: 'error',
        message: `prefix list ${rule.prefixListId}, which ${rule.id} allows, could not be described (not found, or no longer shared with this account)`,
      },
    };
  }
  const label = `prefix list ${list.id} (${list.name})`;
  if (list.name === CLOUDFRONT_PREFIX_LISTS[list.addressFamily])
    return { sources: [{ reach: 'cloudfront', family: list.addressFamily, label }] };
  if (list.entries === undefined || !list.entries.ok)
    return {
      sources: [],
      unread:
        list.entries?.ok === false
          ? list.entries.skip
          : {
              reason: 'error',
              message: `the entries of ${label} were not read`,
            },
    };
  const publicEntries = list.entries.value.flatMap((c) => cidrSources(c));
  const reach: Reach = publicEntries.some((s) => s.reach === 'anyone') ? 'anyone' : 'range';
  return {
    sources: [...new Set(publicEntries.map((s) => s.family))].map((family) => ({
      reach,
      family,
      label: `${label}, which holds public ranges`,
    })),
  };
}

/** How a target is reached from the internet on a family's public sources. */
interface Exposure {
  /** `i-1 (54.1.2.3)`: the target and the public addresses it is reached on. */
  readonly label: string;
  /** Its subnet's routes were not read: reaching it is assumed, not seen. */
  readonly unrouted: boolean;
}

/**
 * The target's exposure to `families`: a public address of the family, in a subnet whose route
 * table has an active route to an internet gateway for it (or whose routes were not read).
 * `undefined` when the internet does not reach it.
 */
function exposure(
  target: TargetInfo,
  host: TargetHost,
  families: ReadonlySet<'IPv4' | 'IPv6'>,
  routes: Gathered<ReadonlyMap<string, SubnetRoutes>>,
): Exposure | undefined {
  const table =
    routes.ok && host.subnetId !== undefined ? routes.value.get(host.subnetId) : undefined;
  const addresses = [
    ...(families.has('IPv4') && host.publicIpv4 !== undefined && table?.internetIpv4 !== false
      ? [host.publicIpv4]
      : []),
    ...(families.has('IPv6') && table?.internetIpv6 !== false ? host.ipv6 : []),
  ];
  if (addresses.length === 0) return undefined;
  // An instance's other interface (an IP target's interface is the target itself), or the
  // interface whose delegated prefix holds an IP target's address.
  const through =
    host.delegatedPrefix !== undefined
      ? `, in ${host.resourceId}'s delegated prefix ${host.delegatedPrefix}`
      : target.id.startsWith('i-') && host.resourceId !== target.id
        ? `, through ${host.resourceId}`
        : '';
  return {
    label: `${target.id} (${addresses.join(', ')}${through})`,
    unrouted: table === undefined,
  };
}

/** The ports the ALB reaches a target on: the traffic port, and the health-check port. */
const portsOf = (t: TargetInfo) =>
  [t.port, t.healthCheckPort].filter((p): p is number => p !== undefined);

/**
 * How to close a rule on targets: admit the ALB's security group, one permission per port, then
 * revoke the rule. Review, 5 December: when the targets share the ALB's own group, revoking its
 * rule (the CloudFront prefix list, say) would cut CloudFront off, so the fix is a group of the
 * targets' own; and a rule wider than the judged ports takes other access with it when revoked.
 */
function targetFix(open: OpenTargetRule, ports: readonly number[], albGroups: readonly string[]) {
  const { group, rule } = open;
  const alb = albGroups[0] ?? '<the ALB security group>';
  if (albGroups.includes(group.id)) {
    return `${group.id} is the ALB's security group too: give the targets a security group of their own that admits port ${ports.join(', ')} from ${group.id} alone (aws ec2 create-security-group, then authorize-security-group-ingress with UserIdGroupPairs=[{GroupId=${group.id}}]), attach it to the targets in place of ${group.id}, and leave the ALB's rules as the security-groups check says`;
  }
  const permissions = ports
    .map((p) => `IpProtocol=tcp,FromPort=${p},ToPort=${p},UserIdGroupPairs=[{GroupId=${alb}}]`)
    .join(' ');
  const every = rule.protocol === '-1' || rule.fromPort === -1;
  const wider =
    every || rule.toPort - rule.fromPort + 1 > ports.length
      ? ` (it covers ${every ? 'every port' : `ports ${rule.fromPort}-${rule.toPort}`}: add back, from where they are needed, the other ports it opened)`
      : '';
  return `Allow the ALB's security group instead (aws ec2 authorize-security-group-ingress --group-id ${group.id} --ip-permissions '${permissions}'), then remove this rule (aws ec2 revoke-security-group-ingress --group-id ${group.id} --security-group-rule-ids ${rule.id})${wider}`;
}

/** The findings for one rule that admits public sources. */
function openRuleFinding(open: OpenTargetRule, albGroups: readonly string[]): Finding {
  const { rule, group, sources } = open;
  const ports = [...open.ports].sort((a, b) => a - b);
  const portList = ports.join(', ');
  const from = [...new Set(sources.map((s) => s.label))].join(', ');
  const evidence = {
    group: group.id,
    rule: rule.id,
    ports,
    source: sourceOf(rule),
    targetGroups: [...open.targetGroups],
    exposedTargets: [...open.exposed],
    targets: [...open.exposed, ...open.unexposed],
  };
  const instead = targetFix(open, ports, albGroups);
  if (open.exposed.size === 0) {
    return warn(
      `${ruleLabel(rule)} allows port ${portList} of targets ${listed(open.unexposed)} from ${from}; none of them has a public address for it in a subnet that routes to an internet gateway, so they are not reachable from the internet today, but a public address (an Elastic IP, a subnet that assigns them) or such a route would open the app around the ALB`,
      instead,
      evidence,
    );
  }
  const who = sources.some((s) => s.reach === 'anyone')
    ? 'anyone'
    : sources.some((s) => s.reach === 'cloudfront')
      ? 'every CloudFront distribution, not only yours,'
      : 'those ranges';
  // IPv6 addresses are global, but a subnet that routes IPv6 only through an egress-only
  // internet gateway takes no inbound connection: unless its routes were read, a WARN.
  const ipv6Only = sources.every((s) => s.family === 'IPv6');
  const guessed = ipv6Only && open.unrouted.size > 0;
  const address = ipv6Only ? 'an IPv6 address' : 'a public address';
  const unless = guessed
    ? ', unless their subnets route IPv6 only through an egress-only internet gateway (their route tables could not be read)'
    : '';
  const message = `${ruleLabel(rule)} allows port ${portList} from ${from}, and targets ${listed(open.exposed)} have ${address}: ${who} can reach the app around the ALB (its header rule) and CloudFront${unless}`;
  const fix = `${instead}; or take the public addresses off the targets (a private subnet)`;
  return who === 'anyone' && !guessed ? fail(message, fix, evidence) : warn(message, fix, evidence);
}

/** A target the audit cannot judge: outside the VPC, or not known to EC2. */
function unjudgedFinding(group: TargetGroupInfo, target: TargetInfo): Finding {
  const evidence = { targetGroup: group.name, target: target.id, port: target.port };
  if (target.availabilityZone === 'all') {
    return warn(
      `IP target ${target.id} of ${group.name} is outside the VPC (no network interface of this account holds it): no security group the audit can read guards port ${target.port}`,
      `Make sure the firewall in front of ${target.id} admits port ${target.port} only from the ALB's subnets`,
      evidence,
    );
  }
  const what =
    group.targetType === 'ip'
      ? "held by no network interface of this account in the target group's VPC, as an address or in a delegated prefix"
      : 'not known to EC2 (terminated?)';
  return warn(
    `Target ${target.id} of ${group.name} is ${what}: not judged`,
    `If it is gone, deregister it: aws elbv2 deregister-targets --target-group-arn ${group.arn} --targets Id=${target.id}${target.port === undefined ? '' : `,Port=${target.port}`}`,
    evidence,
  );
}

function run(snapshot: AccountSnapshot): CheckResult {
  const { targets } = snapshot;
  if (!targets.ok) return skipped(check, targets.skip);
  const { groups, securityGroups, routes } = targets.value;
  const albGroups = snapshot.loadBalancer.securityGroupIds;
  if (groups.length === 0)
    return result(check, [pass('The load balancer forwards to no target group', {})]);
  const findings: Finding[] = [];
  const open = new Map<string, OpenTargetRule>();
  let unread: Skip | undefined;
  const byId = new Map(securityGroups.map((g) => [g.id, g]));
  for (const group of groups) {
    if (group.targetType !== 'instance' && group.targetType !== 'ip') {
      findings.push(
        pass(
          `Target group ${group.name} sends to ${group.targetType === 'lambda' ? 'a Lambda function' : `${group.targetType} targets`}: not reachable by address around the ALB`,
          { targetGroup: group.name, targetType: group.targetType },
        ),
      );
      continue;
    }
    let judged = 0;
    let flagged = false;
    for (const target of group.targets) {
      if (target.hosts.length === 0) {
        findings.push(unjudgedFinding(group, target));
        flagged = true;
        continue;
      }
      judged++;
      const ports = portsOf(target);
      for (const host of target.hosts) {
        if (host.securityGroupIds.length === 0) {
          // Review, 5 December: an interface without security groups (an AWS-managed one) PASSed.
          const why: Skip = {
            reason: 'error',
            message: `${host.resourceId} has no security group the audit could read (an interface AWS manages?)`,
          };
          unread ??= why;
          flagged = true;
          findings.push(
            warn(
              `${why.message}: port ${ports.join(', ')} of ${target.id} (${group.name}) was not judged`,
              `Check what admits port ${ports.join(', ')} on ${host.resourceId} by hand`,
              { target: target.id, interface: host.resourceId, ports },
            ),
          );
          continue;
        }
        for (const groupId of host.securityGroupIds) {
          const sg = byId.get(groupId);
          if (sg === undefined) {
            // Never a silent pass: a group of the host that could not be read may admit anyone.
            const why: Skip = {
              reason: 'error',
              message: `security group ${groupId} of ${host.resourceId} was not returned by DescribeSecurityGroups`,
            };
            unread ??= why;
            flagged = true;
            findings.push(
              warn(
                `${why.message}: its rules on port ${ports.join(', ')} of ${target.id} (${group.name}) were not judged`,
                `Check it by hand: aws ec2 describe-security-group-rules --filters Name=group-id,Values=${groupId}`,
                { group: groupId, target: target.id, ports },
              ),
            );
            continue;
          }
          for (const rule of sg.inbound) {
            const opened = openedPorts(rule, ports);
            if (opened.length === 0) continue;
            const { sources, unread: why } = sourcesOf(rule, snapshot);
            if (why !== undefined) {
              unread ??= why;
              flagged = true;
              findings.push(
                warn(
                  `${ruleLabel(rule)} allows port ${opened.join(', ')} of ${target.id} (${group.name}) from ${sourceOf(rule)}, which could not be read (${why.message}): not judged`,
                  `Check ${sourceOf(rule)} by hand: aws ec2 get-managed-prefix-list-entries --prefix-list-id ${sourceOf(rule)}`,
                  { group: sg.id, rule: rule.id, target: target.id, ports: opened },
                ),
              );
              continue;
            }
            if (sources.length === 0) continue;
            flagged = true;
            const key = `${sg.id}|${rule.id}`;
            const entry: OpenTargetRule = open.get(key) ?? {
              group: sg,
              rule,
              sources,
              ports: new Set(),
              exposed: new Set(),
              unexposed: new Set(),
              unrouted: new Set(),
              targetGroups: new Set(),
            };
            for (const p of opened) entry.ports.add(p);
            entry.targetGroups.add(group.name);
            const reached = exposure(target, host, new Set(sources.map((s) => s.family)), routes);
            if (reached === undefined) entry.unexposed.add(target.id);
            else {
              entry.exposed.add(reached.label);
              if (reached.unrouted) entry.unrouted.add(reached.label);
            }
            open.set(key, entry);
          }
        }
      }
    }
    if (!flagged) {
      const ports = [...new Set(group.targets.flatMap(portsOf))].sort((a, b) => a - b);
      findings.push(
        pass(
          judged === 0
            ? `Target group ${group.name} has no registered targets`
            : `Target group ${group.name}: ${judged} target${judged === 1 ? '' : 's'} on port ${ports.join(', ')}, none open to a public address (their security groups allow security groups and private ranges only)`,
          { targetGroup: group.name, targets: judged, ports },
        ),
      );
    }
  }
  for (const entry of open.values()) findings.push(openRuleFinding(entry, albGroups));
  // Without the routes every public address was taken as reachable: a FAIL stands, but an
  // IPv6 verdict was only a WARN, so the check could not look everywhere.
  return partly(result(check, findings), unread ?? (routes.ok ? undefined : routes.skip));
}

/** Targets behind the ALB. */
export const targetsCheck: Check = { ...check, run };

/**
 * Security groups of the ALB: nothing but CloudFront may reach a listener port.
 * @module
 */
import { CLOUDFRONT_PREFIX_LISTS } from '../constants.js';
import { isAnywhere, isPublicCidr } from '../net.js';
import type { AccountSnapshot, Finding, PrefixListInfo } from '../types.js';
import { listenerPorts, openedPorts, ruleLabel, sourceOf } from './ports.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'security-groups', title: 'Security groups of the ALB' } as const;

function run(snapshot: AccountSnapshot) {
  const { securityGroups, listeners, prefixLists, loadBalancer } = snapshot;
  const skip = firstSkip(securityGroups, prefixLists);
  if (skip !== undefined || !securityGroups.ok || !prefixLists.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const lists = prefixLists.value;
  const cloudFrontList = (id: string | undefined): PrefixListInfo | undefined => {
    const list = id === undefined ? undefined : lists.get(id);
    return list !== undefined && list.name === CLOUDFRONT_PREFIX_LISTS[list.addressFamily]
      ? list
      : undefined;
  };
  const findings: Finding[] = [];
  // Without the listeners (DescribeListeners denied), check CloudFront's default origin ports.
  const ports = listenerPorts(listeners.ok ? listeners.value : undefined);
  if (!listeners.ok) {
    findings.push(
      warn(
        `Listener ports unknown (${listeners.skip.message}); checked ports ${ports.join(', ')} only`,
        `Grant ${listeners.skip.missingAction ?? 'elasticloadbalancing:DescribeListeners'} so every listener port is checked`,
        { checkedPorts: ports },
      ),
    );
  }
  // family -> ports CloudFront's list is allowed on
  const allowed = { IPv4: new Set<number>(), IPv6: new Set<number>() };
  for (const group of securityGroups.value) {
    for (const rule of group.inbound) {
      const opened = openedPorts(rule, ports);
      if (opened.length === 0) continue;
      const evidence = { group: group.id, rule: rule.id, ports: opened, source: sourceOf(rule) };
      const cidr = rule.cidrIpv4 ?? rule.cidrIpv6;
      const list = cloudFrontList(rule.prefixListId);
      if (cidr !== undefined && isAnywhere(cidr)) {
        findings.push(
          fail(
            `${ruleLabel(rule)} allows port ${opened.join(', ')} from ${cidr}: anyone can reach the ALB around CloudFront`,
            `aws ec2 revoke-security-group-ingress --group-id ${group.id} --security-group-rule-ids ${rule.id} (after allowing the CloudFront origin-facing prefix list on the same ports)`,
            evidence,
          ),
        );
      } else if (cidr !== undefined && isPublicCidr(cidr)) {
        findings.push(
          warn(
            `${ruleLabel(rule)} allows port ${opened.join(', ')} from the public range ${cidr}, which is not CloudFront`,
            `Remove rule ${rule.id} from ${group.id} unless ${cidr} must reach the ALB without CloudFront`,
            evidence,
          ),
        );
      } else if (list !== undefined) {
        for (const p of opened) allowed[list.addressFamily].add(p);
        findings.push(
          pass(
            `${ruleLabel(rule)} allows port ${opened.join(', ')} from ${list.id} (${list.name})`,
            { ...evidence, prefixList: list.name },
          ),
        );
      }
    }
  }
  const families: ('IPv4' | 'IPv6')[] = loadBalancer.ipAddressType.startsWith('dualstack')
    ? ['IPv4', 'IPv6']
    : ['IPv4'];
  for (const family of families) {
    const missing = (listeners.ok ? ports : [443]).filter((p) => !allowed[family].has(p));
    if (missing.length === 0) continue;
    const name = CLOUDFRONT_PREFIX_LISTS[family];
    const id = [...lists.values()].find((l) => l.name === name)?.id ?? `<id of ${name}>`;
    const group = loadBalancer.securityGroupIds[0] ?? '<alb security group>';
    findings.push(
      warn(
        `No rule allows the CloudFront ${family} origin-facing prefix list on port ${missing.join(', ')}`,
        `aws ec2 authorize-security-group-ingress --group-id ${group} --ip-permissions 'IpProtocol=tcp,FromPort=${missing[0]},ToPort=${missing[0]},PrefixListIds=[{PrefixListId=${id}}]'`,
        { family, ports: missing, prefixList: name, ipAddressType: loadBalancer.ipAddressType },
      ),
    );
  }
  return result(check, findings);
}

/** Security groups of the ALB. */
export const securityGroupsCheck: Check = { ...check, run };

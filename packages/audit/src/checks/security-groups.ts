/**
 * Security groups of the ALB: nothing but CloudFront may reach a listener port.
 * @module
 */
import { CLOUDFRONT_PREFIX_LISTS, DEFAULTS } from '../constants.js';
import { coveredFamilies, isAnywhere, isPublicCidr, prefixLength } from '../net.js';
import type {
  AccountSnapshot,
  Finding,
  PrefixListInfo,
  SecurityGroupInfo,
  SecurityGroupRuleInfo,
  Skip,
} from '../types.js';
import { openedPorts, portsToJudge, ruleLabel, sourceOf } from './ports.js';
import { type Check, fail, firstSkip, partly, pass, result, skipped, warn } from './result.js';

const check = { id: 'security-groups', title: 'Security groups of the ALB' } as const;

/** One inbound rule on a listener port, with what the findings about it need. */
interface OpenRule {
  readonly group: SecurityGroupInfo;
  readonly rule: SecurityGroupRuleInfo;
  readonly opened: readonly number[];
  readonly evidence: Readonly<Record<string, string | readonly number[]>>;
}

/** A CIDR that opens a listener port, and the rule it comes from. */
interface Source {
  readonly cidr: string;
  readonly rule: string;
  readonly group: string;
}

/** Up to six CIDRs for a message, then how many in all. */
const listed = (cidrs: readonly string[]) =>
  cidrs.length > 6
    ? `${cidrs.slice(0, 6).join(', ')}, ... (${cidrs.length} in all)`
    : cidrs.join(', ');

const revoke = ({ group, rule }: OpenRule) =>
  `aws ec2 revoke-security-group-ingress --group-id ${group.id} --security-group-rule-ids ${rule.id}`;

/** The prefix length at or below which a public CIDR of this family FAILs. */
const wideBits = (cidr: string) =>
  DEFAULTS.widePublicPrefixLength[cidr.includes(':') ? 'IPv6' : 'IPv4'];

/** A public CIDR of {@link DEFAULTS.widePublicPrefixLength} or wider, but not the whole space. */
export function isWidePublic(cidr: string): boolean {
  const bits = prefixLength(cidr);
  return !isAnywhere(cidr) && bits !== undefined && bits <= wideBits(cidr) && isPublicCidr(cidr);
}

/**
 * A rule from a CIDR: FAIL for the whole address space or a public /8 or wider, WARN for another
 * public range.
 */
function cidrFinding(open: OpenRule, cidr: string): Finding | undefined {
  const { rule, group, opened, evidence } = open;
  if (isAnywhere(cidr)) {
    return fail(
      `${ruleLabel(rule)} allows port ${opened.join(', ')} from ${cidr}: anyone can reach the ALB around CloudFront`,
      `${revoke(open)} (after allowing the CloudFront origin-facing prefix list on the same ports)`,
      evidence,
    );
  }
  if (isWidePublic(cidr)) {
    return fail(
      `${ruleLabel(rule)} allows port ${opened.join(', ')} from ${cidr}, a public range of /${wideBits(cidr)} or wider: a large part of the internet can reach the ALB around CloudFront`,
      `${revoke(open)} (after allowing the CloudFront origin-facing prefix list on the same ports)`,
      evidence,
    );
  }
  if (isPublicCidr(cidr)) {
    return warn(
      `${ruleLabel(rule)} allows port ${opened.join(', ')} from the public range ${cidr}, which is not CloudFront`,
      `Remove rule ${rule.id} from ${group.id} unless ${cidr} must reach the ALB without CloudFront`,
      evidence,
    );
  }
  return undefined;
}

/**
 * A rule from a prefix list that is not CloudFront's: its entries judged like CIDR rules, or a
 * WARN when they could not be read.
 */
function customListFinding(open: OpenRule, list: PrefixListInfo): Finding {
  const { rule, group, opened } = open;
  const from = `${ruleLabel(rule)} allows port ${opened.join(', ')} from prefix list ${list.id} (${list.name})`;
  const evidence = { ...open.evidence, prefixList: list.name };
  const entries = list.entries;
  if (entries === undefined || !entries.ok) {
    const why = entries === undefined ? 'not read' : entries.skip.message;
    return warn(
      `${from}, whose entries could not be read (${why}): the port is open to an unchecked prefix list`,
      entries !== undefined && !entries.ok && entries.skip.reason === 'access-denied'
        ? `Grant ${entries.skip.missingAction ?? 'ec2:GetManagedPrefixListEntries'} to the audit so the entries are checked`
        : `Check the entries: aws ec2 get-managed-prefix-list-entries --prefix-list-id ${list.id}`,
      evidence,
    );
  }
  const anywhere = entries.value.filter((c) => isAnywhere(c) || isWidePublic(c));
  const publicRanges = entries.value.filter((c) => !anywhere.includes(c) && isPublicCidr(c));
  const modify = `aws ec2 modify-managed-prefix-list --prefix-list-id ${list.id} --current-version <version> --remove-entries`;
  if (anywhere.length > 0) {
    return fail(
      `${from}, which holds ${listed(anywhere)}: ${anywhere.some(isAnywhere) ? 'anyone' : 'a large part of the internet'} can reach the ALB around CloudFront`,
      `${modify} ${anywhere.map((c) => `Cidr=${c}`).join(' ')}, or ${revoke(open)}`,
      { ...evidence, entries: anywhere },
    );
  }
  if (publicRanges.length > 0) {
    return warn(
      `${from}, which holds public ranges that are not CloudFront: ${listed(publicRanges)}`,
      `Remove rule ${rule.id} from ${group.id}, or those entries from ${list.id}, unless they must reach the ALB without CloudFront`,
      { ...evidence, entries: publicRanges },
    );
  }
  return pass(`${from}: private ranges only (${entries.value.length} entries)`, {
    ...evidence,
    entries: entries.value.length,
  });
}

/**
 * Ranges that together cover a whole address space on a port (`0.0.0.0/1` + `128.0.0.0/1`):
 * FAIL like `0.0.0.0/0`. A port with an explicit `0.0.0.0/0` or `::/0` already FAILs.
 */
function coverageFindings(sources: ReadonlyMap<number, readonly Source[]>) {
  const findings: Finding[] = [];
  for (const [port, list] of [...sources].sort(([a], [b]) => a - b)) {
    for (const family of coveredFamilies(list.map((s) => s.cidr))) {
      const mine = list.filter((s) => s.cidr.includes(':') === (family === 'IPv6'));
      if (mine.some((s) => isAnywhere(s.cidr))) continue;
      const rules = [...new Set(mine.map((s) => s.rule))];
      const revokes = [...new Set(mine.map((s) => s.group))].map(
        (g) =>
          `aws ec2 revoke-security-group-ingress --group-id ${g} --security-group-rule-ids ${[...new Set(mine.filter((s) => s.group === g).map((s) => s.rule))].join(' ')}`,
      );
      const cidrs = mine.map((s) => s.cidr);
      findings.push(
        fail(
          `Rules ${rules.join(', ')} together allow port ${port} from every ${family} address (${listed(cidrs)}): anyone can reach the ALB around CloudFront`,
          `After allowing the CloudFront origin-facing prefix list on port ${port}, remove those rules (${revokes.join('; ')}) or the ranges from their prefix lists`,
          { ports: [port], family, rules, ranges: cidrs.length },
        ),
      );
    }
  }
  return findings;
}

function run(snapshot: AccountSnapshot) {
  const { securityGroups, listenerPorts, prefixLists, loadBalancer } = snapshot;
  const skip = firstSkip(securityGroups);
  if (skip !== undefined || !securityGroups.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  // Without the prefix lists (DescribeManagedPrefixLists denied or failed), the CIDR and
  // security-group rules are still judged; only the prefix-list rules are not.
  const lists = prefixLists.ok ? prefixLists.value : undefined;
  const findings: Finding[] = [];
  // Without the listener ports (DescribeListeners denied), judge CloudFront's default origin
  // ports and every port a rule opens: any of them may be a listener's.
  const ports = portsToJudge(
    listenerPorts.ok ? listenerPorts.value : undefined,
    securityGroups.value,
  );
  if (!listenerPorts.ok) {
    findings.push(
      warn(
        `Listener ports unknown (${listenerPorts.skip.message}); judged ports ${ports.join(', ')} (80, 443 and the first port of every TCP rule) as if each were a listener's`,
        `Grant ${listenerPorts.skip.missingAction ?? 'elasticloadbalancing:DescribeListeners'} so the listener ports are known`,
        { checkedPorts: ports },
      ),
    );
  }
  // family -> ports CloudFront's list is allowed on
  const allowed = { IPv4: new Set<number>(), IPv6: new Set<number>() };
  // Prefix-list rules on a listener port that could not be judged without the lists.
  const unjudged: string[] = [];
  // The first customer-managed prefix list whose entries could not be read: the check then
  // could not look everywhere (outside review, 4 December: a WARN alone exited 0 for a list
  // that held 0.0.0.0/0).
  let unread: Skip | undefined;
  // port -> the CIDRs (direct, or entries of a customer list) that open it, with their rules.
  const sources = new Map<number, Source[]>();
  const addSources = (opened: readonly number[], cidrs: readonly string[], open: OpenRule) => {
    for (const port of opened) {
      const list = sources.get(port) ?? [];
      for (const cidr of cidrs) list.push({ cidr, rule: open.rule.id, group: open.group.id });
      sources.set(port, list);
    }
  };
  for (const group of securityGroups.value) {
    for (const rule of group.inbound) {
      const opened = openedPorts(rule, ports);
      if (opened.length === 0) continue;
      const open: OpenRule = {
        group,
        rule,
        opened,
        evidence: { group: group.id, rule: rule.id, ports: opened, source: sourceOf(rule) },
      };
      const cidr = rule.cidrIpv4 ?? rule.cidrIpv6;
      if (cidr !== undefined) {
        addSources(opened, [cidr], open);
        const finding = cidrFinding(open, cidr);
        if (finding !== undefined) findings.push(finding);
      } else if (rule.prefixListId !== undefined) {
        if (lists === undefined) {
          unjudged.push(`${rule.id} (${rule.prefixListId})`);
          continue;
        }
        const list = lists.get(rule.prefixListId);
        if (list === undefined) {
          // Its entries cannot be looked at either: the list may hold 0.0.0.0/0.
          unread ??= {
            reason: 'error',
            message: `prefix list ${rule.prefixListId}, which ${rule.id} allows, could not be described (not found, or no longer shared with this account)`,
          };
          findings.push(
            warn(
              `${ruleLabel(rule)} allows port ${opened.join(', ')} from prefix list ${rule.prefixListId}, which could not be described (not found, or no longer shared with this account): the port is open to an unchecked prefix list`,
              `${revoke(open)}, or share ${rule.prefixListId} with this account again so it can be checked`,
              open.evidence,
            ),
          );
        } else if (list.name === CLOUDFRONT_PREFIX_LISTS[list.addressFamily]) {
          for (const p of opened) allowed[list.addressFamily].add(p);
          findings.push(
            pass(
              `${ruleLabel(rule)} allows port ${opened.join(', ')} from ${list.id} (${list.name})`,
              { ...open.evidence, prefixList: list.name },
            ),
          );
        } else {
          if (list.entries?.ok === true) addSources(opened, list.entries.value, open);
          else if (list.entries !== undefined) unread ??= list.entries.skip;
          findings.push(customListFinding(open, list));
        }
      } else if (rule.referencedGroupId !== undefined) {
        findings.push(
          warn(
            `${ruleLabel(rule)} allows port ${opened.join(', ')} from security group ${rule.referencedGroupId}: whatever runs in that group reaches the ALB around CloudFront`,
            `Remove rule ${rule.id} from ${group.id} unless ${rule.referencedGroupId} must reach the ALB without CloudFront (an internal client; give it its own internal load balancer if it can)`,
            { ...open.evidence, referencedGroup: rule.referencedGroupId },
          ),
        );
      }
    }
  }
  findings.push(...coverageFindings(sources));
  if (!prefixLists.ok) {
    const { skip: listSkip } = prefixLists;
    const rules = unjudged.length > 0 ? `; not judged: ${unjudged.join(', ')}` : '';
    findings.push(
      warn(
        `CloudFront prefix-list check SKIPPED: the prefix lists could not be read (${listSkip.message})${rules}`,
        listSkip.reason === 'access-denied'
          ? `Grant ${listSkip.missingAction ?? 'ec2:DescribeManagedPrefixLists'} to the audit so the prefix-list rules are checked`
          : 'Run the audit again so the prefix-list rules are checked',
        {
          skipped: listSkip.reason,
          missingAction: listSkip.missingAction,
          unjudgedRules: unjudged,
        },
      ),
    );
    return partly(result(check, findings), unread ?? (unjudged.length > 0 ? listSkip : undefined));
  }
  const families: ('IPv4' | 'IPv6')[] = loadBalancer.ipAddressType.startsWith('dualstack')
    ? ['IPv4', 'IPv6']
    : ['IPv4'];
  for (const family of families) {
    const missing = (listenerPorts.ok ? ports : [443]).filter((p) => !allowed[family].has(p));
    if (missing.length === 0) continue;
    const name = CLOUDFRONT_PREFIX_LISTS[family];
    const id =
      [...prefixLists.value.values()].find((l) => l.name === name)?.id ?? `<id of ${name}>`;
    const group = loadBalancer.securityGroupIds[0] ?? '<alb security group>';
    findings.push(
      warn(
        `No rule allows the CloudFront ${family} origin-facing prefix list on port ${missing.join(', ')}`,
        `aws ec2 authorize-security-group-ingress --group-id ${group} --ip-permissions 'IpProtocol=tcp,FromPort=${missing[0]},ToPort=${missing[0]},PrefixListIds=[{PrefixListId=${id}}]'`,
        { family, ports: missing, prefixList: name, ipAddressType: loadBalancer.ipAddressType },
      ),
    );
  }
  return partly(result(check, findings), unread);
}

/** Security groups of the ALB. */
export const securityGroupsCheck: Check = { ...check, run };

/**
 * Which listener ports a security group rule opens.
 * @module
 */
import type { SecurityGroupInfo, SecurityGroupRuleInfo } from '../types.js';

/** Whether `rule` lets TCP traffic reach `port`. */
export function coversPort(rule: SecurityGroupRuleInfo, port: number): boolean {
  if (rule.protocol !== 'tcp' && rule.protocol !== '-1' && rule.protocol !== '6') return false;
  if (rule.protocol === '-1' || rule.fromPort === -1) return true;
  return rule.fromPort <= port && port <= rule.toPort;
}

/**
 * The ports CloudFront reaches an ALB on when the listeners cannot be read: the default HTTPS
 * and HTTP origin ports.
 */
export const DEFAULT_ORIGIN_PORTS: readonly number[] = [443, 80];

/**
 * The ports to judge, ascending: the listener ports when known; otherwise
 * {@link DEFAULT_ORIGIN_PORTS} plus the first port of every TCP rule of `groups`, so that a rule
 * opening a listener on another port (8443) is judged on a port it opens.
 */
export function portsToJudge(
  known: readonly number[] | undefined,
  groups: readonly SecurityGroupInfo[],
): number[] {
  const ports = new Set(known ?? DEFAULT_ORIGIN_PORTS);
  if (known === undefined)
    for (const group of groups)
      for (const rule of group.inbound)
        if (coversPort(rule, rule.fromPort) && rule.fromPort >= 0) ports.add(rule.fromPort);
  return [...ports].sort((a, b) => a - b);
}

/** The `ports` that `rule` opens, ascending. */
export function openedPorts(rule: SecurityGroupRuleInfo, ports: readonly number[]): number[] {
  return ports.filter((p) => coversPort(rule, p)).sort((a, b) => a - b);
}

/** `sgr-1 (sg-1)` for messages. */
export function ruleLabel(rule: SecurityGroupRuleInfo): string {
  return `${rule.id} in ${rule.groupId}`;
}

/** The rule's source, as written in the console: a CIDR, a prefix list id or a group id. */
export function sourceOf(rule: SecurityGroupRuleInfo): string {
  return rule.cidrIpv4 ?? rule.cidrIpv6 ?? rule.prefixListId ?? rule.referencedGroupId ?? 'unknown';
}

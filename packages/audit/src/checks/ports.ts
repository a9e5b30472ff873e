/**
 * Which listener ports a security group rule opens.
 * @module
 */
import type { ListenerInfo, SecurityGroupRuleInfo } from '../types.js';

/** Whether `rule` lets TCP traffic reach `port`. */
export function coversPort(rule: SecurityGroupRuleInfo, port: number): boolean {
  if (rule.protocol !== 'tcp' && rule.protocol !== '-1' && rule.protocol !== '6') return false;
  if (rule.protocol === '-1' || rule.fromPort === -1) return true;
  return rule.fromPort <= port && port <= rule.toPort;
}

/** The listener ports `rule` opens, ascending. */
export function openedPorts(
  rule: SecurityGroupRuleInfo,
  listeners: readonly ListenerInfo[],
): number[] {
  const ports = new Set<number>();
  for (const l of listeners) if (coversPort(rule, l.port)) ports.add(l.port);
  return [...ports].sort((a, b) => a - b);
}

/** `sgr-1 (sg-1)` for messages. */
export function ruleLabel(rule: SecurityGroupRuleInfo): string {
  return `${rule.id} in ${rule.groupId}`;
}

/** The rule's source, as written in the console: a CIDR, a prefix list id or a group id. */
export function sourceOf(rule: SecurityGroupRuleInfo): string {
  return rule.cidrIpv4 ?? rule.cidrIpv6 ?? rule.prefixListId ?? rule.referencedGroupId ?? 'unknown';
}

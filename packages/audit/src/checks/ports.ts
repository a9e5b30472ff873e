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

/**
 * The ports CloudFront reaches an ALB on when the listeners cannot be read: the default HTTPS
 * and HTTP origin ports.
 */
export const DEFAULT_ORIGIN_PORTS: readonly number[] = [443, 80];

/** The listener ports, or {@link DEFAULT_ORIGIN_PORTS} when the listeners are unknown. */
export function listenerPorts(listeners: readonly ListenerInfo[] | undefined): number[] {
  if (listeners === undefined) return [...DEFAULT_ORIGIN_PORTS].sort((a, b) => a - b);
  return [...new Set(listeners.map((l) => l.port))].sort((a, b) => a - b);
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

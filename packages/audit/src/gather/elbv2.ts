/**
 * The load balancer, its listeners, rules and attributes (ELBv2, read-only).
 * @module
 */
import {
  type Action,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  type ElasticLoadBalancingV2Client,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AuditError } from '../errors.js';
import { SecretText } from '../secret-text.js';
import type {
  ActionInfo,
  ConditionInfo,
  ListenerInfo,
  LoadBalancerInfo,
  RuleInfo,
} from '../types.js';
import { awsCode, credentialsError, type Step, skipFor } from './errors.js';
import { allPages } from './paging.js';

/** Find the load balancer by name or ARN; not found, denied or throttled is an {@link AuditError}. */
export async function findLoadBalancer(
  client: ElasticLoadBalancingV2Client,
  nameOrArn: string,
): Promise<LoadBalancerInfo> {
  const byArn = nameOrArn.startsWith('arn:');
  let found: LoadBalancerInfo | undefined;
  try {
    const out = await client.send(
      new DescribeLoadBalancersCommand(
        byArn ? { LoadBalancerArns: [nameOrArn] } : { Names: [nameOrArn] },
      ),
    );
    const lb = out.LoadBalancers?.[0];
    if (lb?.Type !== undefined && lb.Type !== 'application') {
      throw new AuditError(
        'ERR_CDN_ORIGIN_GUARD_AUDIT_OPTION',
        `${nameOrArn} is a ${lb.Type} load balancer; the audit checks Application Load Balancers (listener rules, X-Forwarded-For)`,
      );
    }
    if (lb !== undefined) {
      found = {
        arn: lb.LoadBalancerArn ?? nameOrArn,
        name: lb.LoadBalancerName ?? nameOrArn,
        dnsName: lb.DNSName ?? '',
        ipAddressType: lb.IpAddressType ?? 'ipv4',
        scheme: lb.Scheme ?? 'internet-facing',
        securityGroupIds: lb.SecurityGroups ?? [],
      };
    }
  } catch (error) {
    if (error instanceof AuditError) throw error;
    const fatal = credentialsError(error);
    if (fatal !== undefined) throw fatal;
    const code = awsCode(error);
    if (!code.startsWith('LoadBalancerNotFound')) {
      const skip = skipFor(error, 'elasticloadbalancing:DescribeLoadBalancers');
      throw new AuditError(
        'ERR_CDN_ORIGIN_GUARD_AUDIT_AWS',
        `could not read the load balancer: ${skip.message}`,
        {
          cause: error,
        },
      );
    }
  }
  if (found === undefined) {
    const region = await client.config.region();
    throw new AuditError(
      'ERR_CDN_ORIGIN_GUARD_AUDIT_NOT_FOUND',
      `no load balancer ${byArn ? 'with ARN' : 'named'} ${nameOrArn} in ${region}: check --alb and --region`,
    );
  }
  return found;
}

function toAction(actions: readonly Action[] | undefined): ActionInfo {
  const ordered = [...(actions ?? [])].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0));
  const last = ordered[ordered.length - 1];
  if (last === undefined) return { type: 'none' };
  const targetGroups = [
    ...(last.TargetGroupArn === undefined ? [] : [last.TargetGroupArn]),
    ...(last.ForwardConfig?.TargetGroups ?? []).flatMap((t) =>
      t.TargetGroupArn === undefined ? [] : [t.TargetGroupArn],
    ),
  ];
  return {
    type: last.Type ?? 'none',
    statusCode: last.FixedResponseConfig?.StatusCode ?? last.RedirectConfig?.StatusCode,
    redirectProtocol: last.RedirectConfig?.Protocol,
    redirectHost: last.RedirectConfig?.Host,
    ...(targetGroups.length > 0 ? { targetGroups: [...new Set(targetGroups)] } : {}),
  };
}

/** Whether ALB reads `value` of a header condition as a pattern (`*`: any run, `?`: one character). */
export function isAlbPattern(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

function toRule(rule: Rule): RuleInfo {
  const conditions: ConditionInfo[] = (rule.Conditions ?? []).map((c) => {
    const field = c.Field ?? '';
    if (field === 'http-header') {
      // ALB reads `*` and `?` in a value as wildcards, and RegexValues as regular expressions:
      // such a value matches more than one header value, so it is counted, never kept.
      const values = c.HttpHeaderConfig?.Values ?? [];
      const exact = values.filter((v) => !isAlbPattern(v));
      return {
        field,
        headerName: c.HttpHeaderConfig?.HttpHeaderName?.toLowerCase(),
        values: [],
        headerValues: exact.map((v) => new SecretText(v)),
        headerPatterns:
          values.length - exact.length + (c.HttpHeaderConfig?.RegexValues?.length ?? 0),
      };
    }
    const values =
      c.PathPatternConfig?.Values ??
      c.HostHeaderConfig?.Values ??
      c.HttpRequestMethodConfig?.Values ??
      c.Values ??
      ([] as string[]);
    return { field, values };
  });
  const priority =
    rule.IsDefault === true || rule.Priority === 'default' ? 'default' : Number(rule.Priority);
  return { arn: rule.RuleArn ?? '', priority, conditions, action: toAction(rule.Actions) };
}

/** A listener as DescribeListeners gives it, before its rules are read. */
export interface ListenerHead {
  readonly arn: string;
  readonly port: number;
  readonly protocol: string;
  readonly defaultActions: readonly Action[] | undefined;
}

/**
 * Every listener of the load balancer (DescribeListeners), without rules: the ports are known
 * even when the rules cannot be read.
 */
export async function readListenerHeads(
  client: ElasticLoadBalancingV2Client,
  loadBalancerArn: string,
  step: Step,
): Promise<ListenerHead[]> {
  const listeners = await allPages(
    step,
    {
      action: 'elasticloadbalancing:DescribeListeners',
      ask: (Marker) =>
        client.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, Marker })),
      next: (page) => ({ token: page.NextMarker }),
    },
    (page) => page.Listeners,
  );
  return listeners.map((l) => ({
    arn: l.ListenerArn ?? '',
    port: l.Port ?? 0,
    protocol: l.Protocol ?? 'HTTP',
    defaultActions: l.DefaultActions,
  }));
}

/** The listeners with their rules (DescribeRules, every page of every listener). */
export async function readListenerRules(
  client: ElasticLoadBalancingV2Client,
  heads: readonly ListenerHead[],
  step: Step,
): Promise<ListenerInfo[]> {
  const listeners: ListenerInfo[] = [];
  for (const l of heads) {
    const rules: RuleInfo[] = (
      await allPages(
        step,
        {
          action: 'elasticloadbalancing:DescribeRules',
          ask: (Marker) => client.send(new DescribeRulesCommand({ ListenerArn: l.arn, Marker })),
          next: (page) => ({ token: page.NextMarker }),
        },
        (page) => page.Rules,
      )
    ).map(toRule);
    if (!rules.some((r) => r.priority === 'default')) {
      rules.push({
        arn: `${l.arn} (default)`,
        priority: 'default',
        conditions: [],
        action: toAction(l.defaultActions),
      });
    }
    listeners.push({ arn: l.arn, port: l.port, protocol: l.protocol, rules });
  }
  return listeners;
}

/** The load balancer's attributes as a key -> value record. */
export async function readAttributes(
  client: ElasticLoadBalancingV2Client,
  loadBalancerArn: string,
  step: Step,
): Promise<Record<string, string>> {
  const out = await step('elasticloadbalancing:DescribeLoadBalancerAttributes', () =>
    client.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: loadBalancerArn })),
  );
  const attrs: Record<string, string> = {};
  for (const a of out.Attributes ?? []) if (a.Key !== undefined) attrs[a.Key] = a.Value ?? '';
  return attrs;
}

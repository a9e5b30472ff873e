/**
 * The local ELBv2 (query protocol) through the real SDK v3 client: a whole account laid out
 * with the fixture builders, described back; ModifyRule with AWS's value limits; the ALB
 * stand-in's rule evaluation; fault knobs.
 */
import {
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { fixedResponse, forward, httpHeaderCondition } from '../aws-local/index.js';
import { errorName, useLocalAwsClient } from './support.js';

const HEADER = 'X-Origin-Verify';
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/0123456789abcdef';

const local = useLocalAwsClient(() => new ElasticLoadBalancingV2Client({ maxAttempts: 1 }));
let counter = 0;

/** An ALB with an HTTPS listener: header rule (priority 10) forwards, default is a fixed 403. */
function account() {
  counter++;
  const lb = local.aws.elbv2.addLoadBalancer({
    name: `web-${counter}`,
    ipAddressType: 'dualstack',
    securityGroups: ['sg-0123456789abcdef0'],
    attributes: { 'routing.http.drop_invalid_header_fields.enabled': 'true' },
  });
  const listener = local.aws.elbv2.addListener(lb.arn, {
    port: 443,
    defaultActions: [fixedResponse()],
  });
  const rule = local.aws.elbv2.addRule(listener.arn, {
    priority: 10,
    conditions: [httpHeaderCondition(HEADER, ['v1'])],
    actions: [{ ...forward(TG), Order: 1 }],
  });
  const redirect = local.aws.elbv2.addRule(listener.arn, {
    priority: 5,
    conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/old/*'] } }],
    actions: [
      { Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301', Path: '/new/#{path}' } },
    ],
  });
  return { lb, listener, rule, redirect };
}

describe('local ELBv2 over the wire', () => {
  it('describes load balancers by name and by ARN with scheme, IP type, groups and DNS name', async () => {
    const { lb } = account();

    const byName = await local.client.send(new DescribeLoadBalancersCommand({ Names: [lb.name] }));
    const byArn = await local.client.send(
      new DescribeLoadBalancersCommand({ LoadBalancerArns: [lb.arn] }),
    );
    const missing = await errorName(
      local.client.send(new DescribeLoadBalancersCommand({ Names: ['nope'] })),
    );

    const found = byName.LoadBalancers?.[0];
    expect(found).toMatchObject({
      LoadBalancerArn: lb.arn,
      LoadBalancerName: lb.name,
      DNSName: lb.dnsName,
      Scheme: 'internet-facing',
      IpAddressType: 'dualstack',
      SecurityGroups: ['sg-0123456789abcdef0'],
      Type: 'application',
      State: { Code: 'active' },
    });
    expect(found?.CreatedTime).toBeInstanceOf(Date);
    expect(byArn.LoadBalancers?.[0]?.LoadBalancerName).toBe(lb.name);
    expect(missing).toBe('LoadBalancerNotFoundException');
  });

  it('describes attributes, with overrides over the ALB defaults', async () => {
    const { lb } = account();

    const out = await local.client.send(
      new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lb.arn }),
    );

    const attributes = Object.fromEntries((out.Attributes ?? []).map((a) => [a.Key, a.Value]));
    expect(attributes['routing.http.xff_header_processing.mode']).toBe('append');
    expect(attributes['routing.http.drop_invalid_header_fields.enabled']).toBe('true');
  });

  it('describes listeners with port, protocol and default actions', async () => {
    const { lb, listener } = account();

    const out = await local.client.send(new DescribeListenersCommand({ LoadBalancerArn: lb.arn }));

    expect(out.Listeners).toHaveLength(1);
    expect(out.Listeners?.[0]).toMatchObject({
      ListenerArn: listener.arn,
      Port: 443,
      Protocol: 'HTTPS',
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403' } }],
    });
  });

  it('describes rules in priority order, default last, with header conditions and actions', async () => {
    const { listener, rule, redirect } = account();

    const out = await local.client.send(new DescribeRulesCommand({ ListenerArn: listener.arn }));

    const rules = out.Rules ?? [];
    expect(rules.map((r) => [r.Priority, r.IsDefault])).toEqual([
      ['5', false],
      ['10', false],
      ['default', true],
    ]);
    expect(rules[0]?.RuleArn).toBe(redirect.arn);
    expect(rules[1]).toMatchObject({
      RuleArn: rule.arn,
      Conditions: [
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: HEADER, Values: ['v1'] } },
      ],
      Actions: [{ Type: 'forward', TargetGroupArn: TG, Order: 1 }],
    });
    expect(rules[0]?.Actions?.[0]?.RedirectConfig?.StatusCode).toBe('HTTP_301');
    const byArn = await local.client.send(new DescribeRulesCommand({ RuleArns: [rule.arn] }));
    expect(byArn.Rules?.[0]?.Priority).toBe('10');
  });

  it('ModifyRule replaces the header values; the ALB stand-in then forwards either value', async () => {
    const { listener, rule } = account();

    const out = await local.client.send(
      new ModifyRuleCommand({
        RuleArn: rule.arn,
        Conditions: [
          {
            Field: 'http-header',
            HttpHeaderConfig: { HttpHeaderName: HEADER, Values: ['v1', 'v2'] },
          },
        ],
      }),
    );

    expect(out.Rules?.[0]?.Conditions?.[0]?.HttpHeaderConfig?.Values).toEqual(['v1', 'v2']);
    expect(local.aws.elbv2.rule(rule.arn).actions[0]?.Type).toBe('forward');
    const route = (value: string | undefined, path = '/') =>
      local.aws.elbv2.evaluate(listener.arn, { headers: { 'x-origin-verify': value }, path }).action
        .Type;
    expect(route('v1')).toBe('forward');
    expect(route('v2')).toBe('forward');
    expect(route('v3')).toBe('fixed-response');
    expect(route(undefined)).toBe('fixed-response');
    expect(route('v1', '/old/page')).toBe('redirect');
  });

  it('ModifyRule rejects more than 3 values per condition and empty values, like AWS', async () => {
    const { rule } = account();
    const modify = (values: string[]) =>
      errorName(
        local.client.send(
          new ModifyRuleCommand({
            RuleArn: rule.arn,
            Conditions: [
              {
                Field: 'http-header',
                HttpHeaderConfig: { HttpHeaderName: HEADER, Values: values },
              },
            ],
          }),
        ),
      );

    expect(await modify(['a', 'b', 'c', 'd'])).toBe('ValidationError');
    expect(await modify([''])).toBe('ValidationError');
    expect(await modify(['a', 'b', 'c'])).toBe('ok');
    expect(local.aws.elbv2.rule(rule.arn).conditions[0]?.HttpHeaderConfig?.Values).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(
      await errorName(local.client.send(new ModifyRuleCommand({ RuleArn: `${rule.arn}x` }))),
    ).toBe('RuleNotFoundException');
  });

  it('fault knobs: AccessDenied and throttling per action, counted', async () => {
    const { listener, rule } = account();

    local.aws.faults.set({ accessDenied: true, actions: ['elbv2.ModifyRule'] });
    const denied = await errorName(local.client.send(new ModifyRuleCommand({ RuleArn: rule.arn })));
    const describe = await errorName(
      local.client.send(new DescribeRulesCommand({ ListenerArn: listener.arn })),
    );
    local.aws.faults.set({ throttle: true, actions: ['elbv2'] });
    const throttled = await errorName(
      local.client.send(new DescribeRulesCommand({ ListenerArn: listener.arn })),
    );

    expect(denied).toBe('AccessDenied');
    expect(describe).toBe('ok');
    expect(throttled).toBe('Throttling');
    expect(local.aws.callCount('elbv2.DescribeRules')).toBe(2);
    expect(local.aws.callCount('elbv2.ModifyRule')).toBe(1);
  });
});

/**
 * The checks as pure functions over hand-made snapshots: the cases the scenario accounts do not
 * reach (dualstack, redirects, fixed non-4xx answers, attribute modes, rotation schedules, probe
 * outcomes), each one changing a correct snapshot in one place.
 */
import { inspect } from 'node:util';
import {
  type AccountSnapshot,
  buildReport,
  type CheckId,
  type CheckResult,
  type Gathered,
  type ListenerInfo,
  type OriginInfo,
  type RuleInfo,
  renderTable,
  runChecks,
  SecretText,
  type SecurityGroupRuleInfo,
  type TargetInfo,
} from '@cdn-origin-guard/audit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cronGapDays } from '../src/checks/cron.js';
import { probeUrls } from '../src/gather/probe.js';
import { bareDomain, cidrHolds, coveredFamilies, isPublicCidr, prefixLength } from '../src/net.js';

const CURRENT = 'current-value-0123456789abcdef';
const PENDING = 'pending-value-0123456789abcdef';
const PL_V4 = 'pl-3b927c52';
const PL_V6 = 'pl-5da64334';
const DAY = 86_400_000;
const HOUR = 3_600_000;

const headerRule = (values: string[], priority = 10): RuleInfo => ({
  arn: `rule-${priority}`,
  priority,
  conditions: [
    {
      field: 'http-header',
      headerName: 'x-origin-verify',
      values: [],
      headerValues: values.map((v) => new SecretText(v)),
    },
  ],
  action: { type: 'forward' },
});
const defaultRule = (action: RuleInfo['action']): RuleInfo => ({
  arn: 'rule-default',
  priority: 'default',
  conditions: [],
  action,
});
const deny = { type: 'fixed-response', statusCode: '403' };
/** A default action redirecting to HTTPS on the same host. */
const upgrade = defaultRule({
  type: 'redirect',
  statusCode: 'HTTP_301',
  redirectProtocol: 'HTTPS',
  redirectHost: '#{host}',
});
const sgRule = (over: Partial<SecurityGroupRuleInfo>): SecurityGroupRuleInfo => ({
  id: `sgr-${Math.random().toString(16).slice(2, 10)}`,
  groupId: 'sg-1',
  protocol: 'tcp',
  fromPort: 443,
  toPort: 443,
  ...over,
});

function snapshot(
  over: Partial<AccountSnapshot> = {},
  extra: Partial<{
    listeners: ListenerInfo[];
    inbound: SecurityGroupRuleInfo[];
    ipAddressType: string;
  }> = {},
): AccountSnapshot {
  const snap: Omit<AccountSnapshot, 'listenerPorts' | 'secretDescription'> = {
    region: 'us-east-1',
    headerName: 'x-origin-verify',
    loadBalancer: {
      arn: 'arn:alb',
      name: 'alb',
      dnsName: 'alb-1.us-east-1.elb.amazonaws.com',
      ipAddressType: extra.ipAddressType ?? 'ipv4',
      scheme: 'internet-facing',
      securityGroupIds: ['sg-1'],
    },
    listeners: {
      ok: true,
      value: extra.listeners ?? [
        {
          arn: 'l-443',
          port: 443,
          protocol: 'HTTPS',
          rules: [headerRule([CURRENT]), defaultRule(deny)],
        },
      ],
    },
    attributes: {
      ok: true,
      value: {
        'routing.http.xff_header_processing.mode': 'append',
        'routing.http.drop_invalid_header_fields.enabled': 'true',
      },
    },
    securityGroups: {
      ok: true,
      value: [
        { id: 'sg-1', name: 'alb', inbound: extra.inbound ?? [sgRule({ prefixListId: PL_V4 })] },
      ],
    },
    prefixLists: {
      ok: true,
      value: new Map([
        [
          PL_V4,
          {
            id: PL_V4,
            name: 'com.amazonaws.global.cloudfront.origin-facing',
            addressFamily: 'IPv4',
            maxEntries: 55,
          },
        ],
        [
          PL_V6,
          {
            id: PL_V6,
            name: 'com.amazonaws.global.ipv6.cloudfront.origin-facing',
            addressFamily: 'IPv6',
            maxEntries: 45,
          },
        ],
      ]),
    },
    quota: { value: 120, source: 'service-quotas' },
    distributions: {
      ok: true,
      value: [
        {
          id: 'E1',
          status: 'Deployed',
          origins: [
            {
              id: 'alb',
              domainName: 'alb-1.us-east-1.elb.amazonaws.com',
              protocolPolicy: 'https-only',
              headers: new Map([['x-origin-verify', new SecretText(CURRENT)]]),
            },
          ],
        },
      ],
    },
    secret: {
      ok: true,
      value: {
        arn: 'arn:secret',
        name: 'prod/origin-verify',
        rotationEnabled: true,
        rotationLambdaArn: 'arn:lambda',
        automaticallyAfterDays: undefined,
        scheduleExpression: 'rate(30 days)',
        lastRotatedDate: new Date(Date.now() - 5 * DAY),
        pendingRotation: undefined,
        values: new Map([['AWSCURRENT', new SecretText(CURRENT)]]),
        refused: new Map(),
      },
    },
    targets: {
      ok: true,
      value: {
        groups: [
          {
            arn: 'arn:tg',
            name: 'app',
            targetType: 'instance',
            targets: [appTarget('i-1')],
          },
        ],
        securityGroups: [
          {
            id: 'sg-app',
            name: 'app',
            inbound: [
              {
                id: 'sgr-app',
                groupId: 'sg-app',
                protocol: 'tcp',
                fromPort: 8080,
                toPort: 8080,
                referencedGroupId: 'sg-1',
              },
            ],
          },
        ],
        prefixLists: new Map(),
        routes: {
          ok: true,
          value: new Map([
            ['subnet-1', { routeTableId: 'rtb-1', internetIpv4: true, internetIpv6: true }],
          ]),
        },
      },
    },
    probes: { ok: true, value: [{ url: 'https://alb:443/', outcome: 'refused' }] },
    ...over,
  };
  // The ports follow the listeners unless given: DescribeListeners gives both. So does the
  // secret's description follow the secret: DescribeSecret gives both.
  return {
    ...snap,
    listenerPorts: over.listenerPorts ?? portsOf(snap.listeners),
    secretDescription: over.secretDescription ?? snap.secret,
  };
}

function portsOf(listeners: AccountSnapshot['listeners']): AccountSnapshot['listenerPorts'] {
  return listeners.ok ? { ok: true, value: listeners.value.map((l) => l.port) } : listeners;
}

/** An instance target on port 8080 with one interface in sg-app (subnet-1), public at `publicIpv4`. */
function appTarget(id: string, publicIpv4?: string): TargetInfo {
  return {
    id,
    port: 8080,
    healthCheckPort: undefined,
    availabilityZone: 'us-east-1a',
    hosts: [
      {
        resourceId: id,
        securityGroupIds: ['sg-app'],
        publicIpv4,
        ipv6: [],
        subnetId: 'subnet-1',
        vpcId: 'vpc-1',
      },
    ],
  };
}

/** `snap` with every origin of its distributions changed by `over`. */
function originChanged(snap: AccountSnapshot, over: Partial<OriginInfo>): AccountSnapshot {
  if (!snap.distributions.ok) throw new Error('snapshot: distributions not gathered');
  const value = snap.distributions.value.map((d) => ({
    ...d,
    origins: d.origins.map((o) => ({ ...o, ...over })),
  }));
  return { ...snap, distributions: { ok: true, value } };
}

const statusOf = (snap: AccountSnapshot, id: CheckId) =>
  runChecks(snap).find((c) => c.id === id) as CheckResult;

describe('checks over a correct snapshot', () => {
  it('passes every check', () => {
    const results = runChecks(snapshot());
    expect(results).toHaveLength(10);
    for (const c of results)
      expect(c.status, `${c.id}: ${JSON.stringify(c.findings)}`).toBe('PASS');
  });
});

describe('security-groups', () => {
  it.each([
    [
      '::/0 on the listener port',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv6: '::/0' })],
      'FAIL',
    ],
    [
      'all traffic (-1) from 0.0.0.0/0',
      [
        sgRule({ prefixListId: PL_V4 }),
        sgRule({ protocol: '-1', fromPort: -1, toPort: -1, cidrIpv4: '0.0.0.0/0' }),
      ],
      'FAIL',
    ],
    [
      'a port range covering 443 from 0.0.0.0/0',
      [
        sgRule({ prefixListId: PL_V4 }),
        sgRule({ fromPort: 400, toPort: 500, cidrIpv4: '0.0.0.0/0' }),
      ],
      'FAIL',
    ],
    [
      'two public /1s that together are every IPv4 address',
      [
        sgRule({ prefixListId: PL_V4 }),
        sgRule({ cidrIpv4: '0.0.0.0/1' }),
        sgRule({ cidrIpv4: '128.0.0.0/1' }),
      ],
      'FAIL',
    ],
    ['a public /8', [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv4: '44.0.0.0/8' })], 'FAIL'],
    ['a public /9', [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv4: '44.0.0.0/9' })], 'WARN'],
    ['a private /8', [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv4: '10.0.0.0/8' })], 'PASS'],
    [
      'a public IPv6 /16',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv6: '2a05::/16' })],
      'FAIL',
    ],
    [
      'a public IPv6 /17',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv6: '2a05::/17' })],
      'WARN',
    ],
    [
      'IPv6 global unicast 2000::/3',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv6: '2000::/3' })],
      'FAIL',
    ],
    [
      'a public CIDR that is not CloudFront',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv4: '203.0.113.0/24' })],
      'WARN',
    ],
    ['no CloudFront prefix list rule', [sgRule({ cidrIpv4: '10.0.0.0/8' })], 'WARN'],
    [
      '0.0.0.0/0 on a port no listener uses',
      [
        sgRule({ prefixListId: PL_V4 }),
        sgRule({ fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' }),
      ],
      'PASS',
    ],
    [
      'private CIDRs',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ cidrIpv4: '172.16.0.0/12' })],
      'PASS',
    ],
    [
      'a referenced group on the listener port',
      [sgRule({ prefixListId: PL_V4 }), sgRule({ referencedGroupId: 'sg-2' })],
      'WARN',
    ],
    [
      'a referenced group on a port no listener uses',
      [
        sgRule({ prefixListId: PL_V4 }),
        sgRule({ fromPort: 22, toPort: 22, referencedGroupId: 'sg-2' }),
      ],
      'PASS',
    ],
  ] as const)('%s: %s', (_name, inbound, expected) => {
    expect(statusOf(snapshot({}, { inbound: [...inbound] }), 'security-groups').status).toBe(
      expected,
    );
  });

  it('asks for the IPv6 list too when the ALB is dualstack', () => {
    const ipv4Only = statusOf(snapshot({}, { ipAddressType: 'dualstack' }), 'security-groups');
    expect(ipv4Only.status).toBe('WARN');
    expect(ipv4Only.findings.find((f) => f.status === 'WARN')?.evidence).toMatchObject({
      family: 'IPv6',
    });

    const both = snapshot(
      {},
      {
        ipAddressType: 'dualstack',
        inbound: [sgRule({ prefixListId: PL_V4 }), sgRule({ prefixListId: PL_V6 })],
      },
    );
    expect(statusOf(both, 'security-groups').status).toBe('PASS');
  });
});

describe('rules-quota', () => {
  const privateRules = (n: number) =>
    Array.from({ length: n }, (_, i) => sgRule({ cidrIpv4: `10.0.${i}.0/24` }));

  it.each([
    [120, 0, 'PASS'],
    [60, 0, 'WARN'], // 55 of 60: within 10 %
    [60, 4, 'WARN'], // 59 of 60
    [60, 5, 'FAIL'], // 60 of 60: the next rule is refused
    [60, 9, 'FAIL'],
  ] as const)('quota %i with the list and %i other rules: %s', (quota, others, expected) => {
    const snap = snapshot(
      { quota: { value: quota, source: 'service-quotas' } },
      { inbound: [sgRule({ prefixListId: PL_V4 }), ...privateRules(others)] },
    );
    expect(statusOf(snap, 'rules-quota').status).toBe(expected);
  });

  it('counts IPv4 and IPv6 rules against separate quotas', () => {
    const snap = snapshot(
      { quota: { value: 60, source: 'service-quotas' } },
      {
        inbound: [
          sgRule({ prefixListId: PL_V6 }),
          ...Array.from({ length: 10 }, (_, i) => sgRule({ cidrIpv6: `fd00:${i}::/64` })),
        ],
      },
    );
    const finding = statusOf(snap, 'rules-quota').findings[0];
    expect(finding?.evidence).toMatchObject({
      family: 'IPv6',
      prefixListWeight: 45,
      otherRules: 10,
      total: 55,
    });
  });

  it('warns when a prefix list weight is unknown', () => {
    const lists = new Map([
      [PL_V4, { id: PL_V4, name: 'x', addressFamily: 'IPv4' as const, maxEntries: undefined }],
    ]);
    const snap = snapshot({ prefixLists: { ok: true, value: lists } });
    expect(statusOf(snap, 'rules-quota').status).toBe('WARN');
  });
});

describe('listener-rules', () => {
  const listener = (rules: RuleInfo[], protocol = 'HTTPS', port = 443): ListenerInfo => ({
    arn: `l-${port}`,
    port,
    protocol,
    rules,
  });
  const pathRule = (priority: number, action: RuleInfo['action'], values = ['/*']): RuleInfo => ({
    arn: `rule-${priority}`,
    priority,
    conditions: [{ field: 'path-pattern', values }],
    action,
  });

  it.each([
    ['default forwards, no header rule', [defaultRule({ type: 'forward' })], 'FAIL'],
    [
      'default forwards after the header rule',
      [headerRule([CURRENT]), defaultRule({ type: 'forward' })],
      'FAIL',
    ],
    [
      'a catch-all 403 rule before a forwarding default',
      [headerRule([CURRENT], 1), pathRule(2, deny), defaultRule({ type: 'forward' })],
      'PASS',
    ],
    [
      'a /admin 403 rule does not make a forwarding default safe',
      [headerRule([CURRENT], 1), pathRule(2, deny, ['/admin/*']), defaultRule({ type: 'forward' })],
      'FAIL',
    ],
    [
      'a host-header forward before the header rule',
      [
        {
          ...pathRule(1, { type: 'forward' }),
          conditions: [{ field: 'host-header', values: ['api.example.com'] }],
        },
        headerRule([CURRENT], 5),
        defaultRule(deny),
      ],
      'FAIL',
    ],
    [
      'a forward rule after the header rule and a catch-all deny',
      [
        headerRule([CURRENT], 1),
        pathRule(2, deny),
        pathRule(3, { type: 'forward' }),
        defaultRule(deny),
      ],
      'PASS',
    ],
    [
      'default answers a fixed 200',
      [headerRule([CURRENT]), defaultRule({ type: 'fixed-response', statusCode: '200' })],
      'WARN',
    ],
    [
      'default redirects to HTTPS on the same host',
      [
        defaultRule({
          type: 'redirect',
          statusCode: 'HTTP_301',
          redirectProtocol: 'HTTPS',
          redirectHost: '#{host}',
        }),
      ],
      'PASS',
    ],
    [
      'default redirects to another host',
      [
        defaultRule({
          type: 'redirect',
          statusCode: 'HTTP_302',
          redirectProtocol: 'HTTPS',
          redirectHost: 'evil.example',
        }),
      ],
      'FAIL',
    ],
  ] as const)('%s: %s', (_name, rules, expected) => {
    const snap = snapshot({}, { listeners: [listener([...rules] as RuleInfo[])] });
    expect(statusOf(snap, 'listener-rules').status).toBe(expected);
  });

  it('warns about a plain HTTP listener that forwards header-checked requests', () => {
    const snap = snapshot(
      {},
      { listeners: [listener([headerRule([CURRENT]), defaultRule(deny)], 'HTTP', 80)] },
    );
    const check = statusOf(snap, 'listener-rules');
    expect(check.status).toBe('WARN');
    expect(check.findings.find((f) => f.status === 'WARN')?.message).toMatch(/clear text/);
  });
});

describe('alb-attributes', () => {
  it.each([
    ['append', 'true', 'PASS'],
    ['preserve', 'true', 'FAIL'],
    ['remove', 'true', 'FAIL'],
    ['append', 'false', 'WARN'],
  ])('xff mode %s, drop invalid %s: %s', (mode, drop, expected) => {
    const snap = snapshot({
      attributes: {
        ok: true,
        value: {
          'routing.http.xff_header_processing.mode': mode,
          'routing.http.drop_invalid_header_fields.enabled': drop,
        },
      },
    });
    expect(statusOf(snap, 'alb-attributes').status).toBe(expected);
  });
});

describe('cloudfront-distribution and alb-rule-values', () => {
  const withOrigin = (
    over: Partial<{ policy: string; header: string | undefined; status: string }>,
  ) =>
    snapshot({
      distributions: {
        ok: true,
        value: [
          {
            id: 'E1',
            status: over.status ?? 'Deployed',
            origins: [
              {
                id: 'alb',
                domainName: 'ALB-1.us-east-1.elb.amazonaws.com',
                protocolPolicy: over.policy ?? 'https-only',
                headers:
                  over.header === undefined
                    ? new Map()
                    : new Map([['x-origin-verify', new SecretText(over.header)]]),
              },
            ],
          },
        ],
      },
    });

  it.each([
    ['match-viewer', { policy: 'match-viewer', header: CURRENT }, 'WARN'],
    ['http-only', { policy: 'http-only', header: CURRENT }, 'FAIL'],
    ['no header', { header: undefined }, 'FAIL'],
    ['an unknown value', { header: 'someone-elses-value-0123456789' }, 'FAIL'],
    ['still deploying', { header: CURRENT, status: 'InProgress' }, 'WARN'],
  ] as const)('%s: %s', (_name, over, expected) => {
    expect(statusOf(withOrigin(over), 'cloudfront-distribution').status).toBe(expected);
  });

  // Outside review, 4 December: a catch-all redirect to HTTPS on the HTTP listener, before its
  // header rule, was taken for a rule answering every request (a false FAIL, exit 1).
  it.each([
    ['a same-host redirect to HTTPS', 'HTTPS', '#{host}', 'WARN'],
    ['a redirect to another host', 'HTTPS', 'elsewhere.example', 'FAIL'],
  ] as const)(
    'match-viewer, a catch-all %s before the HTTP header rule',
    (_name, protocol, host, expected) => {
      const redirect: RuleInfo = {
        arn: 'rule-1',
        priority: 1,
        conditions: [{ field: 'path-pattern', values: ['/*'] }],
        action: {
          type: 'redirect',
          statusCode: 'HTTP_301',
          redirectProtocol: protocol,
          redirectHost: host,
        },
      };
      const base = withOrigin({ policy: 'match-viewer', header: CURRENT });
      const listeners: ListenerInfo[] = [
        {
          arn: 'l-443',
          port: 443,
          protocol: 'HTTPS',
          rules: [headerRule([CURRENT]), defaultRule(deny)],
        },
        {
          arn: 'l-80',
          port: 80,
          protocol: 'HTTP',
          rules: [redirect, headerRule([CURRENT]), defaultRule(deny)],
        },
      ];
      const snap = { ...base, listeners: { ok: true as const, value: listeners } };

      const result = statusOf(snap, 'cloudfront-distribution');

      // match-viewer alone is a WARN; the redirect to another host is a FAIL on top of it.
      expect(result.status).toBe(expected);
      expect(result.findings.some((f) => /answers every request itself/.test(f.message))).toBe(
        expected === 'FAIL',
      );
    },
  );

  it('accepts AWSPENDING on the distribution during a rotation, and wants it in the ALB rule too', () => {
    const base = snapshot();
    const secret = base.secret.ok ? base.secret.value : undefined;
    const rotating = snapshot({
      secret: {
        ok: true,
        value: {
          ...(secret as NonNullable<typeof secret>),
          values: new Map([
            ['AWSCURRENT', new SecretText(CURRENT)],
            ['AWSPENDING', new SecretText(PENDING)],
          ]),
        },
      },
    });
    expect(statusOf(rotating, 'alb-rule-values').status).toBe('WARN');
    const widened = {
      ...rotating,
      listeners: {
        ok: true as const,
        value: [
          {
            arn: 'l',
            port: 443,
            protocol: 'HTTPS',
            rules: [headerRule([CURRENT, PENDING]), defaultRule(deny)],
          },
        ],
      },
    };
    expect(statusOf(widened, 'alb-rule-values').status).toBe('PASS');
  });

  it('FAILs when the distribution sends AWSPENDING and the ALB header rule accepts only AWSCURRENT, naming stages only', () => {
    const base = snapshot();
    if (!base.secret.ok || !base.distributions.ok) throw new Error('unreachable');
    const [dist] = base.distributions.value;
    const [origin] = dist?.origins ?? [];
    const sendsPending = snapshot({
      secret: {
        ok: true,
        value: {
          ...base.secret.value,
          values: new Map([
            ['AWSCURRENT', new SecretText(CURRENT)],
            ['AWSPENDING', new SecretText(PENDING)],
          ]),
        },
      },
      distributions: {
        ok: true,
        value: [
          {
            ...(dist as NonNullable<typeof dist>),
            origins: [
              {
                ...(origin as NonNullable<typeof origin>),
                headers: new Map([['x-origin-verify', new SecretText(PENDING)]]),
              },
            ],
          },
        ],
      },
    });

    const cf = statusOf(sendsPending, 'cloudfront-distribution');

    expect(cf.status).toBe('FAIL');
    const denied = cf.findings.find((f) => f.status === 'FAIL');
    expect(denied?.message).toBe(
      'E1 origin alb sends x-origin-verify = AWSPENDING, which no header rule on HTTPS:443 accepts (they accept AWSCURRENT): the ALB denies every request through CloudFront',
    );
    expect(denied?.evidence).toMatchObject({ sends: 'AWSPENDING', accepts: ['AWSCURRENT'] });
    expect(denied?.fix).toContain('modify-rule --rule-arn rule-10');
    const text = JSON.stringify(cf);
    expect(text).not.toContain(PENDING);
    expect(text).not.toContain(CURRENT);
  });

  it('compares what CloudFront sends with the ALB rule even without --secret-id', () => {
    const noSecret = snapshot(
      {
        secret: {
          ok: false,
          skip: { reason: 'not-requested', message: '--secret-id was not given' },
        },
      },
      {
        listeners: [
          {
            arn: 'l',
            port: 443,
            protocol: 'HTTPS',
            rules: [headerRule(['some-other-value-0123456789']), defaultRule(deny)],
          },
        ],
      },
    );
    const denied = statusOf(noSecret, 'cloudfront-distribution').findings.find(
      (f) => f.status === 'FAIL',
    );
    expect(denied?.message).toMatch(
      /a value not compared with Secrets Manager, which no header rule on HTTPS:443 accepts \(they accept 1 value\(s\)\)/,
    );
  });

  it('warns about rule values Secrets Manager no longer holds', () => {
    const snap = snapshot(
      {},
      {
        listeners: [
          {
            arn: 'l',
            port: 443,
            protocol: 'HTTPS',
            rules: [headerRule([CURRENT, 'retired-value-0123456789']), defaultRule(deny)],
          },
        ],
      },
    );
    const check = statusOf(snap, 'alb-rule-values');
    expect(check.status).toBe('WARN');
    expect(check.findings[0]?.evidence).toMatchObject({ staleValues: 1, accepts: ['AWSCURRENT'] });
  });
});

// Outside review, 4 December: a listener shared by two sites, each with its own secret and rule.
describe('alb-rule-values on a listener shared with another site', () => {
  const SITE_B = 'site-b-secret-value-0123456789abcdef';
  const siteB: RuleInfo = {
    ...headerRule([SITE_B], 20),
    conditions: [
      { field: 'host-header', values: ['b.example.com'] },
      ...headerRule([SITE_B], 20).conditions,
    ],
  };
  const withRules = (rules: RuleInfo[]) =>
    snapshot({}, { listeners: [{ arn: 'l', port: 443, protocol: 'HTTPS', rules }] });

  it("judges only this secret's rule and leaves the other unjudged (WARN, never drift)", () => {
    const result = statusOf(
      withRules([headerRule([CURRENT]), siteB, defaultRule(deny)]),
      'alb-rule-values',
    );

    expect(result.status).toBe('WARN');
    expect(result.findings.map((f) => [f.status, f.evidence.rule, f.evidence.otherSecret])).toEqual(
      [
        ['PASS', 'rule-10', undefined],
        ['WARN', 'rule-20', true],
      ],
    );
    expect(result.findings[1]?.message).toMatch(/holds none of the values of prod\/origin-verify/);
  });

  it('takes a rule holding AWSPREVIOUS only for this secret, and FAILs it as drift', () => {
    const base = snapshot();
    if (!base.secret.ok) throw new Error('unreachable');
    const previous = 'previous-value-0123456789abcdef';
    const values = new Map([
      ...base.secret.value.values,
      ['AWSPREVIOUS', new SecretText(previous)],
    ]);
    const snap = {
      ...withRules([headerRule([previous]), siteB, defaultRule(deny)]),
      secret: { ok: true as const, value: { ...base.secret.value, values } },
    };

    const result = statusOf(snap, 'alb-rule-values');

    const drift = result.findings.find((f) => f.status === 'FAIL');
    expect(drift?.evidence.rule).toBe('rule-10');
    expect(drift?.message).toMatch(/does not accept AWSCURRENT .*\(it holds AWSPREVIOUS\)/);
    expect(result.findings.find((f) => f.evidence.rule === 'rule-20')?.status).toBe('WARN');
  });

  it("FAILs when no rule holds this secret's values, and names no rule to give them to", () => {
    const result = statusOf(withRules([siteB, defaultRule(deny)]), 'alb-rule-values');

    expect(result.status).toBe('FAIL');
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]?.message).toMatch(
      /^No x-origin-verify rule on the load balancer holds a value of prod\/origin-verify/,
    );
    expect(result.findings[0]?.fix).not.toContain('--rule-arn rule-20');
  });

  it("keeps the other site's value on a rule both share (WARN), without a fix that drops it", () => {
    const result = statusOf(
      withRules([headerRule([CURRENT, SITE_B]), defaultRule(deny)]),
      'alb-rule-values',
    );

    expect(result.status).toBe('WARN');
    expect(result.findings[0]?.message).toMatch(/another site's secret on a rule both share/);
    expect(result.findings[0]?.fix).toMatch(/^If no other site's secret uses this rule/);
  });

  it("names this site's rule, not the other site's, when the ALB denies what CloudFront sends", () => {
    const base = snapshot();
    if (!base.secret.ok) throw new Error('unreachable');
    const pending = new Map([...base.secret.value.values, ['AWSPENDING', new SecretText(PENDING)]]);
    const snap = originChanged(
      {
        ...withRules([siteB, headerRule([CURRENT], 30), defaultRule(deny)]),
        secret: { ok: true as const, value: { ...base.secret.value, values: pending } },
      },
      { headers: new Map([['x-origin-verify', new SecretText(PENDING)]]) },
    );

    const denied = statusOf(snap, 'cloudfront-distribution').findings.find(
      (f) => f.status === 'FAIL',
    );

    expect(denied?.fix).toContain('--rule-arn rule-30 ');
    expect(denied?.fix).not.toContain('rule-20');
  });
});

// Outside review, 4 December: a listener with no header rule was left to listener-rules, which
// passes a catch-all 403, so an ALB that forwards nothing CloudFront sends passed.
describe('cloudfront-distribution on a listener without header rules', () => {
  const on = (listeners: ListenerInfo[], policy = 'https-only') =>
    statusOf(
      originChanged(snapshot({}, { listeners }), { protocolPolicy: policy }),
      'cloudfront-distribution',
    );
  const accepting: ListenerInfo = {
    arn: 'l-443',
    port: 443,
    protocol: 'HTTPS',
    rules: [headerRule([CURRENT]), defaultRule(deny)],
  };
  const denying = (port: number, protocol = 'HTTPS'): ListenerInfo => ({
    arn: `l-${port}`,
    port,
    protocol,
    rules: [defaultRule(deny)],
  });
  const messageOf = (r: CheckResult, listener: string) =>
    r.findings.find((f) => f.evidence.listener === listener);

  it('FAILs a listener that answers every request with the default 403', () => {
    const result = on([denying(443)]);

    expect(result.status).toBe('FAIL');
    expect(messageOf(result, 'l-443')?.message).toMatch(
      /no rule on HTTPS:443 forwards the x-origin-verify value \(the default action is fixed-response 403\): the ALB denies every request through CloudFront/,
    );
  });

  it.each([
    ['another HTTPS listener accepts the value', [accepting, denying(8443)], 'https-only', 'WARN'],
    ['match-viewer, HTTP only denies', [accepting, denying(80, 'HTTP')], 'match-viewer', 'WARN'],
    [
      'match-viewer, HTTP redirects to HTTPS',
      [accepting, { ...denying(80, 'HTTP'), rules: [upgrade] }],
      'match-viewer',
      undefined,
    ],
    [
      'a listener forwarding without the header (listener-rules FAILs it)',
      [{ ...denying(443), rules: [defaultRule({ type: 'forward' })] }],
      'https-only',
      undefined,
    ],
  ] as const)('%s', (_name, listeners, policy, expected) => {
    const result = on([...listeners], policy);

    const other = listeners.find((l) => l !== accepting);
    expect(messageOf(result, other?.arn ?? '')?.status).toBe(expected);
  });
});

// Outside review, 4 December: a VPC origin has no CustomOriginConfig, and its missing policy was
// read as 'none': a FAIL "crosses the internet in clear text", and every HTTP listener judged.
describe('cloudfront-distribution with a VPC origin whose protocol policy was not read', () => {
  const unread = {
    id: 'vo_0123456789abcdef',
    unread: {
      reason: 'access-denied' as const,
      message:
        'Access denied to cloudfront:GetVpcOrigin (AccessDenied); grant it to run this check',
      missingAction: 'cloudfront:GetVpcOrigin',
    },
  };
  const listeners: ListenerInfo[] = [
    {
      arn: 'l-443',
      port: 443,
      protocol: 'HTTPS',
      rules: [headerRule([CURRENT]), defaultRule(deny)],
    },
    { arn: 'l-80', port: 80, protocol: 'HTTP', rules: [defaultRule(deny)] },
  ];

  it('WARNs that the policy was not judged, and that a denying HTTP listener matters only over HTTP', () => {
    const snap = originChanged(snapshot({}, { listeners }), {
      protocolPolicy: undefined,
      vpcOrigin: unread,
    });

    const result = statusOf(snap, 'cloudfront-distribution');

    expect(result.status).toBe('WARN');
    expect(
      result.findings.find((f) => f.evidence.originProtocolPolicy !== undefined),
    ).toMatchObject({
      status: 'WARN',
      message: `E1 origin alb connects through VPC origin ${unread.id}, whose protocol policy was not judged: ${unread.unread.message}`,
      evidence: { vpcOrigin: unread.id },
    });
    expect(result.findings.find((f) => f.evidence.listener === 'l-80')?.message).toMatch(
      /if VPC origin vo_0123456789abcdef connects over HTTP \(its protocol policy was not read\), every request through CloudFront is denied/,
    );
  });

  it('judges the policy of the VPC origin when it was read: https-only leaves the HTTP listener alone', () => {
    const snap = originChanged(snapshot({}, { listeners }), {
      protocolPolicy: 'https-only',
      vpcOrigin: { id: unread.id },
    });

    const result = statusOf(snap, 'cloudfront-distribution');

    expect(result.status).toBe('PASS');
    // Judged as a VPC origin's policy (review, 4 December, fifth session: the assertions above
    // held on the code before VPC origins were read).
    expect(
      result.findings.find((f) => f.evidence.originProtocolPolicy !== undefined),
    ).toMatchObject({
      status: 'PASS',
      message: `E1 origin alb uses https-only to VPC origin ${unread.id}`,
      evidence: { vpcOrigin: unread.id },
    });
    expect(result.findings.some((f) => f.evidence.listener === 'l-80')).toBe(false);
  });
});

describe('secret-rotation', () => {
  const secretWith = (over: Record<string, unknown>) => {
    const base = snapshot();
    if (!base.secret.ok) throw new Error('unreachable');
    return snapshot({ secret: { ok: true, value: { ...base.secret.value, ...over } } });
  };
  it.each([
    ['rotation disabled', { rotationEnabled: false }, 'WARN'],
    ['no rotation function', { rotationLambdaArn: undefined }, 'WARN'],
    ['every 180 days', { scheduleExpression: 'rate(180 days)' }, 'WARN'],
    [
      'AutomaticallyAfterDays 90',
      { scheduleExpression: undefined, automaticallyAfterDays: 90 },
      'PASS',
    ],
    ['never rotated', { lastRotatedDate: undefined }, 'WARN'],
    ['overdue', { lastRotatedDate: new Date(Date.now() - 45 * DAY) }, 'WARN'],
    ['a cron schedule', { scheduleExpression: 'cron(0 16 1,15 * ? *)' }, 'PASS'],
    // Outside review, 3 December: every cron schedule passed unsized, a yearly one too.
    ['a yearly cron schedule', { scheduleExpression: 'cron(0 3 1 1 ? *)' }, 'WARN'],
    [
      'a quarterly cron schedule (92 days, July to October)',
      { scheduleExpression: 'cron(0 3 1 1,4,7,10 ? *)' },
      'WARN',
    ],
    [
      'a monthly cron schedule on the last day',
      { scheduleExpression: 'cron(0 3 L * ? *)' },
      'PASS',
    ],
    ['the first Monday of every month', { scheduleExpression: 'cron(0 3 ? * MON#1 *)' }, 'PASS'],
    [
      'a cron schedule that stops after this year',
      { scheduleExpression: 'cron(0 3 1 * ? 2026)' },
      'WARN',
    ],
    [
      'a cron field the audit cannot size (W)',
      { scheduleExpression: 'cron(0 3 1W * ? *)' },
      'WARN',
    ],
  ])('%s: %s', (_name, over, expected) => {
    expect(statusOf(secretWith(over), 'secret-rotation').status).toBe(expected);
  });

  // Review, 5 December: a failed rotation's AWSPENDING stayed accepted and the audit said
  // nothing until the rotation was overdue.
  const PENDING_VALUE = 'pending-value-0123456789abcdefghij';
  const bothValues = new Map([
    ['AWSCURRENT', new SecretText(CURRENT)],
    ['AWSPENDING', new SecretText(PENDING_VALUE)],
  ]);
  const pendingFor = (created: Gathered<Date | undefined>, values = bothValues) => ({
    pendingRotation: {
      versionId: 'v-pending',
      currentVersionId: 'v-current',
      rolledBack: false,
      created,
    },
    values,
  });
  const onlyCurrent = new Map([['AWSCURRENT', new SecretText(CURRENT)]]);
  const createdAgo = (ms: number) => ({ ok: true as const, value: new Date(Date.now() - ms) });

  it('passes a rotation in flight for less than a day, and says so', () => {
    const result = statusOf(
      secretWith(pendingFor(createdAgo(2 * HOUR + 60_000))),
      'secret-rotation',
    );
    expect(result.status).toBe('PASS');
    expect(result.incomplete).toBeUndefined();
    expect(result.findings.map((f) => f.message)).toContainEqual(
      'prod/origin-verify has a rotation in flight, started 2 hours ago (AWSPENDING on version v-pending)',
    );
  });

  it.each([
    ['25 hours', 25 * HOUR + 60_000, /for 25 hours \(AWSPENDING on version v-pending, created /],
    ['3 days', 3 * DAY + 60_000, /for 3 days \(AWSPENDING on version v-pending, created /],
  ])(
    'WARNs a rotation in flight for %s, with the commands to give it up (no distribution sends its value)',
    (_n, ms, re) => {
      const result = statusOf(secretWith(pendingFor(createdAgo(ms))), 'secret-rotation');
      expect(result.status).toBe('WARN');
      const finding = result.findings.find((f) => f.status === 'WARN');
      expect(finding?.message).toMatch(re);
      expect(finding?.message).toMatch(
        /it has failed, the secret is not being rotated, and its value stays accepted by the apps/,
      );
      expect(finding?.fix).toContain(
        'aws secretsmanager update-secret-version-stage --secret-id prod/origin-verify --version-stage AWSPENDING --remove-from-version-id v-pending',
      );
      expect(finding?.fix).not.toContain('--version-stage AWSCURRENT');
      expect(finding?.evidence).toMatchObject({
        pendingVersion: 'v-pending',
        pendingHasValue: true,
      });
      expect(JSON.stringify(finding)).not.toContain(PENDING_VALUE);
    },
  );

  // Review, 5 December: a version RotateSecret labelled before createSecret stored a value was
  // said to have "its value" accepted, and the fix hedged between finishing and giving up.
  it('WARNs a stuck rotation whose version has no value: nothing is accepted, and giving up is safe', () => {
    const result = statusOf(
      secretWith(pendingFor(createdAgo(30 * HOUR), onlyCurrent)),
      'secret-rotation',
    );
    const finding = result.findings.find((f) => f.status === 'WARN');
    expect(finding?.message).toMatch(
      /for 30 hours \(AWSPENDING on version v-pending, created [^)]+\): it failed before its createSecret step stored a value, and the secret is not being rotated; the version has no value, so nothing is accepted for it$/,
    );
    expect(finding?.message).not.toMatch(/stays accepted/);
    expect(finding?.fix).toContain(
      'so give it up: aws secretsmanager update-secret-version-stage --secret-id prod/origin-verify --version-stage AWSPENDING --remove-from-version-id v-pending, then aws secretsmanager rotate-secret --secret-id prod/origin-verify',
    );
    expect(finding?.fix).not.toContain('--version-stage AWSCURRENT');
    expect(finding?.evidence).toMatchObject({ pendingHasValue: false });
  });

  it('says a pending version with no value that ListSecretVersionIds does not list has nothing accepted', () => {
    const result = statusOf(
      secretWith(pendingFor({ ok: true, value: undefined }, onlyCurrent)),
      'secret-rotation',
    );
    expect(result.status).toBe('PASS');
    expect(result.findings.at(-1)?.message).toMatch(
      /its age is unknown; it has no value, so nothing is accepted for it\)$/,
    );
  });

  // Review, 5 December: a CreatedDate in the future was clamped to "0 hours ago" and PASSed.
  it.each([
    ['10 minutes', 'WARN', 10 * 60_000],
    ['2 minutes (within the 5 allowed)', 'PASS', 2 * 60_000],
  ])('a pending version created %s after this clock: %s', (_n, expected, ahead) => {
    // An offset within the skew allowed (as the SDK holds one after every answer): this clock.
    const result = statusOf(
      secretWith({
        ...pendingFor({ ok: true, value: new Date(Date.now() + ahead) }),
        clockOffsetMs: 4 * 60_000,
      }),
      'secret-rotation',
    );
    expect(result.status).toBe(expected);
    const last = result.findings.at(-1);
    if (expected === 'WARN') {
      expect(last?.message).toMatch(
        /^prod\/origin-verify's pending version v-pending was created at \S+, 10 minutes after the time the audit judges by \(\S+, this machine's clock\): a clock is wrong/,
      );
      expect(last?.fix).toMatch(/Set this machine's clock right/);
    } else {
      expect(last?.message).toMatch(/started 0 hours ago/);
    }
  });

  it("names AWS's clock when the ages were judged on it and a version is still in the future", () => {
    const result = statusOf(
      secretWith({
        ...pendingFor({ ok: true, value: new Date(Date.now() + 6 * HOUR + 10 * 60_000) }),
        clockOffsetMs: 6 * HOUR,
      }),
      'secret-rotation',
    );
    expect(result.findings.at(-1)?.message).toMatch(
      /10 minutes after the time the audit judges by \(\S+, AWS's clock, from the Date of Secrets Manager's answers\): a clock is wrong/,
    );
  });

  // Review, eleventh session: ages were judged on this machine's clock, so a clock ahead by a day
  // called a rotation started an hour ago stuck, and one behind called a stuck one young.
  it.each([
    [
      'ahead of AWS by 30 hours: a rotation AWS started 2 hours ago',
      -30 * HOUR,
      32 * HOUR,
      'PASS',
      /started 2 hours ago/,
    ],
    [
      'behind AWS by 30 hours: a rotation AWS started 26 hours ago',
      30 * HOUR,
      -4 * HOUR,
      'WARN',
      /in flight for 26 hours/,
    ],
  ])(
    'judges ages on AWS clock, this machine %s',
    (_n, clockOffsetMs, createdAgoMs, expected, message) => {
      const snapshot = secretWith({
        ...pendingFor(createdAgo(createdAgoMs)),
        clockOffsetMs,
      });
      const result = statusOf(snapshot, 'secret-rotation');
      expect(result.status).toBe(expected);
      expect(result.findings.at(-1)?.message).toMatch(message);
      // Without the offset, the same dates are misjudged: the reason it is read.
      const local = statusOf(secretWith(pendingFor(createdAgo(createdAgoMs))), 'secret-rotation');
      expect(local.status).toBe('WARN');
      expect(local.findings.at(-1)?.message).not.toMatch(message);
    },
  );

  describe('at the edges of the day and of the hours', () => {
    const NOW = new Date('2027-03-10T12:00:00.000Z');
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(NOW);
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    it.each([
      ['exactly 24 hours', 24 * HOUR, 'PASS', /started 24 hours ago/],
      ['24 hours and 1 ms', 24 * HOUR + 1, 'WARN', /in flight for 24 hours \(/],
      ['47 hours 59 minutes', 48 * HOUR - 60_000, 'WARN', /in flight for 47 hours \(/],
      ['48 hours', 48 * HOUR, 'WARN', /in flight for 2 days \(/],
    ])('%s: %s', (_n, ms, expected, re) => {
      const result = statusOf(
        secretWith(pendingFor({ ok: true, value: new Date(NOW.getTime() - ms) })),
        'secret-rotation',
      );
      expect(result.status).toBe(expected);
      expect(result.findings.at(-1)?.message).toMatch(re);
    });
  });

  // Giving a rotation up once CloudFront sends its value would cut CloudFront off when the apps
  // drop the value: the fix finishes it then, and gives it up only when no distribution sends it.
  describe('the fix for a stuck rotation follows what CloudFront sends', () => {
    const PENDING = 'pending-value-0123456789abcdefghij';
    const stuck = (values: [string, string][], sends: string) => {
      const base = secretWith(pendingFor(createdAgo(2 * DAY)));
      if (!base.secret.ok) throw new Error('unreachable');
      const secret = {
        ok: true as const,
        value: {
          ...base.secret.value,
          values: new Map(values.map(([k, v]) => [k, new SecretText(v)])),
        },
      };
      const snap = originChanged(
        { ...base, secret, secretDescription: secret },
        { headers: new Map([['x-origin-verify', new SecretText(sends)]]) },
      );
      const fix = statusOf(snap, 'secret-rotation').findings.find((f) => f.status === 'WARN')?.fix;
      return fix ?? '';
    };
    const FINISH =
      '--version-stage AWSCURRENT --move-to-version-id v-pending --remove-from-version-id v-current';
    const GIVE_UP = '--version-stage AWSPENDING --remove-from-version-id v-pending';

    it('finishes it when a distribution already sends the pending value', () => {
      const fix = stuck(
        [
          ['AWSCURRENT', CURRENT],
          ['AWSPENDING', PENDING],
        ],
        PENDING,
      );
      expect(fix).toContain(FINISH);
      expect(fix).toMatch(/CloudFront already sends the pending value \(E1\)/);
      expect(fix).not.toContain(GIVE_UP);
      expect(fix).not.toContain(PENDING);
    });

    it('gives it up when no distribution sends the pending value', () => {
      const fix = stuck(
        [
          ['AWSCURRENT', CURRENT],
          ['AWSPENDING', PENDING],
        ],
        CURRENT,
      );
      expect(fix).toContain(GIVE_UP);
      expect(fix).toMatch(/No distribution read \(E1\) sends the pending value; if no other/);
      expect(fix).not.toContain(FINISH);
    });

    it('names both when no distribution was read: one not read may send the value', () => {
      const base = secretWith(pendingFor(createdAgo(2 * DAY)));
      if (!base.secret.ok) throw new Error('unreachable');
      const values = new Map([
        ['AWSCURRENT', new SecretText(CURRENT)],
        ['AWSPENDING', new SecretText(PENDING)],
      ]);
      const secret = { ok: true as const, value: { ...base.secret.value, values } };
      const none = {
        ...base,
        secret,
        secretDescription: secret,
        distributions: { ok: true as const, value: [] },
      };
      const fix = statusOf(none, 'secret-rotation').findings.find((f) => f.status === 'WARN')?.fix;
      expect(fix).toContain(FINISH);
      expect(fix).toContain(GIVE_UP);
    });

    it('names both, and when to pick which, when the values could not be read', () => {
      const description = secretWith(pendingFor(createdAgo(2 * DAY))).secret;
      const unread = snapshot({
        secret: {
          ok: false,
          skip: {
            reason: 'access-denied',
            message: 'denied',
            missingAction: 'secretsmanager:GetSecretValue',
          },
        },
        secretDescription: description,
      });
      const warned = statusOf(unread, 'secret-rotation').findings.find((f) => f.status === 'WARN');
      expect(warned?.fix).toContain(FINISH);
      expect(warned?.fix).toContain(GIVE_UP);
      expect(warned?.fix).toMatch(/If CloudFront already sends the pending value/);
      expect(warned?.message).toMatch(
        /its value, if createSecret stored one \(the values could not be read\), stays accepted/,
      );
    });
  });

  it('WARNs AWSPENDING left on the AWSPREVIOUS version by a rollback, whatever its age, as a blocked rotation', () => {
    const rolledBack = {
      pendingRotation: {
        versionId: 'v-pending',
        currentVersionId: 'v-current',
        rolledBack: true,
        created: createdAgo(HOUR),
      },
    };
    const result = statusOf(secretWith(rolledBack), 'secret-rotation');
    expect(result.status).toBe('WARN');
    const finding = result.findings.find((f) => f.status === 'WARN');
    expect(finding?.message).toMatch(
      /AWSPENDING on version v-pending, which is AWSPREVIOUS too \(AWSCURRENT was moved back after a rotation\): RotateSecret refuses to start/,
    );
    expect(finding?.message).not.toMatch(/has failed/);
    expect(finding?.fix).toContain('--version-stage AWSPENDING --remove-from-version-id v-pending');
    expect(finding?.fix).not.toContain('--version-stage AWSCURRENT');
    expect(finding?.evidence).toMatchObject({ rolledBack: true });
  });

  it('WARNs a stale AWSPENDING with rotation turned off too (its value is still accepted)', () => {
    const result = statusOf(
      secretWith({ rotationEnabled: false, ...pendingFor(createdAgo(2 * DAY)) }),
      'secret-rotation',
    );
    expect(result.findings.map((f) => f.message)).toEqual([
      'prod/origin-verify has rotation disabled',
      expect.stringMatching(/has had a rotation in flight for 2 days/),
    ]);
  });

  it("marks the check incomplete, not failed, when the pending version's age cannot be read", () => {
    const skip = {
      reason: 'access-denied' as const,
      message:
        'Access denied to secretsmanager:ListSecretVersionIds (AccessDeniedException); grant it to run this check',
      missingAction: 'secretsmanager:ListSecretVersionIds' as const,
    };
    const result = statusOf(secretWith(pendingFor({ ok: false, skip })), 'secret-rotation');
    expect(result.status).toBe('PASS');
    expect(result.incomplete).toEqual(skip);
    expect(result.findings.some((f) => /in flight/.test(f.message))).toBe(false);
  });

  // Review, eleventh session: AWS lists every labelled version, so a pending version with a
  // value missing from the listing is a listing not to trust, not "age unknown" and PASS.
  it('marks the check incomplete when ListSecretVersionIds does not list a pending version that has a value', () => {
    const result = statusOf(
      secretWith(pendingFor({ ok: true, value: undefined })),
      'secret-rotation',
    );
    expect(result.status).toBe('PASS');
    expect(result.incomplete?.reason).toBe('error');
    expect(result.incomplete?.message).toMatch(
      /ListSecretVersionIds did not list the pending version v-pending, though DescribeSecret labels it AWSPENDING and GetSecretValue read its value, so its age was not read/,
    );
    expect(result.findings.some((f) => /in flight/.test(f.message))).toBe(false);
    expect(JSON.stringify(result)).not.toContain(PENDING_VALUE);
  });
});

describe('cronGapDays', () => {
  const from = new Date('2027-01-10T00:00:00Z');
  it.each([
    ['cron(0 16 1,15 * ? *)', 17],
    ['cron(0 3 1 * ? *)', 31],
    ['cron(0 3 ? * MON *)', 7],
    ['cron(0 3 ? * 2-6 *)', 3],
    ['cron(0 3 ? * 6L *)', 35],
    ['cron(0 3 1 */2 ? *)', 62],
    ['cron(0 3 L FEB ? *)', 366],
    ['cron(0/30 * * * ? *)', 1],
  ])('%s: %d days at most', (expression, days) => {
    expect(cronGapDays(expression, from)).toBe(days);
  });
  it.each([
    'rate(30 days)',
    'cron(0 3 1 * *)',
    'cron(0 3 31 FEB ? *)',
    'cron(0 3 1W * ? *)',
    'cron(0 3 32 * ? *)',
    'cron(0 3 1 * ? 2020)',
  ])('cannot size %s', (expression) => {
    expect(cronGapDays(expression, from)).toBeUndefined();
  });
});

describe('direct-reachability', () => {
  it.each([
    ['refused', { outcome: 'refused' }, 'PASS'],
    ['timed out', { outcome: 'timeout' }, 'PASS'],
    ['reset', { outcome: 'reset' }, 'PASS'],
    ['not resolved', { outcome: 'error', detail: 'ENOTFOUND' }, 'WARN'],
    ['a TLS error', { outcome: 'error', detail: 'EPROTO' }, 'WARN'],
    ['a 403', { outcome: 'served', statusCode: 403 }, 'PASS'],
    ['a 502', { outcome: 'served', statusCode: 502 }, 'WARN'],
    ['a 301', { outcome: 'served', statusCode: 301 }, 'FAIL'],
    ['a 200', { outcome: 'served', statusCode: 200 }, 'FAIL'],
  ] as const)('%s: %s', (_name, probe, expected) => {
    const snap = snapshot({ probes: { ok: true, value: [{ url: 'https://alb:443/', ...probe }] } });
    expect(statusOf(snap, 'direct-reachability').status).toBe(expected);
  });

  // Outside review, 4 December: the HTTP-to-HTTPS redirect listener-rules recommends was FAILed.
  describe('a redirect from the HTTP listener', () => {
    const http = (rules: RuleInfo[]): ListenerInfo => ({
      arn: 'l-80',
      port: 80,
      protocol: 'HTTP',
      rules,
    });
    const ruleAt = (
      priority: number,
      conditions: RuleInfo['conditions'],
      action: RuleInfo['action'],
    ) => ({ arn: `rule-${priority}`, priority, conditions, action }) as RuleInfo;
    const forward = { type: 'forward' };
    const path = (...values: string[]) => ({ field: 'path-pattern', values });
    it.each([
      ['301 to https on the same host', 301, 'https://alb:443/', [upgrade], 'PASS'],
      ['302 to https on the same host, any case', 302, 'https://ALB/path', [upgrade], 'PASS'],
      ['301 to https on another host', 301, 'https://elsewhere.example/', [upgrade], 'FAIL'],
      ['301 to http on the same host', 301, 'http://alb:8080/', [upgrade], 'FAIL'],
      ['307 to https on the same host', 307, 'https://alb/', [upgrade], 'FAIL'],
      ['301 without a Location', 301, undefined, [upgrade], 'FAIL'],
      [
        '301 to https from a listener that forwards (the app answered)',
        301,
        'https://alb/',
        [defaultRule({ type: 'forward' })],
        'FAIL',
      ],
      // Review, 4 December (seventh session): any upgrading rule of the listener (one for
      // `/login`) was taken as the answer to the probe of `/`, which the app had redirected.
      [
        'an upgrade for /login only; the default forwards',
        301,
        'https://alb/',
        [ruleAt(5, [path('/login')], upgrade.action), defaultRule(forward)],
        'FAIL',
      ],
      [
        'an upgrade for /* first; the default forwards',
        301,
        'https://alb/',
        [ruleAt(5, [path('/*')], upgrade.action), defaultRule(forward)],
        'PASS',
      ],
      [
        'an upgrade for /? matching /',
        301,
        'https://alb/',
        [ruleAt(5, [path('/?', '/')], upgrade.action), defaultRule(forward)],
        'PASS',
      ],
      [
        'a forward for /* before the default upgrade',
        301,
        'https://alb/',
        [ruleAt(1, [path('/*')], forward), upgrade],
        'FAIL',
      ],
      [
        'a forward on the header before the default upgrade',
        301,
        'https://alb/',
        [
          ruleAt(1, [{ field: 'http-header', headerName: 'x-origin-verify', values: [] }], forward),
          upgrade,
        ],
        'PASS',
      ],
      [
        'a forward on the ALB host before the default upgrade',
        301,
        'https://alb/',
        [ruleAt(1, [{ field: 'host-header', values: ['ALB'] }], forward), upgrade],
        'FAIL',
      ],
      [
        'a forward on another host before the default upgrade',
        301,
        'https://alb/',
        [ruleAt(1, [{ field: 'host-header', values: ['www.example.com'] }], forward), upgrade],
        'PASS',
      ],
      [
        'a forward by source address before the default upgrade',
        301,
        'https://alb/',
        [ruleAt(1, [{ field: 'source-ip', values: [] }], forward), upgrade],
        'WARN',
      ],
      [
        'a forward for GET before the default upgrade',
        301,
        'https://alb/',
        [ruleAt(1, [{ field: 'http-request-method', values: ['GET', 'HEAD'] }], forward), upgrade],
        'FAIL',
      ],
      [
        'a forward for POST before the default upgrade',
        301,
        'https://alb/',
        [ruleAt(1, [{ field: 'http-request-method', values: ['POST'] }], forward), upgrade],
        'PASS',
      ],
      [
        'a forward on a query string before the default upgrade (the probe has none)',
        301,
        'https://alb/',
        [ruleAt(1, [{ field: 'query-string', values: [] }], forward), upgrade],
        'PASS',
      ],
      [
        'rules given out of order: the lower priority decides',
        301,
        'https://alb/',
        [
          ruleAt(9, [path('/*')], forward),
          ruleAt(2, [path('/*')], upgrade.action),
          defaultRule(forward),
        ],
        'PASS',
      ],
    ] as const)('%s: %s', (_name, statusCode, location, rules, expected) => {
      const snap = snapshot(
        {
          probes: {
            ok: true,
            value: [
              {
                url: 'http://alb:80/',
                outcome: 'served',
                statusCode,
                ...(location === undefined ? {} : { location }),
              },
            ],
          },
        },
        { listeners: [http([...rules])] },
      );
      expect(statusOf(snap, 'direct-reachability').status).toBe(expected);
    });

    it('WARNs (not confirmed) when the listener rules could not be read', () => {
      const snap = snapshot({
        listeners: { ok: false, skip: { reason: 'access-denied', message: 'denied' } },
        probes: {
          ok: true,
          value: [
            { url: 'http://alb:80/', outcome: 'served', statusCode: 301, location: 'https://alb/' },
          ],
        },
      });
      expect(statusOf(snap, 'direct-reachability').findings[0]?.message).toMatch(
        /not confirmed against the listener rules/,
      );
    });
  });

  it('is SKIPPED when --probe was not given', () => {
    const snap = snapshot({
      probes: { ok: false, skip: { reason: 'not-requested', message: '--probe was not given' } },
    });
    expect(statusOf(snap, 'direct-reachability')).toMatchObject({
      status: 'SKIPPED',
      skipped: { reason: 'not-requested' },
    });
  });
});

describe('probeUrls', () => {
  it('probes each HTTP/HTTPS listener, nothing when there are none, and 443 and 80 only when unknown', () => {
    const dns = 'alb-1.us-east-1.elb.amazonaws.com';
    expect(probeUrls(dns, [{ port: 8443, protocol: 'HTTPS' }])).toEqual([`https://${dns}:8443/`]);
    expect(probeUrls(dns, [])).toEqual([]);
    expect(probeUrls(dns, undefined)).toEqual([`https://${dns}:443/`, `http://${dns}:80/`]);
  });
});

describe('renderTable', () => {
  it('colours only when asked, and prints the fix under each failing line', () => {
    const open = snapshot(
      {},
      {
        inbound: [
          sgRule({ prefixListId: PL_V4 }),
          sgRule({ id: 'sgr-open', cidrIpv4: '0.0.0.0/0' }),
        ],
      },
    );
    const report = buildReport(open, runChecks(open));

    const plain = renderTable(report);
    expect(plain).not.toContain('\x1b[');
    expect(plain).toMatch(
      / {2}FAIL {2}sgr-open in sg-1 allows port 443 from 0\.0\.0\.0\/0.*\n {8}evidence: group=sg-1 rule=sgr-open ports=443 source=0\.0\.0\.0\/0\n {8}fix: aws ec2 revoke-security-group-ingress/,
    );
    expect(renderTable(report, { color: true })).toContain('\x1b[31mFAIL');
    expect(report.exitCode).toBe(1);
  });
});

describe('SecretText', () => {
  it('never prints its value and compares by value', () => {
    const a = new SecretText(CURRENT);
    expect(String(a)).toBe('[redacted]');
    expect(JSON.stringify({ a })).toBe('{"a":"[redacted]"}');
    expect(inspect(a)).toBe('[redacted]');
    expect(a.equals(new SecretText(CURRENT))).toBe(true);
    expect(a.equals(new SecretText(`${CURRENT}x`))).toBe(false);
    expect(a.equalsAny([new SecretText(PENDING), new SecretText(CURRENT)])).toBe(true);
  });
});

describe('isPublicCidr', () => {
  it.each([
    ['10.1.0.0/16', false],
    ['172.31.0.0/16', false],
    ['192.168.1.0/24', false],
    ['100.64.0.0/10', false],
    ['0.0.0.0/0', true],
    ['8.0.0.0/5', true],
    ['172.0.0.0/8', true],
    ['203.0.113.7/32', true],
    ['fd12:3456::/48', false],
    ['fe80::/64', false],
    ['2600:1f18::/32', true],
    ['::/0', true],
    ['not-a-cidr', true],
  ])('%s -> %s', (cidr, expected) => {
    expect(isPublicCidr(cidr)).toBe(expected);
  });
});

describe('bareDomain', () => {
  it.each([
    ['alb-1.us-east-1.elb.amazonaws.com', 'alb-1.us-east-1.elb.amazonaws.com'],
    ['dualstack.alb-1.us-east-1.elb.amazonaws.com', 'alb-1.us-east-1.elb.amazonaws.com'],
    ['DualStack.ALB-1.us-east-1.elb.amazonaws.com.', 'alb-1.us-east-1.elb.amazonaws.com'],
    ['www.example.com', 'www.example.com'],
  ])('%s -> %s', (domain, bare) => {
    expect(bareDomain(domain)).toBe(bare);
  });
});

describe('prefixLength and coveredFamilies', () => {
  it.each([
    ['0.0.0.0/0', 0],
    ['44.0.0.0/8', 8],
    ['203.0.113.7', 32],
    ['2000::/3', 3],
    ['::ffff:10.0.0.0/104', 104],
    ['not-a-cidr', undefined],
  ])('prefixLength(%s) = %s', (cidr, bits) => {
    expect(prefixLength(cidr)).toBe(bits);
  });

  it.each([
    [['0.0.0.0/1', '128.0.0.0/1'], ['IPv4']],
    [['128.0.0.0/1', '0.0.0.0/2', '64.0.0.0/2'], ['IPv4']],
    [['0.0.0.0/1', '128.0.0.0/2'], []],
    [
      ['0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1'],
      ['IPv4', 'IPv6'],
    ],
    [['10.0.0.0/8'], []],
    [[], []],
  ])('%j covers %j', (cidrs, families) => {
    expect(coveredFamilies(cidrs)).toEqual(families);
  });
});

describe('cidrHolds', () => {
  it.each([
    ['10.0.5.16/28', '10.0.5.16', true],
    ['10.0.5.16/28', '10.0.5.31', true],
    ['10.0.5.16/28', '10.0.5.32', false],
    ['10.0.5.16/28', '10.0.5.15', false],
    ['2600:1f18:aaaa:4:1::/80', '2600:1f18:aaaa:4:1::7', true],
    ['2600:1f18:aaaa:4:1::/80', '2600:1F18:AAAA:0004:0001:0000:0000:0007', true],
    ['2600:1f18:aaaa:4:1::/80', '2600:1f18:aaaa:4:2::7', false],
    ['10.0.0.0/8', '::ffff:10.0.0.1', false],
    ['2600::/16', '10.0.0.1', false],
    ['10.0.5.16/28', 'not-an-address', false],
  ])('cidrHolds(%s, %s) = %s', (cidr, address, holds) => {
    expect(cidrHolds(cidr, address)).toBe(holds);
  });
});

describe('targets', () => {
  type Targets = Extract<AccountSnapshot['targets'], { ok: true }>['value'];
  const base = (): Targets => {
    const t = snapshot().targets;
    if (!t.ok) throw new Error('unreachable');
    return t.value;
  };
  const withTargets = (edit: (t: Targets) => Targets) =>
    statusOf(snapshot({ targets: { ok: true, value: edit(base()) } }), 'targets');
  /** The app group's rules replaced by `rules`, the host's addresses by `host`. */
  const opened = (
    rules: Partial<SecurityGroupRuleInfo>[],
    host: { publicIpv4?: string; ipv6?: string[] } = {},
    targetOver: Partial<TargetInfo> = {},
    prefixLists: Targets['prefixLists'] = new Map(),
    routes?: Targets['routes'],
  ) =>
    withTargets((t) => ({
      ...t,
      prefixLists,
      ...(routes === undefined ? {} : { routes }),
      groups: t.groups.map((g) => ({
        ...g,
        targets: g.targets.map((x) => ({
          ...x,
          ...targetOver,
          hosts: x.hosts.map((h) => ({
            ...h,
            publicIpv4: host.publicIpv4,
            ipv6: host.ipv6 ?? [],
          })),
        })),
      })),
      securityGroups: [
        {
          id: 'sg-app',
          name: 'app',
          inbound: rules.map((r, i) => ({
            id: `sgr-${i}`,
            groupId: 'sg-app',
            protocol: 'tcp',
            fromPort: 8080,
            toPort: 8080,
            ...r,
          })),
        },
      ],
    }));

  it('passes targets reachable only from the ALB security group and private ranges', () => {
    const r = opened([{ referencedGroupId: 'sg-1' }, { cidrIpv4: '10.0.0.0/16' }], {
      publicIpv4: '54.1.2.3',
    });
    expect(r.status).toBe('PASS');
    expect(r.findings.map((f) => f.message)).toEqual([
      'Target group app: 1 target on port 8080, none open to a public address (their security groups allow security groups and private ranges only)',
    ]);
  });

  it('FAILs a target with a public address whose group allows its port from 0.0.0.0/0, with the fix', () => {
    const r = opened([{ cidrIpv4: '0.0.0.0/0' }], { publicIpv4: '54.1.2.3' });
    expect(r.status).toBe('FAIL');
    const f = r.findings.find((x) => x.status === 'FAIL');
    expect(f?.message).toBe(
      'sgr-0 in sg-app allows port 8080 from 0.0.0.0/0, and targets i-1 (54.1.2.3) have a public address: anyone can reach the app around the ALB (its header rule) and CloudFront',
    );
    expect(f?.fix).toContain(
      "aws ec2 authorize-security-group-ingress --group-id sg-app --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=sg-1}]'",
    );
    expect(f?.fix).toContain(
      'aws ec2 revoke-security-group-ingress --group-id sg-app --security-group-rule-ids sgr-0',
    );
    expect(f?.evidence).toMatchObject({
      exposedTargets: ['i-1 (54.1.2.3)'],
      targetGroups: ['app'],
    });
  });

  it('WARNs, not FAILs, the same rule on a target without a public address', () => {
    const r = opened([{ cidrIpv4: '0.0.0.0/0' }]);
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toMatch(
      /allows port 8080 of targets i-1 from 0\.0\.0\.0\/0; none of them has a public address for it/,
    );
  });

  it.each([
    ['::/0 on a host with IPv4 only', 'WARN', [{ cidrIpv6: '::/0' }], { publicIpv4: '54.1.2.3' }],
    [
      '::/0 on a host with an IPv6 address, its subnet routing IPv6 to an internet gateway',
      'FAIL',
      [{ cidrIpv6: '::/0' }],
      { ipv6: ['2600:1f18::5'] },
    ],
    [
      'a public /8 (as wide as 0.0.0.0/0 for the audit)',
      'FAIL',
      [{ cidrIpv4: '44.0.0.0/8' }],
      { publicIpv4: '54.1.2.3' },
    ],
    ['an office /32', 'WARN', [{ cidrIpv4: '198.51.100.7/32' }], { publicIpv4: '54.1.2.3' }],
    [
      'all traffic (-1) from 0.0.0.0/0',
      'FAIL',
      [{ protocol: '-1', fromPort: -1, toPort: -1, cidrIpv4: '0.0.0.0/0' }],
      { publicIpv4: '54.1.2.3' },
    ],
    [
      'SSH only from 0.0.0.0/0 (not the app port)',
      'PASS',
      [{ fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' }],
      { publicIpv4: '54.1.2.3' },
    ],
    [
      'UDP on the port from 0.0.0.0/0',
      'PASS',
      [{ protocol: 'udp', cidrIpv4: '0.0.0.0/0' }],
      { publicIpv4: '54.1.2.3' },
    ],
  ])('%s: %s', (_n, expected, rules, host) => {
    expect(opened(rules, host).status).toBe(expected);
  });

  /** `opened` with the subnet's routes replaced by `routes`. */
  const routedBy = (
    routes: Targets['routes'],
    rules: Partial<SecurityGroupRuleInfo>[],
    host: { publicIpv4?: string; ipv6?: string[] },
  ) => opened(rules, host, {}, new Map(), routes);
  const tableOf = (internetIpv4: boolean, internetIpv6: boolean): Targets['routes'] => ({
    ok: true,
    value: new Map([['subnet-1', { routeTableId: 'rtb-1', internetIpv4, internetIpv6 }]]),
  });

  it('WARNs, not FAILs, a public IPv4 address in a subnet with no route to an internet gateway', () => {
    const r = routedBy(tableOf(false, false), [{ cidrIpv4: '0.0.0.0/0' }], {
      publicIpv4: '54.1.2.3',
    });
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toMatch(
      /none of them has a public address for it in a subnet that routes to an internet gateway/,
    );
  });

  it('WARNs ::/0 on an IPv6 target whose subnet routes IPv6 only through an egress-only gateway', () => {
    const r = routedBy(tableOf(true, false), [{ cidrIpv6: '::/0' }], { ipv6: ['2600:1f18::5'] });
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toMatch(/none of them has a public address for it/);
  });

  it('says why ::/0 on an IPv6 target is only a WARN when the routes could not be read, and marks the check incomplete', () => {
    const skip = {
      reason: 'access-denied' as const,
      message: 'Access denied to ec2:DescribeRouteTables',
      missingAction: 'ec2:DescribeRouteTables',
    };
    const r = routedBy({ ok: false, skip }, [{ cidrIpv6: '::/0' }], { ipv6: ['2600:1f18::5'] });
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toBe(
      'sgr-0 in sg-app allows port 8080 from ::/0, and targets i-1 (2600:1f18::5) have an IPv6 address: anyone can reach the app around the ALB (its header rule) and CloudFront, unless their subnets route IPv6 only through an egress-only internet gateway (their route tables could not be read)',
    );
    expect(r.incomplete).toEqual(skip);
    // IPv4 stays a FAIL without the routes: a public address is taken as reachable.
    const v4 = routedBy({ ok: false, skip }, [{ cidrIpv4: '0.0.0.0/0' }], {
      publicIpv4: '54.1.2.3',
    });
    expect(v4.status).toBe('FAIL');
  });

  it('judges the health-check port too', () => {
    const r = opened(
      [{ referencedGroupId: 'sg-1' }, { fromPort: 9000, toPort: 9000, cidrIpv4: '0.0.0.0/0' }],
      { publicIpv4: '54.1.2.3' },
      { healthCheckPort: 9000 },
    );
    expect(r.status).toBe('FAIL');
    expect(r.findings.find((f) => f.status === 'FAIL')?.message).toMatch(/allows port 9000 from/);
  });

  /** A rule from prefix list `id` on a host with a public address, with `lists` read. */
  const fromList = (id: string, lists: Targets['prefixLists']) =>
    opened([{ prefixListId: id }], { publicIpv4: '54.1.2.3' }, {}, lists);

  it("WARNs the CloudFront list on a target: every distribution, not only yours, skips the ALB's header rule", () => {
    const cloudFront = {
      id: 'pl-cf',
      name: 'com.amazonaws.global.cloudfront.origin-facing',
      addressFamily: 'IPv4' as const,
      maxEntries: 55,
    };
    const r = fromList('pl-cf', new Map([['pl-cf', cloudFront]]));
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toMatch(
      /every CloudFront distribution, not only yours, can reach the app/,
    );
  });

  it('judges a customer-managed list by its entries, and marks the check incomplete when they cannot be read', () => {
    const run = (entries: Gathered<readonly string[]>) =>
      fromList(
        'pl-mine',
        new Map([
          [
            'pl-mine',
            {
              id: 'pl-mine',
              name: 'office',
              addressFamily: 'IPv4' as const,
              maxEntries: 5,
              entries,
            },
          ],
        ]),
      );
    expect(run({ ok: true, value: ['10.0.0.0/8', '0.0.0.0/0'] }).status).toBe('FAIL');
    expect(run({ ok: true, value: ['10.0.0.0/8'] }).status).toBe('PASS');
    const skip = {
      reason: 'access-denied' as const,
      message: 'denied',
      missingAction: 'ec2:GetManagedPrefixListEntries',
    };
    const unread = run({ ok: false, skip });
    expect(unread.status).toBe('WARN');
    expect(unread.incomplete).toEqual(skip);
    // A list that could not be described at all is not judged either.
    const undescribed = fromList('pl-gone', new Map());
    expect(undescribed.status).toBe('WARN');
    expect(undescribed.incomplete?.message).toMatch(
      /pl-gone, which sgr-0 allows, could not be described/,
    );
  });

  it('names every target behind one open rule in one finding', () => {
    const r = withTargets((t) => ({
      ...t,
      groups: t.groups.map((g) => ({
        ...g,
        targets: ['i-1', 'i-2', 'i-3'].map((id, n) =>
          appTarget(id, n === 2 ? undefined : `54.1.2.${n + 1}`),
        ),
      })),
      securityGroups: [
        {
          id: 'sg-app',
          name: 'app',
          inbound: [
            {
              id: 'sgr-open',
              groupId: 'sg-app',
              protocol: 'tcp',
              fromPort: 8080,
              toPort: 8080,
              cidrIpv4: '0.0.0.0/0',
            },
          ],
        },
      ],
    }));
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]?.message).toContain(
      'targets i-1 (54.1.2.1), i-2 (54.1.2.2) have a public address',
    );
    expect(r.findings[0]?.evidence).toMatchObject({
      targets: ['i-1 (54.1.2.1)', 'i-2 (54.1.2.2)', 'i-3'],
    });
  });

  it("names the interface and delegated prefix that hold an exposed IP target's address", () => {
    const r = withTargets((t) => ({
      ...t,
      groups: [
        {
          arn: 'arn:tg-ip',
          name: 'pods',
          targetType: 'ip',
          targets: [
            {
              id: '2600:1f18::1:0:0:7',
              port: 8080,
              healthCheckPort: undefined,
              availabilityZone: 'us-east-1a',
              hosts: [
                {
                  resourceId: 'eni-node',
                  securityGroupIds: ['sg-app'],
                  publicIpv4: undefined,
                  ipv6: ['2600:1f18::1:0:0:7'],
                  subnetId: 'subnet-1',
                  vpcId: 'vpc-1',
                  delegatedPrefix: '2600:1f18:0:0:1::/80',
                },
              ],
            },
          ],
        },
      ],
      securityGroups: [
        {
          id: 'sg-app',
          name: 'app',
          inbound: [
            {
              id: 'sgr-0',
              groupId: 'sg-app',
              protocol: 'tcp',
              fromPort: 8080,
              toPort: 8080,
              cidrIpv6: '::/0',
            },
          ],
        },
      ],
    }));
    expect(r.status).toBe('FAIL');
    expect(r.findings.map((f) => f.message)).toEqual([
      "sgr-0 in sg-app allows port 8080 from ::/0, and targets 2600:1f18::1:0:0:7 (2600:1f18::1:0:0:7, in eni-node's delegated prefix 2600:1f18:0:0:1::/80) have an IPv6 address: anyone can reach the app around the ALB (its header rule) and CloudFront",
    ]);
  });

  it('WARNs targets it cannot judge: outside the VPC, or unknown to EC2', () => {
    const r = withTargets((t) => ({
      ...t,
      groups: [
        {
          arn: 'arn:tg-ip',
          name: 'ip-app',
          targetType: 'ip',
          targets: [
            {
              id: '192.168.1.5',
              port: 8080,
              healthCheckPort: undefined,
              availabilityZone: 'all',
              hosts: [],
            },
            {
              id: '10.0.9.9',
              port: 8080,
              healthCheckPort: undefined,
              availabilityZone: 'us-east-1a',
              hosts: [],
            },
          ],
        },
      ],
    }));
    expect(r.status).toBe('WARN');
    expect(r.findings.map((f) => f.message)).toEqual([
      'IP target 192.168.1.5 of ip-app is outside the VPC (no network interface of this account holds it): no security group the audit can read guards port 8080',
      "Target 10.0.9.9 of ip-app is held by no network interface of this account in the target group's VPC, as an address or in a delegated prefix: not judged",
    ]);
    expect(r.findings[1]?.fix).toBe(
      'If it is gone, deregister it: aws elbv2 deregister-targets --target-group-arn arn:tg-ip --targets Id=10.0.9.9,Port=8080',
    );
  });

  it('WARNs, and marks the check incomplete, when a host security group was not read', () => {
    const r = withTargets((t) => ({ ...t, securityGroups: [] }));
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toBe(
      'security group sg-app of i-1 was not returned by DescribeSecurityGroups: its rules on port 8080 of i-1 (app) were not judged',
    );
    expect(r.incomplete?.reason).toBe('error');
  });

  it("gives a fix that never revokes the ALB's own group, and names the other ports a wide rule opened", () => {
    const shared = withTargets((t) => ({
      ...t,
      groups: t.groups.map((g) => ({
        ...g,
        targets: g.targets.map((x) => ({
          ...x,
          hosts: x.hosts.map((h) => ({ ...h, securityGroupIds: ['sg-1'], publicIpv4: '54.1.2.3' })),
        })),
      })),
      securityGroups: [
        {
          id: 'sg-1',
          name: 'alb',
          inbound: [
            {
              id: 'sgr-w',
              groupId: 'sg-1',
              protocol: 'tcp',
              fromPort: 8080,
              toPort: 8080,
              cidrIpv4: '0.0.0.0/0',
            },
          ],
        },
      ],
    }));
    const fix = shared.findings.find((f) => f.status === 'FAIL')?.fix;
    expect(fix).toMatch(
      /^sg-1 is the ALB's security group too: give the targets a security group of their own/,
    );
    expect(fix).not.toContain('revoke-security-group-ingress');
    const wide = opened(
      [{ fromPort: 22, toPort: 9000, cidrIpv4: '0.0.0.0/0' }],
      { publicIpv4: '54.1.2.3' },
      { healthCheckPort: 8443 },
    );
    const wideFix = wide.findings.find((f) => f.status === 'FAIL')?.fix;
    expect(wideFix).toContain(
      "--ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=sg-1}] IpProtocol=tcp,FromPort=8443,ToPort=8443,UserIdGroupPairs=[{GroupId=sg-1}]'",
    );
    expect(wideFix).toContain(
      '(it covers ports 22-9000: add back, from where they are needed, the other ports it opened)',
    );
  });

  it('WARNs an interface with no security group, and marks the check incomplete', () => {
    const r = withTargets((t) => ({
      ...t,
      groups: t.groups.map((g) => ({
        ...g,
        targets: g.targets.map((x) => ({
          ...x,
          hosts: x.hosts.map((h) => ({ ...h, securityGroupIds: [] })),
        })),
      })),
    }));
    expect(r.status).toBe('WARN');
    expect(r.findings[0]?.message).toBe(
      'i-1 has no security group the audit could read (an interface AWS manages?): port 8080 of i-1 (app) was not judged',
    );
    expect(r.incomplete?.reason).toBe('error');
  });

  it('passes a Lambda target group, and a load balancer with no target group', () => {
    const lambda = withTargets((t) => ({
      ...t,
      groups: [{ arn: 'arn:tg-l', name: 'fn', targetType: 'lambda', targets: [] }],
    }));
    expect(lambda.status).toBe('PASS');
    expect(lambda.findings[0]?.message).toBe(
      'Target group fn sends to a Lambda function: not reachable by address around the ALB',
    );
    const none = withTargets((t) => ({ ...t, groups: [] }));
    expect(none.findings[0]?.message).toBe('The load balancer forwards to no target group');
  });

  it('is skipped, and the audit incomplete, when the targets cannot be read', () => {
    const skip = {
      reason: 'access-denied' as const,
      message: 'Access denied to ec2:DescribeInstances',
      missingAction: 'ec2:DescribeInstances',
    };
    const r = statusOf(snapshot({ targets: { ok: false, skip } }), 'targets');
    expect(r.status).toBe('SKIPPED');
    expect(r.skipped).toEqual(skip);
  });
});

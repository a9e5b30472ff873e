/**
 * The `targets` check over the wire: the load balancer's target groups and targets (ELBv2), the
 * hosts they run on (EC2 instances and network interfaces) and those hosts' security groups,
 * read by the real SDK clients from the local AWS endpoint.
 */

import { renderTable, runAudit } from '@cdn-origin-guard/audit';
import { afterEach, describe, expect, it } from 'vitest';
import { forward } from '../aws-local/index.js';
import type { Hole } from './scenarios.js';
import { type Account, openAccount } from './support.js';

let account: Account | undefined;
afterEach(async () => {
  await account?.close();
  account = undefined;
});

async function open(holes: readonly Hole[] = []): Promise<Account> {
  account = await openAccount(holes);
  return account;
}

type Report = Awaited<ReturnType<typeof runAudit>>;
const auditOf = (a: Account) =>
  runAudit({ loadBalancer: a.scenario.albName, secretId: a.scenario.secretId });
const targetsOf = (report: Report) => report.checks.find((c) => c.id === 'targets');

/** The tasks' security group `sg-0tasks`, admitting their port 3000 from `source`. */
function openTasksGroup(a: Account, source: { cidrIpv4: string } | { cidrIpv6: string }): void {
  a.aws.ec2.securityGroups.set({ id: 'sg-0tasks', inbound: [{ port: 3000, ...source }] });
}

/** A second target group of IP targets (tasks), forwarded to by the listener's default rule. */
function addIpTargetGroup(
  a: Account,
  options: { healthCheckPort?: string; ipAddressType?: 'ipv4' | 'ipv6' } = {},
) {
  const group = a.aws.elbv2.addTargetGroup({
    name: 'tasks',
    port: 3000,
    targetType: 'ip',
    ...(options.healthCheckPort === undefined ? {} : { healthCheckPort: options.healthCheckPort }),
    ...(options.ipAddressType === undefined ? {} : { ipAddressType: options.ipAddressType }),
  });
  // A header rule of its own (the scenario's header condition, on /tasks/*), so the listener
  // rules stay correct.
  const header = a.aws.elbv2.rules(a.scenario.listenerArn).find((r) => r.priority === 10);
  a.aws.elbv2.addRule(a.scenario.listenerArn, {
    priority: 20,
    conditions: [
      ...(header?.conditions ?? []),
      { Field: 'path-pattern', PathPatternConfig: { Values: ['/tasks/*'] } },
    ],
    actions: [forward(group.arn)],
  });
  return group;
}

describe('audit targets', () => {
  it('passes the correct account: the instance admits the ALB security group alone', async () => {
    const a = await open();

    const report = await auditOf(a);

    const targets = targetsOf(report);
    expect(targets?.status).toBe('PASS');
    expect(targets?.findings.map((f) => f.message)).toEqual([
      'Target group story-alb-app: 1 target on port 8080, none open to a public address (their security groups allow security groups and private ranges only)',
    ]);
    expect(a.aws.callCount('elbv2.DescribeTargetGroups')).toBe(1);
    expect(a.aws.callCount('elbv2.DescribeTargetHealth')).toBe(1);
    expect(a.aws.callCount('ec2.DescribeInstances')).toBe(1);
  });

  it('FAILs an instance with a public address whose group admits 8080 from 0.0.0.0/0', async () => {
    const a = await open(['open-target']);

    const report = await auditOf(a);

    const failed = targetsOf(report)?.findings.find((f) => f.status === 'FAIL');
    expect(failed?.message).toMatch(
      new RegExp(
        `in ${a.scenario.app.securityGroupId} allows port 8080 from 0\\.0\\.0\\.0/0, and targets ${a.scenario.app.instanceId} \\(54\\.210\\.33\\.7\\) have a public address: anyone can reach the app around the ALB`,
      ),
    );
    expect(failed?.fix).toContain(
      `--group-id ${a.scenario.app.securityGroupId} --ip-permissions 'IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{GroupId=${a.scenario.securityGroupId}}]'`,
    );
    expect(report.exitCode).toBe(1);
    expect(renderTable(report)).toMatch(/Targets behind the ALB\s+FAIL/);
  });

  it('finds IP targets through their network interfaces, and judges the health-check port', async () => {
    const a = await open();
    const group = addIpTargetGroup(a, { healthCheckPort: '9000' });
    a.aws.ec2.securityGroups.set({
      id: 'sg-0tasks',
      inbound: [
        { port: 3000, referencedGroupId: a.scenario.securityGroupId },
        { port: 9000, cidrIpv4: '0.0.0.0/0' },
      ],
    });
    a.aws.ec2.hosts.setNetworkInterface({
      privateIp: '10.0.2.40',
      securityGroupIds: ['sg-0tasks'],
      publicIp: '3.91.7.7',
    });
    a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.2.40' }]);

    const report = await auditOf(a);

    const targets = targetsOf(report);
    expect(targets?.status).toBe('FAIL');
    const failed = targets?.findings.filter((f) => f.status === 'FAIL');
    expect(failed?.map((f) => f.message)).toEqual([
      expect.stringMatching(
        /in sg-0tasks allows port 9000 from 0\.0\.0\.0\/0, and targets 10\.0\.2\.40 \(3\.91\.7\.7\) have a public address/,
      ),
    ]);
    // The interface's own group judged on the health-check port alone (port 3000 admits the
    // ALB's group), and the address it holds named as the exposed target.
    expect(failed?.[0]?.evidence).toMatchObject({
      group: 'sg-0tasks',
      ports: [9000],
      targetGroups: ['tasks'],
      exposedTargets: ['10.0.2.40 (3.91.7.7)'],
      targets: ['10.0.2.40 (3.91.7.7)'],
    });
    expect(targets?.findings.map((f) => f.message)).toContainEqual(
      expect.stringMatching(/^Target group story-alb-app: 1 target on port 8080, none open/),
    );
    expect(a.aws.callCount('ec2.DescribeNetworkInterfaces')).toBe(1);
  });

  // AvailabilityZone `all` marks an address outside the VPC, but one inside may carry it too
  // (ELBv2 API reference: with cross-zone load balancing on, the zone is treated as `all`).
  it('judges an IP target registered with AvailabilityZone all that a network interface holds', async () => {
    const a = await open();
    const group = addIpTargetGroup(a);
    openTasksGroup(a, { cidrIpv4: '0.0.0.0/0' });
    a.aws.ec2.hosts.setNetworkInterface({
      privateIp: '10.0.2.41',
      securityGroupIds: ['sg-0tasks'],
      publicIp: '3.91.7.8',
    });
    a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.2.41', availabilityZone: 'all' }]);

    const report = await auditOf(a);

    expect(targetsOf(report)?.status).toBe('FAIL');
    expect(targetsOf(report)?.findings.find((f) => f.status === 'FAIL')?.message).toMatch(
      /targets 10\.0\.2\.41 \(3\.91\.7\.8\) have a public address/,
    );
  });

  it('WARNs a registered instance EC2 no longer knows, and an IP target outside the VPC', async () => {
    const a = await open();
    a.aws.elbv2.registerTargets(a.scenario.app.targetGroupArn, [{ id: 'i-0deadbeef00000000' }]);
    const group = addIpTargetGroup(a);
    a.aws.elbv2.registerTargets(group.arn, [{ id: '192.168.50.5', availabilityZone: 'all' }]);

    const report = await auditOf(a);

    const messages = targetsOf(report)?.findings.map((f) => f.message);
    expect(messages).toContain(
      'Target i-0deadbeef00000000 of story-alb-app is not known to EC2 (terminated?): not judged',
    );
    expect(messages).toContain(
      'IP target 192.168.50.5 of tasks is outside the VPC (no network interface of this account holds it): no security group the audit can read guards port 3000',
    );
    expect(targetsOf(report)?.status).toBe('WARN');
    expect(report.exitCode).toBe(0);
  });

  it("reads the subnet's route table: a public address with no route to an internet gateway is a WARN", async () => {
    const a = await open(['open-target']);
    // The instance's subnet gets a table of its own: the internet only through a NAT gateway.
    a.aws.ec2.hosts.setRouteTable({
      subnetIds: ['subnet-0local'],
      routes: [
        { destinationCidrBlock: '10.0.0.0/16', gatewayId: 'local' },
        { destinationCidrBlock: '0.0.0.0/0', natGatewayId: 'nat-0local' },
      ],
    });

    const report = await auditOf(a);

    const targets = targetsOf(report);
    expect(targets?.status).toBe('WARN');
    expect(targets?.findings[0]?.message).toMatch(
      /none of them has a public address for it in a subnet that routes to an internet gateway/,
    );
    expect(report.exitCode).toBe(0);
    // The explicit association answered: no lookup of the VPC's main table.
    expect(a.aws.callCount('ec2.DescribeRouteTables')).toBe(1);
  });

  it.each([
    ['an internet gateway', 'FAIL', { gatewayId: 'igw-0local' }],
    ['an egress-only internet gateway', 'WARN', { egressOnlyInternetGatewayId: 'eigw-0local' }],
  ])('::/0 on an IPv6 task whose subnet routes IPv6 through %s: %s', async (_n, expected, via) => {
    const a = await open();
    const group = addIpTargetGroup(a);
    openTasksGroup(a, { cidrIpv6: '::/0' });
    a.aws.ec2.hosts.setNetworkInterface({
      privateIp: '10.0.3.7',
      securityGroupIds: ['sg-0tasks'],
      ipv6: ['2600:1f18:aaaa::7'],
      subnetId: 'subnet-0v6',
    });
    a.aws.ec2.hosts.setRouteTable({
      subnetIds: ['subnet-0v6'],
      routes: [{ destinationIpv6CidrBlock: '::/0', ...via }],
    });
    a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.3.7' }]);

    const report = await auditOf(a);

    expect(targetsOf(report)?.status).toBe(expected);
  });

  // Review, 5 December: the target's id and the interface's addresses were compared as text, so
  // an IPv6 target registered in another spelling than EC2 writes was "held by no interface".
  it('finds an IPv6 target registered in another spelling than EC2 writes the address', async () => {
    const a = await open();
    const group = addIpTargetGroup(a, { ipAddressType: 'ipv6' });
    openTasksGroup(a, { cidrIpv6: '::/0' });
    a.aws.ec2.hosts.setNetworkInterface({
      privateIp: '10.0.3.9',
      securityGroupIds: ['sg-0tasks'],
      ipv6: ['2001:db8::1'],
    });
    a.aws.elbv2.registerTargets(group.arn, [{ id: '2001:0db8:0:0:0:0:0:1' }]);

    const report = await auditOf(a);

    const targets = targetsOf(report);
    expect(targets?.status).toBe('FAIL');
    expect(targets?.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/^Target group story-alb-app: 1 target on port 8080, none open/),
      expect.stringMatching(
        /in sg-0tasks allows port 3000 from ::\/0, and targets 2001:0db8:0:0:0:0:0:1 \(2001:db8::1\) have an IPv6 address: anyone can reach the app/,
      ),
    ]);
  });

  it('judges without the routes when DescribeRouteTables is denied: IPv4 still FAILs, the check is incomplete', async () => {
    const a = await open(['open-target']);
    a.aws.faults.set({ accessDenied: true, actions: ['ec2.DescribeRouteTables'] });

    const report = await auditOf(a);

    const targets = targetsOf(report);
    expect(targets?.status).toBe('FAIL');
    expect(targets?.incomplete).toMatchObject({ missingAction: 'ec2:DescribeRouteTables' });
  });

  // Review, 5 December: only the primary interface was read; the app listens on all of them.
  it('FAILs an instance reachable through a second interface with an Elastic IP and its own open group', async () => {
    const a = await open();
    a.aws.ec2.securityGroups.set({
      id: 'sg-0mgmt',
      inbound: [{ port: 8080, cidrIpv4: '0.0.0.0/0' }],
    });
    a.aws.ec2.hosts.setInstance({
      id: a.scenario.app.instanceId,
      securityGroupIds: [a.scenario.app.securityGroupId],
      extraInterfaces: [
        { id: 'eni-0second', securityGroupIds: ['sg-0mgmt'], publicIp: '18.1.2.3' },
      ],
    });

    const report = await auditOf(a);

    const failed = targetsOf(report)?.findings.find((f) => f.status === 'FAIL');
    expect(failed?.message).toMatch(
      new RegExp(
        `in sg-0mgmt allows port 8080 from 0\\.0\\.0\\.0/0, and targets ${a.scenario.app.instanceId} \\(18\\.1\\.2\\.3, through eni-0second\\) have a public address`,
      ),
    );
  });

  // The public address of a secondary private address, as DescribeInstances lists it in each
  // interface's privateIpAddressesSet: the primary interface's, and another interface's.
  it('FAILs an instance reached on an Elastic IP of a secondary private address of either interface', async () => {
    const a = await open(['open-target']);
    a.aws.ec2.securityGroups.set({
      id: 'sg-0mgmt',
      inbound: [{ port: 8080, cidrIpv4: '0.0.0.0/0' }],
    });
    a.aws.ec2.hosts.setInstance({
      id: a.scenario.app.instanceId,
      securityGroupIds: [a.scenario.app.securityGroupId],
      privateIp: '10.0.1.25',
      secondaryPrivateIps: [
        { privateIp: '10.0.1.26' },
        { privateIp: '10.0.1.27', publicIp: '44.200.1.9' },
      ],
      extraInterfaces: [
        {
          id: 'eni-0second',
          securityGroupIds: ['sg-0mgmt'],
          privateIp: '10.0.1.30',
          secondaryPrivateIps: [{ privateIp: '10.0.1.31', publicIp: '18.1.2.4' }],
        },
      ],
    });

    const report = await auditOf(a);

    const failed = targetsOf(report)?.findings.filter((f) => f.status === 'FAIL');
    const id = a.scenario.app.instanceId;
    expect(failed?.map((f) => f.evidence.exposedTargets)).toEqual([
      [`${id} (44.200.1.9)`],
      [`${id} (18.1.2.4, through eni-0second)`],
    ]);
  });

  it('judges an IP target on a secondary private address of its interface', async () => {
    const a = await open();
    const group = addIpTargetGroup(a);
    openTasksGroup(a, { cidrIpv4: '0.0.0.0/0' });
    a.aws.ec2.hosts.setNetworkInterface({
      privateIp: '10.0.2.70',
      securityGroupIds: ['sg-0tasks'],
      secondaryPrivateIps: [{ privateIp: '10.0.2.77', publicIp: '3.91.7.9' }],
    });
    a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.2.77' }]);

    const report = await auditOf(a);

    expect(targetsOf(report)?.status).toBe('FAIL');
    expect(targetsOf(report)?.findings.find((f) => f.status === 'FAIL')?.message).toMatch(
      /in sg-0tasks allows port 3000 from 0\.0\.0\.0\/0, and targets 10\.0\.2\.77 \(3\.91\.7\.9\) have a public address/,
    );
  });

  // The audit asks for pages (MaxResults) and follows NextToken; EC2 may answer fewer items than
  // asked, so here each instance and each interface comes on a page of its own.
  it('reads instances and network interfaces across pages', async () => {
    const a = await open(['open-target']);
    a.aws.ec2.hosts.setPageSize(1);
    a.aws.ec2.hosts.setInstance({
      id: 'i-0second000000000',
      securityGroupIds: [a.scenario.app.securityGroupId],
      publicIp: '54.210.33.8',
    });
    a.aws.elbv2.registerTargets(a.scenario.app.targetGroupArn, [{ id: 'i-0second000000000' }]);
    const group = addIpTargetGroup(a);
    openTasksGroup(a, { cidrIpv4: '0.0.0.0/0' });
    for (const n of [1, 2])
      a.aws.ec2.hosts.setNetworkInterface({
        privateIp: `10.0.2.${n}`,
        securityGroupIds: ['sg-0tasks'],
        publicIp: `3.91.8.${n}`,
      });
    a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.2.1' }, { id: '10.0.2.2' }]);

    const report = await auditOf(a);

    const failed = targetsOf(report)?.findings.filter((f) => f.status === 'FAIL');
    expect(failed?.map((f) => f.evidence.exposedTargets)).toEqual([
      [`${a.scenario.app.instanceId} (54.210.33.7)`, 'i-0second000000000 (54.210.33.8)'],
      ['10.0.2.1 (3.91.8.1)', '10.0.2.2 (3.91.8.2)'],
    ]);
    expect(a.aws.callCount('ec2.DescribeInstances')).toBe(2);
    expect(a.aws.callCount('ec2.DescribeNetworkInterfaces')).toBe(2);
  });

  // Review, 5 December: an address from a prefix delegated to an interface (EKS, ECS) is held by
  // no interface as an address, and was "not judged"; it is judged with that interface's groups.
  describe('an IP target inside a prefix delegated to a node interface', () => {
    it('FAILs an IPv6 pod address when its subnet routes ::/0 to an internet gateway, naming the interface and prefix', async () => {
      const a = await open();
      const group = addIpTargetGroup(a, { ipAddressType: 'ipv6' });
      a.aws.ec2.securityGroups.set({
        id: 'sg-0node',
        inbound: [{ port: 3000, cidrIpv6: '::/0' }],
      });
      a.aws.ec2.hosts.setNetworkInterface({
        id: 'eni-0node',
        privateIp: '10.0.4.10',
        securityGroupIds: ['sg-0node'],
        ipv6: ['2600:1f18:aaaa:4::10'],
        ipv6Prefixes: ['2600:1f18:aaaa:4:1::/80'],
      });
      a.aws.elbv2.registerTargets(group.arn, [{ id: '2600:1f18:aaaa:4:1:0:0:7' }]);

      const report = await auditOf(a);

      const targets = targetsOf(report);
      expect(targets?.status).toBe('FAIL');
      expect(targets?.findings.find((f) => f.status === 'FAIL')?.evidence).toMatchObject({
        group: 'sg-0node',
        ports: [3000],
        targetGroups: ['tasks'],
        exposedTargets: [
          "2600:1f18:aaaa:4:1:0:0:7 (2600:1f18:aaaa:4:1::7, in eni-0node's delegated prefix 2600:1f18:aaaa:4:1::/80)",
        ],
      });
      expect(targets?.findings.map((f) => f.message).join('\n')).not.toMatch(/not judged/);
    });

    it("WARNs an IPv4 pod address: the node's public address is not the pod's, read across pages of the VPC's interfaces", async () => {
      const a = await open();
      a.aws.ec2.hosts.setPageSize(1);
      const group = addIpTargetGroup(a);
      a.aws.ec2.securityGroups.set({
        id: 'sg-0node',
        inbound: [{ port: 3000, cidrIpv4: '0.0.0.0/0' }],
      });
      a.aws.ec2.hosts.setNetworkInterface({
        privateIp: '10.0.5.9',
        securityGroupIds: ['sg-0node'],
        ipv4Prefixes: ['10.0.5.32/28'],
      });
      a.aws.ec2.hosts.setNetworkInterface({
        id: 'eni-0node',
        privateIp: '10.0.5.10',
        securityGroupIds: ['sg-0node'],
        publicIp: '3.91.9.9',
        ipv4Prefixes: ['10.0.5.16/28'],
      });
      a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.5.20' }]);

      const report = await auditOf(a);

      const targets = targetsOf(report);
      expect(targets?.status).toBe('WARN');
      expect(targets?.findings.map((f) => f.message)).toContainEqual(
        expect.stringMatching(
          /allows port 3000 of targets 10\.0\.5\.20 from 0\.0\.0\.0\/0; none of them has a public address for it/,
        ),
      );
      // One lookup by address (no match), then the VPC's two interfaces, one page each.
      expect(a.aws.callCount('ec2.DescribeNetworkInterfaces')).toBe(3);
    });

    it('leaves an address in no delegated prefix not judged, saying it looked in prefixes too', async () => {
      const a = await open();
      const group = addIpTargetGroup(a);
      a.aws.ec2.hosts.setNetworkInterface({
        privateIp: '10.0.5.10',
        securityGroupIds: ['sg-0node'],
        ipv4Prefixes: ['10.0.5.16/28'],
      });
      a.aws.elbv2.registerTargets(group.arn, [{ id: '10.0.5.40' }]);

      const report = await auditOf(a);

      expect(targetsOf(report)?.findings.map((f) => f.message)).toContain(
        "Target 10.0.5.40 of tasks is held by no network interface of this account in the target group's VPC, as an address or in a delegated prefix: not judged",
      );
    });
  });

  it.each([
    ['ec2.DescribeInstances', 'ec2:DescribeInstances'],
    ['elbv2.DescribeTargetHealth', 'elasticloadbalancing:DescribeTargetHealth'],
  ])(
    'is SKIPPED, and the audit INCOMPLETE (exit 3), when %s is denied',
    async (action, missing) => {
      const a = await open();
      a.aws.faults.set({ accessDenied: true, actions: [action] });

      const report = await auditOf(a);

      expect(targetsOf(report)?.skipped).toMatchObject({
        reason: 'access-denied',
        missingAction: missing,
      });
      expect(report).toMatchObject({ status: 'INCOMPLETE', exitCode: 3 });
      expect(report.checks.find((c) => c.id === 'security-groups')?.status).toBe('PASS');
    },
  );
});

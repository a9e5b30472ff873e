/**
 * The local endpoint's additions for the audit, read with the real SDK clients: EC2 security
 * groups and rules, prefix-list MaxEntries, Service Quotas GetServiceQuota.
 */
import {
  DescribeManagedPrefixListsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_PREFIX_LIST_V4,
  type LocalAws,
  startLocalAws,
} from '../aws-local/index.js';

let aws: LocalAws;
let ec2: EC2Client;
let quotas: ServiceQuotasClient;
const config = () => ({
  endpoint: aws.url,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
});

beforeAll(async () => {
  aws = await startLocalAws();
  ec2 = new EC2Client(config());
  quotas = new ServiceQuotasClient(config());
});
afterAll(async () => {
  ec2.destroy();
  quotas.destroy();
  await aws.close();
});

describe('local EC2 security groups', () => {
  it('groups rules into IpPermissions with IpRanges, Ipv6Ranges, PrefixListIds and UserIdGroupPairs', async () => {
    aws.ec2.securityGroups.set({
      id: 'sg-1',
      name: 'alb',
      inbound: [
        { port: 443, cidrIpv4: '0.0.0.0/0', description: 'world' },
        { port: 443, cidrIpv6: '::/0' },
        { port: 443, prefixListId: 'pl-1234' },
        { fromPort: 8000, toPort: 8100, referencedGroupId: 'sg-2' },
      ],
    });

    const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-1'] }));

    const group = out.SecurityGroups?.[0];
    expect(group?.GroupName).toBe('alb');
    const https = group?.IpPermissions?.find((p) => p.FromPort === 443);
    expect(https).toMatchObject({
      IpProtocol: 'tcp',
      ToPort: 443,
      IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'world' }],
      Ipv6Ranges: [{ CidrIpv6: '::/0' }],
      PrefixListIds: [{ PrefixListId: 'pl-1234' }],
    });
    const app = group?.IpPermissions?.find((p) => p.FromPort === 8000);
    expect(app?.UserIdGroupPairs?.[0]).toMatchObject({ GroupId: 'sg-2', UserId: '123456789012' });
    expect(group?.IpPermissionsEgress?.[0]).toMatchObject({
      IpProtocol: '-1',
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
  });

  it('lists one rule per item with its sgr- id, filtered by group and paginated', async () => {
    const ids = aws.ec2.securityGroups.set({
      id: 'sg-3',
      inbound: Array.from({ length: 5 }, (_, i) => ({ port: 443, cidrIpv4: `10.0.${i}.0/24` })),
      outbound: [],
    });

    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: 'group-id', Values: ['sg-3'] }],
          MaxResults: 2,
          NextToken: token,
        }),
      );
      for (const r of page.SecurityGroupRules ?? []) {
        expect(r).toMatchObject({
          GroupId: 'sg-3',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
        });
        seen.push(r.SecurityGroupRuleId ?? '');
      }
      token = page.NextToken;
    } while (token !== undefined);
    expect(seen).toEqual(ids.inbound);
  });

  it('answers InvalidGroup.NotFound for an unknown group', async () => {
    await expect(
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-nope'] })),
    ).rejects.toMatchObject({
      name: 'InvalidGroup.NotFound',
    });
  });

  it('reports a prefix list MaxEntries set apart from its entry count', async () => {
    aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4, {
      maxEntries: 55,
    });

    const out = await ec2.send(
      new DescribeManagedPrefixListsCommand({
        Filters: [{ Name: 'prefix-list-name', Values: [CLOUDFRONT_PREFIX_LIST_V4] }],
      }),
    );

    expect(out.PrefixLists?.[0]).toMatchObject({ MaxEntries: 55, AddressFamily: 'IPv4' });
    expect(CLOUDFRONT_ORIGIN_FACING_V4.length).toBeLessThan(55);
  });
});

describe('local Service Quotas', () => {
  const input = { ServiceCode: 'vpc', QuotaCode: 'L-0EA8095F' };

  it('returns a quota that was set, NoSuchResourceException for others, AccessDeniedException when denied', async () => {
    await expect(quotas.send(new GetServiceQuotaCommand(input))).rejects.toMatchObject({
      name: 'NoSuchResourceException',
    });

    aws.serviceQuotas.set('vpc', 'L-0EA8095F', 120, 'Inbound or outbound rules per security group');
    const out = await quotas.send(new GetServiceQuotaCommand(input));
    expect(out.Quota).toMatchObject({ Value: 120, QuotaCode: 'L-0EA8095F', ServiceCode: 'vpc' });
    expect(aws.callCount('servicequotas.GetServiceQuota')).toBe(2);

    aws.serviceQuotas.deny();
    await expect(quotas.send(new GetServiceQuotaCommand(input))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    aws.serviceQuotas.deny(false);
  });

  it('answers a throttling error the SDK recognises and retries', async () => {
    const retrying = new ServiceQuotasClient({ ...config(), maxAttempts: 2 });
    aws.faults.set({ throttle: true, actions: ['servicequotas'] });
    aws.resetCalls();
    try {
      await expect(retrying.send(new GetServiceQuotaCommand(input))).rejects.toMatchObject({
        name: 'TooManyRequestsException',
      });
      // A 400 that is not a throttling error is not retried: two calls prove the SDK saw one.
      expect(aws.callCount('servicequotas.GetServiceQuota')).toBe(2);
    } finally {
      aws.faults.clear();
      retrying.destroy();
    }
  });
});

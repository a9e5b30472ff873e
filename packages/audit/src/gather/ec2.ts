/**
 * Security groups, their inbound rules and the prefix lists they reference (EC2, read-only).
 * @module
 */
import {
  DescribeManagedPrefixListsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  GetManagedPrefixListEntriesCommand,
  type ManagedPrefixList,
} from '@aws-sdk/client-ec2';
import { CLOUDFRONT_PREFIX_LISTS } from '../constants.js';
import type { PrefixListInfo, SecurityGroupInfo, SecurityGroupRuleInfo } from '../types.js';
import { awsCode, gather, type Step } from './errors.js';
import { allPages } from './paging.js';

/** The groups with their inbound rules (DescribeSecurityGroups, DescribeSecurityGroupRules). */
export async function readSecurityGroups(
  client: EC2Client,
  groupIds: readonly string[],
  step: Step,
): Promise<SecurityGroupInfo[]> {
  if (groupIds.length === 0) return [];
  const groups = await step('ec2:DescribeSecurityGroups', () =>
    client.send(new DescribeSecurityGroupsCommand({ GroupIds: [...groupIds] })),
  );
  const rules: SecurityGroupRuleInfo[] = [];
  // EC2 takes at most 200 values in one filter (review, 5 December: the targets' groups may be more).
  for (let i = 0; i < groupIds.length; i += 200) {
    const chunk = groupIds.slice(i, i + 200);
    const groupRules = await allPages(
      step,
      {
        action: 'ec2:DescribeSecurityGroupRules',
        ask: (NextToken) =>
          client.send(
            new DescribeSecurityGroupRulesCommand({
              Filters: [{ Name: 'group-id', Values: [...chunk] }],
              NextToken,
            }),
          ),
        next: (out) => ({ token: out.NextToken }),
      },
      (out) => out.SecurityGroupRules,
    );
    for (const r of groupRules) {
      if (r.IsEgress === true) continue;
      rules.push({
        id: r.SecurityGroupRuleId ?? '',
        groupId: r.GroupId ?? '',
        protocol: r.IpProtocol ?? '-1',
        fromPort: r.FromPort ?? -1,
        toPort: r.ToPort ?? -1,
        cidrIpv4: r.CidrIpv4,
        cidrIpv6: r.CidrIpv6,
        prefixListId: r.PrefixListId,
        referencedGroupId: r.ReferencedGroupInfo?.GroupId,
      });
    }
  }
  return (groups.SecurityGroups ?? []).map((g) => ({
    id: g.GroupId ?? '',
    name: g.GroupName ?? '',
    inbound: rules.filter((r) => r.groupId === g.GroupId),
  }));
}

function toList(list: ManagedPrefixList): PrefixListInfo {
  return {
    id: list.PrefixListId ?? '',
    name: list.PrefixListName ?? '',
    addressFamily: list.AddressFamily === 'IPv6' ? 'IPv6' : 'IPv4',
    maxEntries: list.MaxEntries,
  };
}

/** Whether `list` is the CloudFront origin-facing list of its address family. */
function isCloudFrontList(list: Pick<PrefixListInfo, 'name' | 'addressFamily'>): boolean {
  return list.name === CLOUDFRONT_PREFIX_LISTS[list.addressFamily];
}

/**
 * DescribeManagedPrefixLists, every page. With `tolerateNotFound`, an unknown id
 * (`InvalidPrefixListID.NotFound`: deleted, or a RAM share withdrawn) gives no list instead of
 * failing the read.
 */
async function describeLists(
  client: EC2Client,
  input: { PrefixListIds?: string[]; Filters?: { Name: string; Values: string[] }[] },
  step: Step,
  tolerateNotFound = false,
): Promise<ManagedPrefixList[]> {
  return allPages(
    step,
    {
      action: 'ec2:DescribeManagedPrefixLists',
      ask: async (
        NextToken,
      ): Promise<{ PrefixLists?: ManagedPrefixList[]; NextToken?: string }> => {
        try {
          return await client.send(new DescribeManagedPrefixListsCommand({ ...input, NextToken }));
        } catch (error) {
          if (tolerateNotFound && /NotFound/.test(awsCode(error))) return { PrefixLists: [] };
          throw error;
        }
      },
      next: (page) => ({ token: page.NextToken }),
    },
    (page) => page.PrefixLists,
  );
}

/** GetManagedPrefixListEntries, every page: the list's CIDRs. */
async function readEntries(client: EC2Client, id: string, step: Step): Promise<string[]> {
  const entries = await allPages(
    step,
    {
      action: 'ec2:GetManagedPrefixListEntries',
      ask: (NextToken) =>
        client.send(new GetManagedPrefixListEntriesCommand({ PrefixListId: id, NextToken })),
      next: (page) => ({ token: page.NextToken }),
    },
    (page) => page.Entries,
  );
  return entries.flatMap((e) => (e.Cidr === undefined ? [] : [e.Cidr]));
}

/**
 * The CloudFront origin-facing lists (resolved by name in this region) and every other list the
 * rules reference, by id, each described on its own so an unknown id only leaves that list out.
 * Lists that are not CloudFront's carry their entries (or why they could not be read), so the
 * rules referencing them can be judged like CIDR rules.
 */
export async function readPrefixLists(
  client: EC2Client,
  groups: readonly SecurityGroupInfo[],
  step: Step,
): Promise<Map<string, PrefixListInfo>> {
  const lists = new Map<string, PrefixListInfo>();
  const byName = await describeLists(
    client,
    { Filters: [{ Name: 'prefix-list-name', Values: Object.values(CLOUDFRONT_PREFIX_LISTS) }] },
    step,
  );
  for (const l of byName) lists.set(l.PrefixListId ?? '', toList(l));
  const referenced = [
    ...new Set(
      groups.flatMap((g) => g.inbound.map((r) => r.prefixListId)).filter((id) => id !== undefined),
    ),
  ].filter((id) => !lists.has(id));
  for (const id of referenced) {
    for (const l of await describeLists(client, { PrefixListIds: [id] }, step, true)) {
      const list = toList(l);
      lists.set(
        list.id,
        isCloudFrontList(list)
          ? list
          : { ...list, entries: await gather((s) => readEntries(client, list.id, s)) },
      );
    }
  }
  return lists;
}

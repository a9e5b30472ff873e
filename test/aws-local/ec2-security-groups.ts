/**
 * Local EC2 security groups (query protocol, API version 2016-11-15): `DescribeSecurityGroups`
 * (rules grouped into IpPermissions with IpRanges, Ipv6Ranges, PrefixListIds and
 * UserIdGroupPairs) and `DescribeSecurityGroupRules` (one item per rule, with its `sgr-` id),
 * filtered by `group-id`, paginated with MaxResults/NextToken.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { escapeXml } from './reply.js';

/** One rule of {@link LocalSecurityGroupInput}. */
export interface LocalSecurityGroupRuleInput {
  /** Rule id. Defaults to a random `sgr-...`. */
  readonly id?: string;
  /** `tcp`, `udp`, `icmp` or `-1`. Defaults to `tcp`. */
  readonly protocol?: string;
  /** Shorthand for `fromPort` = `toPort` = `port`. */
  readonly port?: number;
  readonly fromPort?: number;
  readonly toPort?: number;
  /** Exactly one source: */
  readonly cidrIpv4?: string;
  readonly cidrIpv6?: string;
  readonly prefixListId?: string;
  readonly referencedGroupId?: string;
  readonly description?: string;
}

/** A security group to store. */
export interface LocalSecurityGroupInput {
  /** `sg-...` */
  readonly id: string;
  /** Defaults to the id. */
  readonly name?: string;
  /** Defaults to `vpc-0local`. */
  readonly vpcId?: string;
  readonly inbound?: readonly LocalSecurityGroupRuleInput[];
  /** Defaults to all traffic to 0.0.0.0/0, as a new group has. */
  readonly outbound?: readonly LocalSecurityGroupRuleInput[];
}

/** Test helpers to arrange security groups on the local endpoint. */
export interface LocalSecurityGroups {
  /** Create or replace a group; returns the rule ids, inbound first, in order. */
  set(group: LocalSecurityGroupInput): { inbound: string[]; outbound: string[] };
  remove(id: string): boolean;
  clear(): void;
}

interface StoredRule {
  readonly id: string;
  readonly groupId: string;
  readonly egress: boolean;
  readonly protocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrIpv4: string | undefined;
  readonly cidrIpv6: string | undefined;
  readonly prefixListId: string | undefined;
  readonly referencedGroupId: string | undefined;
  readonly description: string | undefined;
}

interface StoredGroup {
  readonly id: string;
  readonly name: string;
  readonly vpcId: string;
  readonly rules: readonly StoredRule[];
}

/** The calls the query-protocol handler needs: a problem is thrown as `[code, message]`. */
export interface QueryTools {
  indexed(params: URLSearchParams, name: string): string[];
  filters(params: URLSearchParams): { name: string; values: string[] }[];
  page(
    token: string | null,
    total: number,
    maxResults: number,
    scope: string,
  ): { start: number; end: number; nextToken: string | undefined };
  /**
   * `MaxResults` as a number, checked against the call's bounds (default 1 to 100); absent, the
   * most the bounds allow.
   */
  maxResults(raw: string | null, bounds?: { readonly min: number; readonly max: number }): number;
  fail(code: string, message: string): never;
}

export const OWNER_ID = '123456789012';

/** The security group store and its two Describe calls (bodies inside the response envelope). */
export class SecurityGroupStore implements LocalSecurityGroups {
  readonly #groups = new Map<string, StoredGroup>();

  set(group: LocalSecurityGroupInput): { inbound: string[]; outbound: string[] } {
    const toRule = (r: LocalSecurityGroupRuleInput, egress: boolean): StoredRule => {
      const protocol = r.protocol ?? 'tcp';
      const all = protocol === '-1';
      return {
        id: r.id ?? `sgr-${randomBytes(8).toString('hex')}`,
        groupId: group.id,
        egress,
        protocol,
        fromPort: all ? -1 : (r.fromPort ?? r.port ?? -1),
        toPort: all ? -1 : (r.toPort ?? r.port ?? -1),
        cidrIpv4: r.cidrIpv4,
        cidrIpv6: r.cidrIpv6,
        prefixListId: r.prefixListId,
        referencedGroupId: r.referencedGroupId,
        description: r.description,
      };
    };
    const inbound = (group.inbound ?? []).map((r) => toRule(r, false));
    const outbound = (group.outbound ?? [{ protocol: '-1', cidrIpv4: '0.0.0.0/0' }]).map((r) =>
      toRule(r, true),
    );
    this.#groups.set(group.id, {
      id: group.id,
      name: group.name ?? group.id,
      vpcId: group.vpcId ?? 'vpc-0local',
      rules: [...inbound, ...outbound],
    });
    return { inbound: inbound.map((r) => r.id), outbound: outbound.map((r) => r.id) };
  }

  remove(id: string): boolean {
    return this.#groups.delete(id);
  }

  clear(): void {
    this.#groups.clear();
  }

  /** `DescribeSecurityGroups`: GroupId.N, Filter group-id / group-name, pagination. */
  describeGroups(params: URLSearchParams, tools: QueryTools): string {
    let groups = this.#select(tools.indexed(params, 'GroupId'), tools);
    for (const { name, values } of tools.filters(params)) {
      if (name === 'group-id') groups = groups.filter((g) => values.includes(g.id));
      else if (name === 'group-name') groups = groups.filter((g) => values.includes(g.name));
      else if (name === 'vpc-id') groups = groups.filter((g) => values.includes(g.vpcId));
      else tools.fail('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    const { start, end, nextToken } = tools.page(
      params.get('NextToken'),
      groups.length,
      tools.maxResults(params.get('MaxResults')),
      'security-groups',
    );
    const items = groups.slice(start, end).map(
      (g) =>
        `<item><ownerId>${OWNER_ID}</ownerId><groupId>${escapeXml(g.id)}</groupId><groupName>${escapeXml(g.name)}</groupName><groupDescription>${escapeXml(g.name)}</groupDescription><vpcId>${escapeXml(g.vpcId)}</vpcId><securityGroupArn>arn:aws:ec2:us-east-1:${OWNER_ID}:security-group/${escapeXml(g.id)}</securityGroupArn>${permissions(
          'ipPermissions',
          g.rules.filter((r) => !r.egress),
        )}${permissions(
          'ipPermissionsEgress',
          g.rules.filter((r) => r.egress),
        )}<tagSet/></item>`,
    );
    return `${set('securityGroupInfo', items)}${token(nextToken)}`;
  }

  /** `DescribeSecurityGroupRules`: SecurityGroupRuleId.N, Filter group-id / security-group-rule-id, pagination. */
  describeRules(params: URLSearchParams, tools: QueryTools): string {
    let rules = [...this.#groups.values()].flatMap((g) => g.rules);
    const ids = tools.indexed(params, 'SecurityGroupRuleId');
    if (ids.length > 0) {
      rules = ids.map(
        (id) =>
          rules.find((r) => r.id === id) ??
          tools.fail(
            'InvalidSecurityGroupRuleId.NotFound',
            `The security group rule ID '${id}' does not exist`,
          ),
      );
    }
    for (const { name, values } of tools.filters(params)) {
      if (name === 'group-id') rules = rules.filter((r) => values.includes(r.groupId));
      else if (name === 'security-group-rule-id')
        rules = rules.filter((r) => values.includes(r.id));
      else tools.fail('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    const { start, end, nextToken } = tools.page(
      params.get('NextToken'),
      rules.length,
      tools.maxResults(params.get('MaxResults')),
      'security-group-rules',
    );
    const items = rules.slice(start, end).map((r) => {
      const parts = [
        `<securityGroupRuleId>${escapeXml(r.id)}</securityGroupRuleId>`,
        `<groupId>${escapeXml(r.groupId)}</groupId>`,
        `<groupOwnerId>${OWNER_ID}</groupOwnerId>`,
        `<isEgress>${r.egress}</isEgress>`,
        `<ipProtocol>${escapeXml(r.protocol)}</ipProtocol>`,
        `<fromPort>${r.fromPort}</fromPort>`,
        `<toPort>${r.toPort}</toPort>`,
      ];
      if (r.cidrIpv4 !== undefined) parts.push(`<cidrIpv4>${escapeXml(r.cidrIpv4)}</cidrIpv4>`);
      if (r.cidrIpv6 !== undefined) parts.push(`<cidrIpv6>${escapeXml(r.cidrIpv6)}</cidrIpv6>`);
      if (r.prefixListId !== undefined)
        parts.push(`<prefixListId>${escapeXml(r.prefixListId)}</prefixListId>`);
      if (r.referencedGroupId !== undefined)
        parts.push(
          `<referencedGroupInfo><groupId>${escapeXml(r.referencedGroupId)}</groupId><userId>${OWNER_ID}</userId></referencedGroupInfo>`,
        );
      if (r.description !== undefined)
        parts.push(`<description>${escapeXml(r.description)}</description>`);
      parts.push(
        '<tagSet/>',
        `<securityGroupRuleArn>arn:aws:ec2:us-east-1:${OWNER_ID}:security-group-rule/${escapeXml(r.id)}</securityGroupRuleArn>`,
      );
      return `<item>${parts.join('')}</item>`;
    });
    return `${set('securityGroupRuleSet', items)}${token(nextToken)}`;
  }

  #select(ids: readonly string[], tools: QueryTools): StoredGroup[] {
    if (ids.length === 0) return [...this.#groups.values()];
    return ids.map(
      (id) =>
        this.#groups.get(id) ??
        tools.fail('InvalidGroup.NotFound', `The security group '${id}' does not exist`),
    );
  }
}

/** An EC2 XML list: `<name><item>...</item></name>`, or `<name/>` when empty. */
export function set(name: string, items: readonly string[]): string {
  return items.length === 0 ? `<${name}/>` : `<${name}>${items.join('')}</${name}>`;
}

/** The `nextToken` element of a page, when there is a next page. */
export function token(nextToken: string | undefined): string {
  return nextToken === undefined ? '' : `<nextToken>${nextToken}</nextToken>`;
}

/** Rules grouped the way EC2 reports them: one IpPermission per protocol and port range. */
function permissions(name: string, rules: readonly StoredRule[]): string {
  const byKey = new Map<string, StoredRule[]>();
  for (const r of rules) {
    const key = `${r.protocol}|${r.fromPort}|${r.toPort}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  const items = [...byKey.values()].map((group) => {
    const first = group[0] as StoredRule;
    const desc = (r: StoredRule) =>
      r.description === undefined ? '' : `<description>${escapeXml(r.description)}</description>`;
    const ports =
      first.protocol === '-1'
        ? ''
        : `<fromPort>${first.fromPort}</fromPort><toPort>${first.toPort}</toPort>`;
    return `<item><ipProtocol>${escapeXml(first.protocol)}</ipProtocol>${ports}${set(
      'groups',
      group
        .filter((r) => r.referencedGroupId !== undefined)
        .map(
          (r) =>
            `<item><userId>${OWNER_ID}</userId><groupId>${escapeXml(r.referencedGroupId ?? '')}</groupId>${desc(r)}</item>`,
        ),
    )}${set(
      'ipRanges',
      group
        .filter((r) => r.cidrIpv4 !== undefined)
        .map((r) => `<item><cidrIp>${escapeXml(r.cidrIpv4 ?? '')}</cidrIp>${desc(r)}</item>`),
    )}${set(
      'ipv6Ranges',
      group
        .filter((r) => r.cidrIpv6 !== undefined)
        .map((r) => `<item><cidrIpv6>${escapeXml(r.cidrIpv6 ?? '')}</cidrIpv6>${desc(r)}</item>`),
    )}${set(
      'prefixListIds',
      group
        .filter((r) => r.prefixListId !== undefined)
        .map(
          (r) =>
            `<item><prefixListId>${escapeXml(r.prefixListId ?? '')}</prefixListId>${desc(r)}</item>`,
        ),
    )}</item>`;
  });
  return set(name, items);
}

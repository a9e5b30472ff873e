/**
 * The load balancer's targets and where they run: the target groups it forwards to
 * (`DescribeTargetGroups`), their registered targets (`DescribeTargetHealth`), the network
 * interface each target receives the ALB's traffic on (`DescribeInstances` for instance targets,
 * `DescribeNetworkInterfaces` for IP targets: the interface holding the address, else the one
 * a delegated prefix holding it is assigned to) and that interface's security groups.
 * @module
 */
import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  type InstanceNetworkInterface,
  type NetworkInterface,
  type RouteTable,
} from '@aws-sdk/client-ec2';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { normalizeIp } from '@cdn-origin-guard/core';
import type { IamAction } from '../constants.js';
import { cidrHolds } from '../net.js';
import type {
  SubnetRoutes,
  TargetGroupInfo,
  TargetHost,
  TargetInfo,
  TargetsInfo,
} from '../types.js';
import { readPrefixLists, readSecurityGroups } from './ec2.js';
import { gather, type Step } from './errors.js';
import { allPages } from './paging.js';

/** Most values EC2 takes in one filter. */
const FILTER_VALUES = 200;

/**
 * Most items asked of one `DescribeInstances` / `DescribeNetworkInterfaces` page (EC2 takes 5 to
 * 1000). Always sent: AWS recommends only paginated requests of these calls (an unpaginated one
 * is liable to throttling and time-outs, and `DescribeNetworkInterfaces` fails outright on an
 * account with many interfaces).
 */
const MAX_RESULTS = 1000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** DescribeTargetGroups for the load balancer, every page. */
async function describeTargetGroups(
  client: ElasticLoadBalancingV2Client,
  loadBalancerArn: string,
  step: Step,
): Promise<TargetGroup[]> {
  return allPages(
    step,
    {
      action: 'elasticloadbalancing:DescribeTargetGroups',
      ask: (Marker) =>
        client.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: loadBalancerArn, Marker })),
      next: (page) => ({ token: page.NextMarker }),
    },
    (page) => page.TargetGroups,
  );
}

/** An EC2 Describe call filtered by `name` = each chunk of `values` (and `extra`). */
interface FilteredListing<T> {
  readonly action: IamAction;
  readonly name: string;
  readonly values: readonly string[];
  readonly extra?: readonly Filter[];
  /** One page: its items and the next token. */
  readonly ask: (
    filters: Filter[],
    token: string | undefined,
  ) => Promise<{ items: T[]; next?: string | undefined }>;
}

/** Every item of every page ({@link allPages}) for each chunk of the values. */
async function describeFiltered<T>(step: Step, listing: FilteredListing<T>): Promise<T[]> {
  const out: T[] = [];
  for (const chunk of chunks(listing.values, FILTER_VALUES)) {
    const filters = [{ Name: listing.name, Values: chunk }, ...(listing.extra ?? [])];
    const items = await allPages(
      step,
      {
        action: listing.action,
        ask: (token) => listing.ask(filters, token),
        next: (page) => ({ token: page.next }),
      },
      (page) => page.items,
    );
    out.push(...items);
  }
  return out;
}

/**
 * An address in the one text two writers agree on: ELBv2 keeps a target's id as registered, and
 * an IPv6 address has many spellings (`2001:0db8:0:0:0:0:0:1` is `2001:db8::1`). Text that is no
 * address stays as it is.
 */
const canonical = (address: string): string => normalizeIp(address) ?? address;

/** The public IPv4 address of an interface: its primary address's, else a secondary address's. */
function publicOf(eni: NetworkInterface | InstanceNetworkInterface): string | undefined {
  return (
    eni.Association?.PublicIp ??
    eni.PrivateIpAddresses?.find((p) => p.Association?.PublicIp !== undefined)?.Association
      ?.PublicIp
  );
}

const groupIdsOf = (groups: readonly { GroupId?: string }[] | undefined) =>
  (groups ?? []).map((g) => g.GroupId).filter((g): g is string => g !== undefined);

const ipv6Of = (eni: { Ipv6Addresses?: { Ipv6Address?: string }[] } | undefined) =>
  (eni?.Ipv6Addresses ?? []).map((a) => a.Ipv6Address).filter((a): a is string => a !== undefined);

/**
 * Every network interface of an instance, each with its own security groups and addresses: the
 * app listens on all of them, so an interface the ALB does not use (a second one with an
 * Elastic IP) reaches it too (review, 5 December). None for a terminated instance.
 */
function hostsOfInstance(instance: Instance): TargetHost[] {
  const state = instance.State?.Name;
  if (state === 'terminated' || state === 'shutting-down') return [];
  const id = instance.InstanceId ?? '';
  const interfaces = instance.NetworkInterfaces ?? [];
  const isPrimary = (n: InstanceNetworkInterface) =>
    n.Attachment?.DeviceIndex === 0 && (n.Attachment?.NetworkCardIndex ?? 0) === 0;
  if (interfaces.length === 0) {
    return [
      {
        resourceId: id,
        securityGroupIds: groupIdsOf(instance.SecurityGroups),
        publicIpv4: instance.PublicIpAddress,
        ipv6: instance.Ipv6Address === undefined ? [] : [instance.Ipv6Address],
        subnetId: instance.SubnetId,
        vpcId: instance.VpcId,
      },
    ];
  }
  return interfaces.map((n) => {
    const primary = isPrimary(n);
    const ipv6 = ipv6Of(n);
    if (primary && ipv6.length === 0 && instance.Ipv6Address !== undefined)
      ipv6.push(instance.Ipv6Address);
    return {
      resourceId: primary ? id : (n.NetworkInterfaceId ?? id),
      securityGroupIds: groupIdsOf(n.Groups),
      publicIpv4: (primary ? instance.PublicIpAddress : undefined) ?? publicOf(n),
      ipv6,
      subnetId: n.SubnetId ?? instance.SubnetId,
      vpcId: n.VpcId ?? instance.VpcId,
    };
  });
}

function hostOfInterface(eni: NetworkInterface): TargetHost {
  return {
    resourceId: eni.NetworkInterfaceId ?? '',
    securityGroupIds: groupIdsOf(eni.Groups),
    publicIpv4: publicOf(eni),
    ipv6: ipv6Of(eni),
    subnetId: eni.SubnetId,
    vpcId: eni.VpcId,
  };
}

/**
 * The host of an address inside a prefix delegated to `eni`: the interface's security groups
 * and subnet, but not its addresses. A public IPv4 address (an Elastic IP, an auto-assigned one)
 * maps to a private address of the interface, never to a prefix's, so the address has none; an
 * IPv6 address of a prefix is global like any other, and reached when the subnet routes it to an
 * internet gateway.
 */
function hostOfPrefix(eni: NetworkInterface, address: string, prefix: string): TargetHost {
  const own = canonical(address);
  return {
    resourceId: eni.NetworkInterfaceId ?? '',
    securityGroupIds: groupIdsOf(eni.Groups),
    publicIpv4: undefined,
    ipv6: own.includes(':') ? [own] : [],
    subnetId: eni.SubnetId,
    vpcId: eni.VpcId,
    delegatedPrefix: prefix,
  };
}

/** The prefixes delegated to an interface, IPv4 and IPv6. */
const prefixesOf = (eni: NetworkInterface): string[] =>
  [
    ...(eni.Ipv4Prefixes ?? []).map((p) => p.Ipv4Prefix),
    ...(eni.Ipv6Prefixes ?? []).map((p) => p.Ipv6Prefix),
  ].filter((p) => p !== undefined);

/** Instance id -> its interfaces. Instances EC2 does not know (terminated) are left out. */
async function readInstances(
  client: EC2Client,
  ids: readonly string[],
  step: Step,
): Promise<Map<string, TargetHost[]>> {
  const instances = await describeFiltered(step, {
    action: 'ec2:DescribeInstances',
    name: 'instance-id',
    values: ids,
    ask: async (Filters, NextToken) => {
      const page = await client.send(
        new DescribeInstancesCommand({ Filters, NextToken, MaxResults: MAX_RESULTS }),
      );
      return {
        items: (page.Reservations ?? []).flatMap((r) => r.Instances ?? []),
        next: page.NextToken,
      };
    },
  });
  return new Map(
    instances
      .map((i): [string, TargetHost[]] => [i.InstanceId ?? '', hostsOfInstance(i)])
      .filter(([, hosts]) => hosts.length > 0),
  );
}

/** `DescribeNetworkInterfaces` filtered by `name` = `values` (and `extra`), for {@link describeFiltered}. */
const interfacesBy = (
  client: EC2Client,
  filter: { name: string; values: readonly string[]; extra?: readonly Filter[] },
): FilteredListing<NetworkInterface> => ({
  action: 'ec2:DescribeNetworkInterfaces',
  ...filter,
  ask: async (Filters, NextToken) => {
    const page = await client.send(
      new DescribeNetworkInterfacesCommand({ Filters, NextToken, MaxResults: MAX_RESULTS }),
    );
    return { items: page.NetworkInterfaces ?? [], next: page.NextToken };
  },
});

/**
 * Address -> host, for the IP targets no interface holds as an address: an address inside a
 * prefix delegated to an interface of the VPC (EKS and ECS prefix delegation). No
 * `DescribeNetworkInterfaces` filter finds an interface by an address inside its prefix (the
 * `ipv4-prefix` filters are `DescribeInstances`', and take the prefix itself), so every interface
 * of the VPC is read, in pages, and its prefixes matched here.
 */
async function readDelegated(
  client: EC2Client,
  addresses: readonly string[],
  vpcId: string,
  step: Step,
): Promise<Map<string, TargetHost>> {
  const hosts = new Map<string, TargetHost>();
  const enis = await describeFiltered(
    step,
    interfacesBy(client, { name: 'vpc-id', values: [vpcId] }),
  );
  for (const eni of enis) {
    const prefixes = prefixesOf(eni);
    if (prefixes.length === 0) continue;
    for (const address of addresses) {
      const prefix = hosts.has(address) ? undefined : prefixes.find((p) => cidrHolds(p, address));
      if (prefix !== undefined) hosts.set(address, hostOfPrefix(eni, address, prefix));
    }
  }
  return hosts;
}

/**
 * Address -> host, for IP targets, looked up in the target group's VPC: the interface holding
 * the address (compared in canonical form), else the interface a delegated prefix holding it is
 * assigned to. An address held neither way by a network interface of this account (on
 * premises, a peered VPC's) is left out.
 */
async function readInterfaces(
  client: EC2Client,
  addresses: readonly string[],
  vpcId: string | undefined,
  step: Step,
): Promise<Map<string, TargetHost>> {
  const hosts = new Map<string, TargetHost>();
  const vpc: Filter[] = vpcId === undefined ? [] : [{ Name: 'vpc-id', Values: [vpcId] }];
  for (const [name, v6] of [
    ['addresses.private-ip-address', false],
    ['ipv6-addresses.ipv6-address', true],
  ] as const) {
    const mine = addresses.filter((a) => canonical(a).includes(':') === v6);
    if (mine.length === 0) continue;
    // An EC2 filter compares text: each address as registered and in canonical form.
    const values = [...new Set(mine.flatMap((a) => [a, canonical(a)]))];
    const enis = await describeFiltered(step, interfacesBy(client, { name, values, extra: vpc }));
    for (const eni of enis) {
      const held = new Set(
        [
          ...(eni.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress),
          eni.PrivateIpAddress,
          ...(eni.Ipv6Addresses ?? []).map((a) => a.Ipv6Address),
        ]
          .filter((a) => a !== undefined)
          .map(canonical),
      );
      for (const address of mine)
        if (held.has(canonical(address))) hosts.set(address, hostOfInterface(eni));
    }
  }
  const rest = addresses.filter((a) => !hosts.has(a));
  if (rest.length > 0 && vpcId !== undefined)
    for (const [address, host] of await readDelegated(client, rest, vpcId, step))
      hosts.set(address, host);
  return hosts;
}

/** What a route table says of the internet: an active route to an internet gateway, per family. */
function routesOf(table: RouteTable): SubnetRoutes {
  const toInternet = (family: 'v4' | 'v6') =>
    (table.Routes ?? []).some(
      (r) =>
        r.State !== 'blackhole' &&
        r.GatewayId?.startsWith('igw-') === true &&
        (family === 'v4'
          ? r.DestinationCidrBlock !== undefined || r.DestinationPrefixListId !== undefined
          : r.DestinationIpv6CidrBlock !== undefined),
    );
  return {
    routeTableId: table.RouteTableId ?? '',
    internetIpv4: toInternet('v4'),
    internetIpv6: toInternet('v6'),
  };
}

/**
 * Subnet id -> its routes: the table associated with the subnet, else its VPC's main table
 * (`DescribeRouteTables`, every page). A subnet neither answers for is left out (judged as if
 * it routed to the internet).
 */
async function readRoutes(
  client: EC2Client,
  hosts: readonly TargetHost[],
  step: Step,
): Promise<Map<string, SubnetRoutes>> {
  const subnets = [...new Set(hosts.map((h) => h.subnetId).filter((id) => id !== undefined))];
  const routes = new Map<string, SubnetRoutes>();
  if (subnets.length === 0) return routes;
  const describe = (name: string, values: readonly string[], extra: Filter[] = []) =>
    describeFiltered(step, {
      action: 'ec2:DescribeRouteTables',
      name,
      values,
      extra,
      ask: async (Filters, NextToken) => {
        const page = await client.send(new DescribeRouteTablesCommand({ Filters, NextToken }));
        return { items: page.RouteTables ?? [], next: page.NextToken };
      },
    });
  for (const table of await describe('association.subnet-id', subnets))
    for (const a of table.Associations ?? [])
      if (a.SubnetId !== undefined && subnets.includes(a.SubnetId))
        routes.set(a.SubnetId, routesOf(table));
  const implicit = hosts.filter((h) => h.subnetId !== undefined && !routes.has(h.subnetId));
  const vpcs = [...new Set(implicit.map((h) => h.vpcId).filter((id) => id !== undefined))];
  if (vpcs.length === 0) return routes;
  const mains = await describe('vpc-id', vpcs, [{ Name: 'association.main', Values: ['true'] }]);
  for (const host of implicit) {
    const main = mains.find((t) => t.VpcId === host.vpcId);
    if (main !== undefined && host.subnetId !== undefined)
      routes.set(host.subnetId, routesOf(main));
  }
  return routes;
}

/** A port given as text (`HealthCheckPort`), or `undefined` for `traffic-port`. */
function portOf(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && /^\d+$/.test(text) ? n : undefined;
}

/**
 * The targets of every target group the load balancer forwards to, their hosts, and those
 * hosts' security groups and referenced prefix lists.
 */
export async function readTargets(
  elbv2: ElasticLoadBalancingV2Client,
  ec2: EC2Client,
  loadBalancerArn: string,
  step: Step,
): Promise<TargetsInfo> {
  const described = await describeTargetGroups(elbv2, loadBalancerArn, step);
  const registered: { group: TargetGroup; targets: TargetHealthDescription[] }[] = [];
  for (const group of described) {
    const health = await step('elasticloadbalancing:DescribeTargetHealth', () =>
      elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group.TargetGroupArn })),
    );
    registered.push({ group, targets: health.TargetHealthDescriptions ?? [] });
  }
  const ids = (type: string) => [
    ...new Set(
      registered
        .filter((r) => (r.group.TargetType ?? 'instance') === type)
        .flatMap((r) => r.targets.map((t) => t.Target?.Id ?? ''))
        .filter((id) => id !== ''),
    ),
  ];
  const instanceIds = ids('instance');
  const instances =
    instanceIds.length === 0 ? new Map() : await readInstances(ec2, instanceIds, step);
  // IP targets, looked up once per VPC (so its interfaces are read at most once for delegated
  // prefixes). Every address is looked up, `AvailabilityZone` `all` too: it marks an address
  // outside the VPC, but an address inside it may carry `all` as well (cross-zone load balancing).
  const addressesByVpc = new Map<string, Set<string>>();
  for (const r of registered) {
    if (r.group.TargetType !== 'ip') continue;
    const vpc = r.group.VpcId ?? '';
    const addresses = addressesByVpc.get(vpc) ?? new Set<string>();
    for (const t of r.targets) {
      const id = t.Target?.Id;
      if (id !== undefined && id !== '') addresses.add(id);
    }
    addressesByVpc.set(vpc, addresses);
  }
  const interfaces = new Map<string, Map<string, TargetHost>>();
  for (const [vpc, addresses] of addressesByVpc) {
    if (addresses.size === 0) continue;
    interfaces.set(
      vpc,
      await readInterfaces(ec2, [...addresses], vpc === '' ? undefined : vpc, step),
    );
  }
  const groups: TargetGroupInfo[] = registered.map(({ group, targets }) => {
    const type = group.TargetType ?? 'instance';
    const byAddress = interfaces.get(group.VpcId ?? '') ?? new Map<string, TargetHost>();
    const hostsOf = (id: string): readonly TargetHost[] => {
      if (type === 'instance') return instances.get(id) ?? [];
      const eni = type === 'ip' ? byAddress.get(id) : undefined;
      return eni === undefined ? [] : [eni];
    };
    return {
      arn: group.TargetGroupArn ?? '',
      name: group.TargetGroupName ?? '',
      targetType: type,
      targets: targets.map((t): TargetInfo => {
        const id = t.Target?.Id ?? '';
        const port = t.Target?.Port ?? group.Port;
        const health = portOf(group.HealthCheckPort);
        return {
          id,
          port,
          healthCheckPort: health !== undefined && health !== port ? health : undefined,
          availabilityZone: t.Target?.AvailabilityZone,
          hosts: hostsOf(id),
        };
      }),
    };
  });
  const groupIds = [
    ...new Set(
      groups.flatMap((g) => g.targets.flatMap((t) => t.hosts.flatMap((h) => h.securityGroupIds))),
    ),
  ];
  const securityGroups = await readSecurityGroups(ec2, groupIds, step);
  // Apart, so a denied DescribeRouteTables leaves the rest judged (conservatively).
  const hosts = groups.flatMap((g) => g.targets.flatMap((t) => t.hosts));
  const routes = await gather((s) => readRoutes(ec2, hosts, s));
  const prefixLists = securityGroups.some((g) =>
    g.inbound.some((r) => r.prefixListId !== undefined),
  )
    ? await readPrefixLists(ec2, securityGroups, step)
    : new Map();
  return { groups, securityGroups, prefixLists, routes };
}

/**
 * Local EC2 instances and network interfaces (query protocol, API version 2016-11-15), as far as
 * an audit of a load balancer's targets reads them: `DescribeInstances` (by `InstanceId.N` or the
 * `instance-id` filter) and `DescribeNetworkInterfaces` (by `NetworkInterfaceId.N` or the
 * `addresses.private-ip-address` filter), each with its security groups, its private addresses
 * (`privateIpAddressesSet`: the primary one and secondary ones) and their public addresses,
 * and the route tables of their subnets (`DescribeRouteTables`), paginated with
 * MaxResults/NextToken (instances and interfaces: all at once without MaxResults, as EC2 answers;
 * with it, pages no longer than {@link LocalHosts.setPageSize} allows). Interfaces carry their
 * delegated prefixes (`ipv4PrefixSet`, `ipv6PrefixSet`), which no address filter matches. The VPC
 * `vpc-0local` starts with a main route table that routes IPv4 and IPv6 to an internet gateway,
 * as a default VPC does.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { OWNER_ID, type QueryTools, set, token } from './ec2-security-groups.js';
import { escapeXml } from './reply.js';

/** A private IPv4 address of an interface beyond its primary one (`privateIpAddressesSet`). */
export interface LocalSecondaryAddressInput {
  readonly privateIp: string;
  /** The public IPv4 address (an Elastic IP) associated with it. Defaults to none. */
  readonly publicIp?: string;
}

/** An instance to store. */
export interface LocalInstanceInput {
  /** `i-...` */
  readonly id: string;
  /** The primary network interface's security groups. */
  readonly securityGroupIds: readonly string[];
  /** Defaults to a `10.0.x.y` address. */
  readonly privateIp?: string;
  /** A public IPv4 address (`ipAddress` in the reply). Defaults to none. */
  readonly publicIp?: string;
  /** IPv6 addresses of the primary network interface. Defaults to none. */
  readonly ipv6?: readonly string[];
  /** Secondary private addresses of the primary network interface. Defaults to none. */
  readonly secondaryPrivateIps?: readonly LocalSecondaryAddressInput[];
  /** Defaults to `subnet-0local` (in `vpc-0local`). */
  readonly subnetId?: string;
  /** More network interfaces (device index 1, 2, ...), each with its groups and public address. */
  readonly extraInterfaces?: readonly {
    readonly id: string;
    readonly securityGroupIds: readonly string[];
    /** Defaults to a `10.0.x.y` address. */
    readonly privateIp?: string;
    /** The public IPv4 address of its primary private address. Defaults to none. */
    readonly publicIp?: string;
    /** Defaults to none. */
    readonly secondaryPrivateIps?: readonly LocalSecondaryAddressInput[];
  }[];
}

/** A network interface to store (an IP target: an ECS task, a container, a host elsewhere). */
export interface LocalNetworkInterfaceInput {
  /** Defaults to a random `eni-...`. */
  readonly id?: string;
  readonly privateIp: string;
  readonly securityGroupIds: readonly string[];
  /** The public IPv4 address associated with its primary private address. Defaults to none. */
  readonly publicIp?: string;
  /**
   * Secondary private addresses (an IP target may be one: EKS pods in secondary-IP mode), each
   * found by the `addresses.private-ip-address` filter. Defaults to none.
   */
  readonly secondaryPrivateIps?: readonly LocalSecondaryAddressInput[];
  /** Defaults to none. */
  readonly ipv6?: readonly string[];
  /**
   * Prefixes delegated to it (`ipv4PrefixSet`, `/28`s; `ipv6PrefixSet`, `/80`s), from which EKS
   * and ECS give pods and tasks their addresses. No address filter finds an address inside one,
   * as on EC2. Defaults to none.
   */
  readonly ipv4Prefixes?: readonly string[];
  readonly ipv6Prefixes?: readonly string[];
  /** Defaults to `vpc-0local`, the VPC local target groups default to. */
  readonly vpcId?: string;
  /** Defaults to `subnet-0local`. */
  readonly subnetId?: string;
}

/** A route of {@link LocalRouteTableInput}. */
export interface LocalRouteInput {
  readonly destinationCidrBlock?: string;
  readonly destinationIpv6CidrBlock?: string;
  /** `local`, or an internet gateway `igw-...`. */
  readonly gatewayId?: string;
  readonly egressOnlyInternetGatewayId?: string;
  readonly natGatewayId?: string;
  /** Defaults to `active`. */
  readonly state?: 'active' | 'blackhole';
}

/** A route table to store. */
export interface LocalRouteTableInput {
  /** Defaults to a random `rtb-...`. */
  readonly id?: string;
  /** Defaults to `vpc-0local`. */
  readonly vpcId?: string;
  /** The VPC's main table (subnets without a table of their own use it). Defaults to `false`. */
  readonly main?: boolean;
  /** Subnets explicitly associated with it. */
  readonly subnetIds?: readonly string[];
  readonly routes: readonly LocalRouteInput[];
}

/** Test helpers to arrange instances and network interfaces on the local endpoint. */
export interface LocalHosts {
  /** Create or replace an instance. */
  setInstance(instance: LocalInstanceInput): void;
  /** Create or replace a network interface; returns its id. */
  setNetworkInterface(eni: LocalNetworkInterfaceInput): string;
  /**
   * Create or replace a route table; returns its id. A new main table of a VPC replaces the
   * old one as main, and a subnet is associated with one table at most.
   */
  setRouteTable(table: LocalRouteTableInput): string;
  /**
   * Give at most `size` items per `DescribeInstances` / `DescribeNetworkInterfaces` page when the
   * caller pages (sends `MaxResults`): EC2 may return fewer items than asked, with a `NextToken`,
   * so a caller's paging meets real second pages. Without `MaxResults` a call answers every item
   * at once, as EC2 does. `clear()` lifts the limit.
   */
  setPageSize(size: number): void;
  clear(): void;
}

interface StoredRouteTable {
  readonly id: string;
  readonly vpcId: string;
  main: boolean;
  readonly subnetIds: Set<string>;
  readonly routes: readonly LocalRouteInput[];
}

/** The main route table every `vpc-0local` starts with: IPv4 and IPv6 to an internet gateway. */
const DEFAULT_MAIN: LocalRouteTableInput = {
  id: 'rtb-0localmain',
  vpcId: 'vpc-0local',
  main: true,
  routes: [
    { destinationCidrBlock: '10.0.0.0/16', gatewayId: 'local' },
    { destinationCidrBlock: '0.0.0.0/0', gatewayId: 'igw-0local' },
    { destinationIpv6CidrBlock: '::/0', gatewayId: 'igw-0local' },
  ],
};

interface StoredHost {
  readonly id: string;
  readonly privateIp: string;
  readonly securityGroupIds: readonly string[];
  readonly publicIp: string | undefined;
  readonly secondary: readonly LocalSecondaryAddressInput[];
  readonly ipv6: readonly string[];
  readonly ipv4Prefixes: readonly string[];
  readonly ipv6Prefixes: readonly string[];
  readonly vpcId: string;
  readonly subnetId: string;
  readonly extra?: LocalInstanceInput['extraInterfaces'];
}

/** A random `10.0.x.y` address (never `.0`). */
const randomPrivateIp = () => `10.0.${randomBytes(1)[0]}.${(randomBytes(1)[0] ?? 0) | 1}`;

/** Every private address of an interface, primary first. */
const privateIpsOf = (h: Pick<StoredHost, 'privateIp' | 'secondary'>) => [
  h.privateIp,
  ...h.secondary.map((a) => a.privateIp),
];

const association = (publicIp: string | undefined) =>
  publicIp === undefined
    ? ''
    : `<association><publicIp>${escapeXml(publicIp)}</publicIp><ipOwnerId>amazon</ipOwnerId></association>`;

/**
 * `privateIpAddressesSet`: the primary private address (with the interface's public address)
 * and each secondary one with its own, as EC2 lists them.
 */
const privateIpSet = (
  primary: string,
  publicIp: string | undefined,
  secondary: readonly LocalSecondaryAddressInput[] = [],
) =>
  set('privateIpAddressesSet', [
    `<item><privateIpAddress>${escapeXml(primary)}</privateIpAddress><primary>true</primary>${association(publicIp)}</item>`,
    ...secondary.map(
      (a) =>
        `<item><privateIpAddress>${escapeXml(a.privateIp)}</privateIpAddress><primary>false</primary>${association(a.publicIp)}</item>`,
    ),
  ]);

/** `ipv4PrefixSet` / `ipv6PrefixSet`: the delegated prefixes, left out when there are none. */
const prefixSets = (h: Pick<StoredHost, 'ipv4Prefixes' | 'ipv6Prefixes'>) =>
  [
    h.ipv4Prefixes.length === 0
      ? ''
      : set(
          'ipv4PrefixSet',
          h.ipv4Prefixes.map((p) => `<item><ipv4Prefix>${escapeXml(p)}</ipv4Prefix></item>`),
        ),
    h.ipv6Prefixes.length === 0
      ? ''
      : set(
          'ipv6PrefixSet',
          h.ipv6Prefixes.map((p) => `<item><ipv6Prefix>${escapeXml(p)}</ipv6Prefix></item>`),
        ),
  ].join('');

const groupSet = (ids: readonly string[]) =>
  set(
    'groupSet',
    ids.map(
      (g) =>
        `<item><groupId>${escapeXml(g)}</groupId><groupName>${escapeXml(g)}</groupName></item>`,
    ),
  );

const ipv6Set = (addresses: readonly string[]) =>
  set(
    'ipv6AddressesSet',
    addresses.map((a) => `<item><ipv6Address>${escapeXml(a)}</ipv6Address></item>`),
  );

/** The instance and network interface store and its two Describe calls. */
/** Every item of `map`, or those `ids` name (an unknown id is `missing`'s error, as EC2 answers). */
function byIds<T>(
  map: ReadonlyMap<string, T>,
  ids: readonly string[],
  missing: (id: string) => never,
): T[] {
  return ids.length === 0 ? [...map.values()] : ids.map((id) => map.get(id) ?? missing(id));
}

export class HostStore implements LocalHosts {
  readonly #instances = new Map<string, StoredHost>();
  readonly #interfaces = new Map<string, StoredHost>();
  readonly #routeTables = new Map<string, StoredRouteTable>();
  /** Most items a paged Describe answers (see {@link LocalHosts.setPageSize}). */
  #pageSize = Number.POSITIVE_INFINITY;

  constructor() {
    this.setRouteTable(DEFAULT_MAIN);
  }

  setInstance(instance: LocalInstanceInput): void {
    this.#instances.set(instance.id, {
      id: instance.id,
      privateIp: instance.privateIp ?? randomPrivateIp(),
      securityGroupIds: [...instance.securityGroupIds],
      publicIp: instance.publicIp,
      secondary: [...(instance.secondaryPrivateIps ?? [])],
      ipv4Prefixes: [],
      ipv6Prefixes: [],
      ipv6: [...(instance.ipv6 ?? [])],
      vpcId: 'vpc-0local',
      subnetId: instance.subnetId ?? 'subnet-0local',
      extra: instance.extraInterfaces?.map((x) => ({
        ...x,
        privateIp: x.privateIp ?? randomPrivateIp(),
      })),
    });
  }

  setNetworkInterface(eni: LocalNetworkInterfaceInput): string {
    const id = eni.id ?? `eni-${randomBytes(8).toString('hex')}`;
    this.#interfaces.set(id, {
      id,
      privateIp: eni.privateIp,
      securityGroupIds: [...eni.securityGroupIds],
      publicIp: eni.publicIp,
      secondary: [...(eni.secondaryPrivateIps ?? [])],
      ipv6: [...(eni.ipv6 ?? [])],
      ipv4Prefixes: [...(eni.ipv4Prefixes ?? [])],
      ipv6Prefixes: [...(eni.ipv6Prefixes ?? [])],
      vpcId: eni.vpcId ?? 'vpc-0local',
      subnetId: eni.subnetId ?? 'subnet-0local',
    });
    return id;
  }

  setRouteTable(table: LocalRouteTableInput): string {
    const id = table.id ?? `rtb-${randomBytes(8).toString('hex')}`;
    const vpcId = table.vpcId ?? 'vpc-0local';
    const subnetIds = new Set(table.subnetIds ?? []);
    for (const other of this.#routeTables.values()) {
      if (table.main === true && other.vpcId === vpcId) other.main = false;
      for (const subnet of subnetIds) other.subnetIds.delete(subnet);
    }
    this.#routeTables.set(id, {
      id,
      vpcId,
      main: table.main === true,
      subnetIds,
      routes: table.routes.map((r) => ({ ...r })),
    });
    return id;
  }

  setPageSize(size: number): void {
    if (!Number.isInteger(size) || size < 1) throw new Error(`local ec2: page size ${size}`);
    this.#pageSize = size;
  }

  clear(): void {
    this.#instances.clear();
    this.#interfaces.clear();
    this.#routeTables.clear();
    this.#pageSize = Number.POSITIVE_INFINITY;
    this.setRouteTable(DEFAULT_MAIN);
  }

  /**
   * A page of `total` items for `DescribeInstances` / `DescribeNetworkInterfaces`: every item
   * without `MaxResults` (EC2 refuses it together with ids, and takes 5 to 1000), else at most
   * `MaxResults` and the page size set for tests.
   */
  #page(
    params: URLSearchParams,
    total: number,
    scope: string,
    ids: readonly string[],
    tools: QueryTools,
  ): { start: number; end: number; nextToken: string | undefined } {
    const raw = params.get('MaxResults');
    if (raw !== null && ids.length > 0)
      tools.fail(
        'InvalidParameterCombination',
        `The parameter ${scope === 'instances' ? 'instancesSet' : 'networkInterfaceIdSet'} cannot be used with the parameter maxResults`,
      );
    const size =
      raw === null
        ? Math.max(total, 1)
        : Math.min(tools.maxResults(raw, { min: 5, max: 1000 }), this.#pageSize);
    return tools.page(params.get('NextToken'), total, size, scope);
  }

  /**
   * `DescribeRouteTables`: RouteTableId.N, Filters `association.subnet-id`, `vpc-id`,
   * `association.main` and `route-table-id`.
   */
  describeRouteTables(params: URLSearchParams, tools: QueryTools): string {
    let tables = byIds(this.#routeTables, tools.indexed(params, 'RouteTableId'), (id) =>
      tools.fail('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`),
    );
    for (const { name, values } of tools.filters(params)) {
      if (name === 'association.subnet-id')
        tables = tables.filter((t) => values.some((v) => t.subnetIds.has(v)));
      else if (name === 'vpc-id') tables = tables.filter((t) => values.includes(t.vpcId));
      else if (name === 'association.main')
        tables = tables.filter((t) => values.includes(String(t.main)));
      else if (name === 'route-table-id') tables = tables.filter((t) => values.includes(t.id));
      else tools.fail('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    const { start, end, nextToken } = tools.page(
      params.get('NextToken'),
      tables.length,
      tools.maxResults(params.get('MaxResults')),
      'route-tables',
    );
    const items = tables.slice(start, end).map((t) => {
      const routes = t.routes.map((r) => {
        const parts = [
          r.destinationCidrBlock === undefined
            ? ''
            : `<destinationCidrBlock>${escapeXml(r.destinationCidrBlock)}</destinationCidrBlock>`,
          r.destinationIpv6CidrBlock === undefined
            ? ''
            : `<destinationIpv6CidrBlock>${escapeXml(r.destinationIpv6CidrBlock)}</destinationIpv6CidrBlock>`,
          r.gatewayId === undefined ? '' : `<gatewayId>${escapeXml(r.gatewayId)}</gatewayId>`,
          r.egressOnlyInternetGatewayId === undefined
            ? ''
            : `<egressOnlyInternetGatewayId>${escapeXml(r.egressOnlyInternetGatewayId)}</egressOnlyInternetGatewayId>`,
          r.natGatewayId === undefined
            ? ''
            : `<natGatewayId>${escapeXml(r.natGatewayId)}</natGatewayId>`,
          `<state>${r.state ?? 'active'}</state><origin>CreateRoute</origin>`,
        ];
        return `<item>${parts.join('')}</item>`;
      });
      const associations = [
        ...(t.main
          ? [
              `<item><routeTableAssociationId>rtbassoc-${escapeXml(t.id.slice(4))}m</routeTableAssociationId><routeTableId>${escapeXml(t.id)}</routeTableId><main>true</main></item>`,
            ]
          : []),
        ...[...t.subnetIds].map(
          (subnet) =>
            `<item><routeTableAssociationId>rtbassoc-${escapeXml(subnet.slice(7))}</routeTableAssociationId><routeTableId>${escapeXml(t.id)}</routeTableId><subnetId>${escapeXml(subnet)}</subnetId><main>false</main></item>`,
        ),
      ];
      return `<item><routeTableId>${escapeXml(t.id)}</routeTableId><vpcId>${escapeXml(t.vpcId)}</vpcId><ownerId>${OWNER_ID}</ownerId>${set('routeSet', routes)}${set('associationSet', associations)}</item>`;
    });
    return `${set('routeTableSet', items)}${token(nextToken)}`;
  }

  /** `DescribeInstances`: InstanceId.N (every id must exist, as AWS requires) or Filter instance-id. */
  describeInstances(params: URLSearchParams, tools: QueryTools): string {
    const ids = tools.indexed(params, 'InstanceId');
    let hosts = byIds(this.#instances, ids, (id) =>
      tools.fail('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`),
    );
    for (const { name, values } of tools.filters(params)) {
      if (name === 'instance-id') hosts = hosts.filter((h) => values.includes(h.id));
      else tools.fail('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    const { start, end, nextToken } = this.#page(params, hosts.length, 'instances', ids, tools);
    const items = hosts.slice(start, end).map((h) => {
      const eni = `<item><networkInterfaceId>eni-${escapeXml(h.id.slice(2))}</networkInterfaceId><subnetId>${escapeXml(h.subnetId)}</subnetId><vpcId>${escapeXml(h.vpcId)}</vpcId><privateIpAddress>${escapeXml(h.privateIp)}</privateIpAddress><attachment><deviceIndex>0</deviceIndex></attachment>${groupSet(h.securityGroupIds)}${ipv6Set(h.ipv6)}${association(h.publicIp)}${privateIpSet(h.privateIp, h.publicIp, h.secondary)}</item>`;
      const extra = (h.extra ?? []).map(
        (x, i) =>
          `<item><networkInterfaceId>${escapeXml(x.id)}</networkInterfaceId><subnetId>${escapeXml(h.subnetId)}</subnetId><vpcId>${escapeXml(h.vpcId)}</vpcId><privateIpAddress>${escapeXml(x.privateIp ?? '')}</privateIpAddress><attachment><deviceIndex>${i + 1}</deviceIndex></attachment>${groupSet(x.securityGroupIds)}${association(x.publicIp)}${privateIpSet(x.privateIp ?? '', x.publicIp, x.secondaryPrivateIps)}</item>`,
      );
      const instance = `<item><instanceId>${escapeXml(h.id)}</instanceId><instanceState><code>16</code><name>running</name></instanceState><subnetId>${escapeXml(h.subnetId)}</subnetId><vpcId>${escapeXml(h.vpcId)}</vpcId><privateIpAddress>${escapeXml(h.privateIp)}</privateIpAddress>${h.publicIp === undefined ? '' : `<ipAddress>${escapeXml(h.publicIp)}</ipAddress>`}${h.ipv6[0] === undefined ? '' : `<ipv6Address>${escapeXml(h.ipv6[0])}</ipv6Address>`}${groupSet(h.securityGroupIds)}${set('networkInterfaceSet', [eni, ...extra])}</item>`;
      return `<item><reservationId>r-${escapeXml(h.id.slice(2))}</reservationId><ownerId>${OWNER_ID}</ownerId>${set('instancesSet', [instance])}</item>`;
    });
    return `${set('reservationSet', items)}${token(nextToken)}`;
  }

  /**
   * `DescribeNetworkInterfaces`: NetworkInterfaceId.N or Filters `addresses.private-ip-address`
   * (also `private-ip-address`), `ipv6-addresses.ipv6-address` and `vpc-id`.
   */
  describeNetworkInterfaces(params: URLSearchParams, tools: QueryTools): string {
    const ids = tools.indexed(params, 'NetworkInterfaceId');
    let hosts = byIds(this.#interfaces, ids, (id) =>
      tools.fail(
        'InvalidNetworkInterfaceID.NotFound',
        `The networkInterface ID '${id}' does not exist`,
      ),
    );
    for (const { name, values } of tools.filters(params)) {
      if (name === 'addresses.private-ip-address' || name === 'private-ip-address')
        hosts = hosts.filter((h) => privateIpsOf(h).some((a) => values.includes(a)));
      else if (name === 'ipv6-addresses.ipv6-address')
        hosts = hosts.filter((h) => h.ipv6.some((a) => values.includes(a)));
      else if (name === 'vpc-id') hosts = hosts.filter((h) => values.includes(h.vpcId));
      else tools.fail('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    const { start, end, nextToken } = this.#page(
      params,
      hosts.length,
      'network-interfaces',
      ids,
      tools,
    );
    const items = hosts
      .slice(start, end)
      .map(
        (h) =>
          `<item><networkInterfaceId>${escapeXml(h.id)}</networkInterfaceId><ownerId>${OWNER_ID}</ownerId><subnetId>${escapeXml(h.subnetId)}</subnetId><vpcId>${escapeXml(h.vpcId)}</vpcId><privateIpAddress>${escapeXml(h.privateIp)}</privateIpAddress>${groupSet(h.securityGroupIds)}${ipv6Set(h.ipv6)}${association(h.publicIp)}${privateIpSet(h.privateIp, h.publicIp, h.secondary)}${prefixSets(h)}</item>`,
      );
    return `${set('networkInterfaceSet', items)}${token(nextToken)}`;
  }
}

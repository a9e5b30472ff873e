/**
 * Local EC2 (query protocol, API version 2016-11-15): managed prefix lists with versions,
 * `DescribeManagedPrefixLists` and `GetManagedPrefixListEntries` with MaxResults/NextToken
 * pagination and TargetVersion, XML replies and errors in EC2's shape.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { HostStore, type LocalHosts } from './ec2-hosts.js';
import {
  type LocalSecurityGroups,
  type QueryTools,
  SecurityGroupStore,
} from './ec2-security-groups.js';
import { escapeXml, type Reply, xmlReply } from './reply.js';

const NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
/** How many past versions of a list are kept for TargetVersion and in-flight pagination. */
const KEPT_VERSIONS = 10;
const MAX_RESULTS_LIMIT = 100;

/** Options of {@link LocalEc2.setPrefixList}. */
export interface LocalPrefixListOptions {
  /** Prefix list id. Defaults to the list's current id, or a random `pl-xxxxxxxx` for a new list. Changing it makes the old id unknown. */
  readonly id?: string;
  /** Leave `<version>` out of DescribeManagedPrefixLists items. */
  readonly omitVersion?: boolean;
  /** Leave `<maxEntries>` out of DescribeManagedPrefixLists items. */
  readonly omitMaxEntries?: boolean;
  /** `IPv4` or `IPv6`. Defaults to IPv6 when any CIDR contains `:`. */
  readonly addressFamily?: 'IPv4' | 'IPv6';
  /** Owner id. Defaults to `AWS` (an AWS-managed list). */
  readonly ownerId?: string;
  /**
   * `MaxEntries`, the list's weight against a security group's rules quota. Defaults to the
   * number of entries (never below the list's earlier max entries).
   */
  readonly maxEntries?: number;
}

/** A read-only view of a stored prefix list. */
export interface LocalPrefixListInfo {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly addressFamily: 'IPv4' | 'IPv6';
  readonly cidrs: readonly string[];
}

/** Test helpers to arrange EC2 managed prefix lists on the local endpoint. */
export interface LocalEc2 {
  /**
   * Create or replace a prefix list by name. The version is bumped only when the set of
   * entries changes (or the list is new). Returns the list's id and version.
   */
  setPrefixList(
    name: string,
    cidrs: readonly string[],
    options?: LocalPrefixListOptions,
  ): { id: string; version: number };
  /** The list named `name`, or `undefined`. */
  getPrefixList(name: string): LocalPrefixListInfo | undefined;
  /** Delete a list; its id then answers `InvalidPrefixListID.NotFound`. */
  removePrefixList(name: string): boolean;
  /** Answer `UnauthorizedOperation` (403) to every EC2 call (`false` undoes it). */
  deny(denied?: boolean): void;
  /** Security groups answered by `DescribeSecurityGroups` / `DescribeSecurityGroupRules`. */
  readonly securityGroups: LocalSecurityGroups;
  /** Instances and network interfaces answered by `DescribeInstances` / `DescribeNetworkInterfaces`. */
  readonly hosts: LocalHosts;
}

interface StoredPrefixList {
  id: string;
  readonly name: string;
  addressFamily: 'IPv4' | 'IPv6';
  ownerId: string;
  version: number;
  maxEntries: number;
  omitVersion: boolean;
  omitMaxEntries: boolean;
  state: 'create-complete' | 'modify-complete';
  /** version -> entries (sorted as stored). */
  readonly history: Map<number, readonly string[]>;
}

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The store plus its wire handler. */
export class Ec2Service implements LocalEc2 {
  readonly #byName = new Map<string, StoredPrefixList>();
  readonly #byId = new Map<string, StoredPrefixList>();
  readonly #region: string;
  #denied = false;
  readonly securityGroups = new SecurityGroupStore();
  readonly hosts = new HostStore();

  constructor(region: string) {
    this.#region = region;
  }

  // ---- helpers for tests -------------------------------------------------------------------

  setPrefixList(
    name: string,
    cidrs: readonly string[],
    options: LocalPrefixListOptions = {},
  ): { id: string; version: number } {
    const entries = [...new Set(cidrs)];
    const family =
      options.addressFamily ?? (entries.some((c) => c.includes(':')) ? 'IPv6' : 'IPv4');
    let list = this.#byName.get(name);
    if (list === undefined) {
      const id = options.id ?? randomPrefixListId();
      if (this.#byId.has(id)) throw new Error(`local ec2.setPrefixList: id ${id} is already used`);
      list = {
        id,
        name,
        addressFamily: family,
        ownerId: options.ownerId ?? 'AWS',
        version: 1,
        maxEntries: options.maxEntries ?? Math.max(entries.length, 1),
        omitVersion: options.omitVersion ?? false,
        omitMaxEntries: options.omitMaxEntries ?? false,
        state: 'create-complete',
        history: new Map([[1, entries]]),
      };
      this.#byName.set(name, list);
      this.#byId.set(id, list);
      return { id, version: 1 };
    }
    if (options.id !== undefined && options.id !== list.id) {
      if (this.#byId.has(options.id))
        throw new Error(`local ec2.setPrefixList: id ${options.id} is already used`);
      this.#byId.delete(list.id);
      list.id = options.id;
      this.#byId.set(list.id, list);
    }
    list.addressFamily = family;
    if (options.ownerId !== undefined) list.ownerId = options.ownerId;
    if (options.omitVersion !== undefined) list.omitVersion = options.omitVersion;
    if (options.omitMaxEntries !== undefined) list.omitMaxEntries = options.omitMaxEntries;
    if (options.maxEntries !== undefined) list.maxEntries = options.maxEntries;
    const current = list.history.get(list.version) ?? [];
    if (!sameSet(current, entries)) {
      list.version += 1;
      list.state = 'modify-complete';
      list.maxEntries = Math.max(list.maxEntries, entries.length);
      list.history.set(list.version, entries);
      list.history.delete(list.version - KEPT_VERSIONS);
    }
    return { id: list.id, version: list.version };
  }

  getPrefixList(name: string): LocalPrefixListInfo | undefined {
    const list = this.#byName.get(name);
    if (list === undefined) return undefined;
    return {
      id: list.id,
      name: list.name,
      version: list.version,
      addressFamily: list.addressFamily,
      cidrs: [...(list.history.get(list.version) ?? [])],
    };
  }

  removePrefixList(name: string): boolean {
    const list = this.#byName.get(name);
    if (list === undefined) return false;
    this.#byName.delete(name);
    this.#byId.delete(list.id);
    return true;
  }

  deny(denied = true): void {
    this.#denied = denied;
  }

  // ---- wire --------------------------------------------------------------------------------

  /** Handle one query-protocol call with its decoded parameters. */
  handle(action: string, params: URLSearchParams, requestId: string): Reply {
    try {
      if (this.#denied) {
        throw new Ec2Error(
          'UnauthorizedOperation',
          'You are not authorized to perform this operation.',
          403,
        );
      }
      switch (action) {
        case 'DescribeManagedPrefixLists':
          return xmlReply(200, this.#describe(params, requestId), requestId);
        case 'GetManagedPrefixListEntries':
          return xmlReply(200, this.#entries(params, requestId), requestId);
        case 'DescribeSecurityGroups':
        case 'DescribeSecurityGroupRules': {
          const inner =
            action === 'DescribeSecurityGroups'
              ? this.securityGroups.describeGroups(params, QUERY_TOOLS)
              : this.securityGroups.describeRules(params, QUERY_TOOLS);
          return xmlReply(200, envelope(`${action}Response`, requestId, inner), requestId);
        }
        case 'DescribeInstances':
        case 'DescribeNetworkInterfaces':
        case 'DescribeRouteTables': {
          const inner =
            action === 'DescribeInstances'
              ? this.hosts.describeInstances(params, QUERY_TOOLS)
              : action === 'DescribeNetworkInterfaces'
                ? this.hosts.describeNetworkInterfaces(params, QUERY_TOOLS)
                : this.hosts.describeRouteTables(params, QUERY_TOOLS);
          return xmlReply(200, envelope(`${action}Response`, requestId, inner), requestId);
        }
        case '':
          throw new Ec2Error('MissingAction', 'The request must contain the parameter Action.');
        default:
          throw new Ec2Error(
            'InvalidAction',
            `The action ${action} is not valid for this web service.`,
          );
      }
    } catch (error) {
      if (error instanceof Ec2Error)
        return ec2Error(error.code, error.message, requestId, error.status);
      return ec2Error('InternalError', 'An internal error has occurred.', requestId, 500);
    }
  }

  #describe(params: URLSearchParams, requestId: string): string {
    const maxResults = parseMaxResults(params.get('MaxResults'));
    const filters = parseFilters(params);
    const ids = indexed(params, 'PrefixListId');
    let lists: StoredPrefixList[];
    if (ids.length > 0) {
      lists = ids.map((id) => {
        const list = this.#byId.get(id);
        if (list === undefined) {
          throw new Ec2Error(
            'InvalidPrefixListID.NotFound',
            `The prefix list ID '${id}' does not exist`,
          );
        }
        return list;
      });
    } else {
      lists = [...this.#byName.values()];
    }
    for (const { name, values } of filters) {
      const field = FILTER_FIELDS[name];
      if (field === undefined)
        throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
      lists = lists.filter((list) => values.includes(field(list)));
    }
    const { start, end, nextToken } = page(
      params.get('NextToken'),
      lists.length,
      maxResults,
      'describe',
    );
    const items = lists.slice(start, end).map((list) => {
      const parts = [
        `<prefixListId>${escapeXml(list.id)}</prefixListId>`,
        `<addressFamily>${list.addressFamily}</addressFamily>`,
        `<state>${list.state}</state>`,
        `<prefixListArn>arn:aws:ec2:${this.#region}:${list.ownerId === 'AWS' ? 'aws' : escapeXml(list.ownerId)}:prefix-list/${escapeXml(list.id)}</prefixListArn>`,
        `<prefixListName>${escapeXml(list.name)}</prefixListName>`,
      ];
      if (!list.omitMaxEntries) parts.push(`<maxEntries>${list.maxEntries}</maxEntries>`);
      if (!list.omitVersion) parts.push(`<version>${list.version}</version>`);
      parts.push('<tagSet/>', `<ownerId>${escapeXml(list.ownerId)}</ownerId>`);
      return `<item>${parts.join('')}</item>`;
    });
    return envelope(
      'DescribeManagedPrefixListsResponse',
      requestId,
      `${items.length === 0 ? '<prefixListSet/>' : `<prefixListSet>${items.join('')}</prefixListSet>`}${
        nextToken === undefined ? '' : `<nextToken>${nextToken}</nextToken>`
      }`,
    );
  }

  #entries(params: URLSearchParams, requestId: string): string {
    const id = params.get('PrefixListId');
    if (id === null || id === '') {
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter PrefixListId');
    }
    const list = this.#byId.get(id);
    if (list === undefined) {
      throw new Ec2Error(
        'InvalidPrefixListID.NotFound',
        `The prefix list ID '${id}' does not exist`,
      );
    }
    const maxResults = parseMaxResults(params.get('MaxResults'));
    const token = params.get('NextToken');
    const targetParam = params.get('TargetVersion');
    let version = list.version;
    if (targetParam !== null) {
      version = Number(targetParam);
      if (!Number.isInteger(version) || version < 1) {
        throw new Ec2Error(
          'InvalidParameterValue',
          `Invalid value '${targetParam}' for TargetVersion`,
        );
      }
    }
    // A NextToken pins the version it was issued for, so pages never mix two versions.
    const decoded = token === null ? undefined : decodeToken(token, `entries:${list.id}`);
    if (decoded !== undefined) version = decoded.version;
    const entries = list.history.get(version);
    if (entries === undefined) {
      throw new Ec2Error(
        'InvalidParameterValue',
        `The prefix list version ${version} does not exist for prefix list ${list.id}`,
      );
    }
    const { start, end, nextToken } = page(
      token,
      entries.length,
      maxResults,
      `entries:${list.id}`,
      version,
    );
    const items = entries
      .slice(start, end)
      .map((cidr) => `<item><cidr>${escapeXml(cidr)}</cidr></item>`)
      .join('');
    return envelope(
      'GetManagedPrefixListEntriesResponse',
      requestId,
      `${items.length === 0 ? '<entrySet/>' : `<entrySet>${items}</entrySet>`}${
        nextToken === undefined ? '' : `<nextToken>${nextToken}</nextToken>`
      }`,
    );
  }
}

const QUERY_TOOLS: QueryTools = {
  indexed,
  filters: parseFilters,
  page: (token, total, maxResults, scope) => page(token, total, maxResults, scope),
  maxResults: parseMaxResults,
  fail(code, message) {
    throw new Ec2Error(code, message);
  },
};

const FILTER_FIELDS: Record<string, ((list: StoredPrefixList) => string) | undefined> = {
  'prefix-list-name': (list) => list.name,
  'prefix-list-id': (list) => list.id,
  'owner-id': (list) => list.ownerId,
};

function randomPrefixListId(): string {
  return `pl-${randomBytes(4).toString('hex')}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function envelope(root: string, requestId: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NAMESPACE}"><requestId>${requestId}</requestId>${inner}</${root}>`;
}

/** Values of `Name.1`, `Name.2`, ... in order. */
function indexed(params: URLSearchParams, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const value = params.get(`${name}.${i}`);
    if (value === null) return out;
    out.push(value);
  }
}

function parseFilters(params: URLSearchParams): { name: string; values: string[] }[] {
  const filters: { name: string; values: string[] }[] = [];
  for (let i = 1; ; i++) {
    const name = params.get(`Filter.${i}.Name`);
    if (name === null) return filters;
    filters.push({ name, values: indexed(params, `Filter.${i}.Value`) });
  }
}

function parseMaxResults(
  raw: string | null,
  bounds: { readonly min: number; readonly max: number } = { min: 1, max: MAX_RESULTS_LIMIT },
): number {
  if (raw === null) return bounds.max;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < bounds.min || n > bounds.max) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value ( ${raw} ) for parameter maxResults is invalid. Expecting a value between ${bounds.min} and ${bounds.max}.`,
    );
  }
  return n;
}

/**
 * A `NextToken` every paged call reads as its first page: the one the `repeatNextToken` fault
 * answers, so a caller that follows it gets the same page again, for ever.
 */
export const EC2_FIRST_PAGE_AGAIN = 'first-page-again';

interface PageToken {
  readonly scope: string;
  readonly offset: number;
  readonly version: number;
}

function decodeToken(token: string, scope: string): PageToken {
  try {
    const parsed = JSON.parse(
      Buffer.from(token, 'base64url').toString('utf8'),
    ) as Partial<PageToken>;
    if (
      parsed.scope === scope &&
      Number.isInteger(parsed.offset) &&
      Number.isInteger(parsed.version) &&
      (parsed.offset ?? -1) >= 0
    ) {
      return parsed as PageToken;
    }
  } catch {
    // fall through
  }
  throw new Ec2Error('InvalidNextToken', 'The token provided is invalid.');
}

function page(
  token: string | null,
  total: number,
  maxResults: number,
  scope: string,
  version = 0,
): { start: number; end: number; nextToken: string | undefined } {
  const start =
    token === null || token === EC2_FIRST_PAGE_AGAIN ? 0 : decodeToken(token, scope).offset;
  const end = Math.min(total, start + maxResults);
  const nextToken =
    end < total
      ? Buffer.from(JSON.stringify({ scope, offset: end, version }), 'utf8').toString('base64url')
      : undefined;
  return { start, end, nextToken };
}

/** An EC2 query-protocol error reply. */
export function ec2Error(code: string, message: string, requestId: string, status = 400): Reply {
  return xmlReply(
    status,
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    requestId,
  );
}

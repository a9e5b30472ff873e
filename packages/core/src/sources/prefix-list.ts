/**
 * Range source backed by EC2 managed prefix lists (CloudFront's origin-facing lists by default):
 * resolve each name to its id, then read the entries with pagination.
 * Only loads; caching, refresh and last-known-good live in the cache layer.
 * @module
 */
import { createHash } from 'node:crypto';
import type { EC2Client, ManagedPrefixList } from '@aws-sdk/client-ec2';
import { SourceError } from '../errors.js';
import { CLOUDFRONT_PREFIX_LIST, CLOUDFRONT_PREFIX_LIST_IPV6 } from '../options/defaults.js';
import {
  awsCallError,
  awsErrorCode,
  createDeadline,
  lazyAwsClient,
  resolveTimeoutMs,
  untilAborted,
} from './aws-shared.js';
import { refuseHostileEntries } from './feed-check.js';
import { requirePeer } from './peer.js';
import type { AwsSdkClient, RangeSnapshot, RangeSource } from './types.js';

const MAX_PAGE_SIZE = 100;
/** Guard against a NextToken loop: 100 pages of 100 entries is far above any real list. */
const MAX_PAGES = 100;
const NOT_FOUND = 'InvalidPrefixListID.NotFound';
const SOURCE_NAME = 'prefix-list';

/** Options of {@link prefixListSource}. */
export interface PrefixListSourceOptions {
  /**
   * Names of the managed prefix lists to read. Each is resolved to its id (ids differ per
   * region) once per source and again when EC2 reports the id unknown.
   * Defaults to `['com.amazonaws.global.cloudfront.origin-facing']`.
   * @example
   * prefixListSource({ names: ['com.amazonaws.global.cloudfront.origin-facing'] });
   */
  readonly names?: readonly string[];
  /**
   * Also read `com.amazonaws.global.ipv6.cloudfront.origin-facing`. Defaults to `false`.
   * @example
   * prefixListSource({ ipv6: true });
   */
  readonly ipv6?: boolean;
  /**
   * A client to use as is (the source never destroys it). Its own timeouts and retries apply
   * per attempt; `timeoutMs` still bounds the whole load. Defaults to a client created on the
   * first load (the SDK is an optional peer dependency) and destroyed by `close()`.
   * @example
   * import { EC2Client } from '@aws-sdk/client-ec2';
   * prefixListSource({ client: new EC2Client({ region: 'eu-west-1' }) });
   */
  readonly client?: AwsSdkClient;
  /**
   * Region of the created client. Ignored with `client`. Defaults to the SDK's default chain
   * (`AWS_REGION`, shared config, ...).
   * @example
   * prefixListSource({ region: 'eu-west-1' });
   */
  readonly region?: string;
  /**
   * Endpoint of the created client. Ignored with `client`. Defaults to the SDK's resolution,
   * which honours `AWS_ENDPOINT_URL_EC2`.
   * @example
   * prefixListSource({ endpoint: 'http://127.0.0.1:4566' });
   */
  readonly endpoint?: string;
  /**
   * Upper bound in milliseconds for the AWS calls of one `load()`, every page and SDK retry
   * included; also the created client's connection and request timeouts. The one-time SDK
   * import (`@aws-sdk/client-ec2` takes ~0.6 s cold) and client creation of the first load are
   * not counted (the caller's signal still aborts them). Defaults to `3000`.
   * @example
   * prefixListSource({ timeoutMs: 5000 });
   */
  readonly timeoutMs?: number;
  /**
   * `MaxResults` of each `GetManagedPrefixListEntries` page, 1 to 100. Defaults to `100`.
   * @example
   * prefixListSource({ pageSize: 50 });
   */
  readonly pageSize?: number;
}

interface ListInfo {
  readonly name: string;
  readonly id: string;
  readonly version: number | undefined;
}

/**
 * A {@link RangeSource} reading CloudFront's origin-facing ranges from EC2 managed prefix lists.
 *
 * Each `load()` sends one `DescribeManagedPrefixLists` for all lists (by cached id, or by name
 * on the first load and after `InvalidPrefixListID.NotFound`), then, for each list whose
 * version changed since this source last read it, `GetManagedPrefixListEntries` page by page
 * pinned to that version (`TargetVersion`), so pages never mix two versions. An unchanged
 * version reuses the entries this source read before: a steady-state refresh is one API call.
 * `snapshot.version` is `name@version` per list (a hash of the sorted entries when EC2 leaves
 * the version out). An unknown name or an empty list fails the load with a `SourceError`, so
 * the guard keeps its last-known-good ranges.
 *
 * Needs `ec2:DescribeManagedPrefixLists` and `ec2:GetManagedPrefixListEntries`.
 * Defaults to the IPv4 CloudFront origin-facing list and a 3000 ms timeout.
 * @example
 * import { createOriginVerifier, prefixListSource } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({
 *   secret: process.env.ORIGIN_SECRET,
 *   ranges: prefixListSource({ ipv6: true }),
 * });
 */
export function prefixListSource(options: Readonly<PrefixListSourceOptions> = {}): RangeSource {
  const names = [
    ...new Set([
      ...(options.names ?? [CLOUDFRONT_PREFIX_LIST]),
      ...(options.ipv6 === true ? [CLOUDFRONT_PREFIX_LIST_IPV6] : []),
    ]),
  ];
  if (names.length === 0 || names.some((n) => typeof n !== 'string' || n.length === 0)) {
    throw new SourceError(SOURCE_NAME, '`names` must be a non-empty list of prefix list names.');
  }
  const timeoutMs = resolveTimeoutMs(SOURCE_NAME, options.timeoutMs);
  const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new SourceError(
      SOURCE_NAME,
      `\`pageSize\` must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${String(pageSize)}.`,
    );
  }
  /** name -> prefix list id, resolved by name at least once per source. */
  const ids = new Map<string, string>();
  /** id -> the entries read for a version, reused while the version does not change. */
  const lastRead = new Map<string, { version: number; cidrs: readonly string[] }>();
  if (options.client === undefined) requirePeer('client', '@aws-sdk/client-ec2', 'client');
  // The structural client is the SDK's client at run time.
  const injected = options.client as EC2Client | undefined;
  const aws = lazyAwsClient(SOURCE_NAME, { ...options, client: injected }, timeoutMs, {
    packageName: '@aws-sdk/client-ec2',
    importSdk: () => import('@aws-sdk/client-ec2'),
    create: ({ EC2Client }, config) => new EC2Client(config),
  });

  const fail = (what: string, error: unknown): SourceError =>
    awsCallError(SOURCE_NAME, what, error);

  /** Every page of DescribeManagedPrefixLists for one request. */
  const describe = async (
    client: EC2Client,
    mod: SdkModule,
    input: { PrefixListIds?: string[]; Filters?: { Name: string; Values: string[] }[] },
    signal: AbortSignal,
  ): Promise<ManagedPrefixList[]> => {
    const lists: ManagedPrefixList[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await client.send(
        new mod.DescribeManagedPrefixListsCommand({ ...input, NextToken: token }),
        { abortSignal: signal },
      );
      lists.push(...(out.PrefixLists ?? []));
      token = out.NextToken || undefined;
      if (token === undefined) return lists;
    }
    throw new SourceError(
      SOURCE_NAME,
      `DescribeManagedPrefixLists returned more than ${MAX_PAGES} pages.`,
    );
  };

  /** Current id and version of every list, re-resolving by name when a cached id is unknown. */
  const resolve = async (
    client: EC2Client,
    mod: SdkModule,
    signal: AbortSignal,
  ): Promise<ListInfo[]> => {
    const cached = names.map((n) => ids.get(n));
    if (cached.every((id): id is string => id !== undefined)) {
      try {
        const found = await describe(client, mod, { PrefixListIds: cached }, signal);
        const infos = names.map((name) =>
          pick(
            name,
            found.filter((l) => l.PrefixListName === name),
          ),
        );
        if (infos.every((i): i is ListInfo => i !== undefined && i.id === ids.get(i.name)))
          return infos;
      } catch (error) {
        if (awsErrorCode(error) !== NOT_FOUND) throw error;
      }
      ids.clear();
    }
    const found = await describe(
      client,
      mod,
      { Filters: [{ Name: 'prefix-list-name', Values: names }] },
      signal,
    );
    return names.map((name) => {
      const info = pick(
        name,
        found.filter((l) => l.PrefixListName === name),
      );
      if (info === undefined) {
        throw new SourceError(
          SOURCE_NAME,
          `managed prefix list "${name}" was not found (DescribeManagedPrefixLists by name returned no such list in the client's region).`,
        );
      }
      ids.set(name, info.id);
      return info;
    });
  };

  /** Every entry of one list at `info.version`, or the entries read before for that version. */
  const entries = async (
    client: EC2Client,
    mod: SdkModule,
    info: ListInfo,
    signal: AbortSignal,
  ): Promise<readonly string[]> => {
    const previous = lastRead.get(info.id);
    if (info.version !== undefined && previous?.version === info.version) return previous.cidrs;
    const cidrs = new Set<string>();
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) {
        throw new SourceError(
          SOURCE_NAME,
          `prefix list "${info.name}" (${info.id}) returned more than ${MAX_PAGES} pages.`,
        );
      }
      const out = await client.send(
        new mod.GetManagedPrefixListEntriesCommand({
          PrefixListId: info.id,
          MaxResults: pageSize,
          NextToken: token,
          TargetVersion: info.version,
        }),
        { abortSignal: signal },
      );
      for (const entry of out.Entries ?? []) {
        const cidr = entry.Cidr?.trim();
        if (cidr === undefined || cidr.length === 0 || !cidr.includes('/')) {
          throw new SourceError(
            SOURCE_NAME,
            `prefix list "${info.name}" (${info.id}) has an entry without a CIDR.`,
          );
        }
        cidrs.add(cidr);
      }
      token = out.NextToken || undefined;
      if (token === undefined) break;
      if (seen.has(token)) {
        throw new SourceError(
          SOURCE_NAME,
          `prefix list "${info.name}" (${info.id}): EC2 repeated a NextToken.`,
        );
      }
      seen.add(token);
    }
    if (cidrs.size === 0) {
      throw new SourceError(
        SOURCE_NAME,
        `prefix list "${info.name}" (${info.id}) has no entries; an empty list never replaces the current ranges.`,
      );
    }
    refuseHostileEntries(SOURCE_NAME, `prefix list "${info.name}" (${info.id})`, cidrs);
    const list = [...cidrs];
    if (info.version !== undefined) lastRead.set(info.id, { version: info.version, cidrs: list });
    return list;
  };

  /** `staleId.value` is set when an id resolved in this load was unknown to GetManagedPrefixListEntries. */
  const loadOnce = async (
    client: EC2Client,
    mod: SdkModule,
    signal: AbortSignal,
    staleId: { value: boolean },
  ): Promise<RangeSnapshot> => {
    let infos: ListInfo[];
    try {
      infos = await resolve(client, mod, signal);
    } catch (error) {
      if (error instanceof SourceError || signal.aborted) throw error;
      throw fail(`DescribeManagedPrefixLists for ${names.map((n) => `"${n}"`).join(', ')}`, error);
    }
    const lists = await Promise.all(
      infos.map(async (info) => {
        try {
          return { info, cidrs: await entries(client, mod, info, signal) };
        } catch (error) {
          if (error instanceof SourceError || signal.aborted) throw error;
          if (awsErrorCode(error) === NOT_FOUND) {
            ids.delete(info.name);
            staleId.value = true;
          }
          throw fail(
            `GetManagedPrefixListEntries for prefix list "${info.name}" (${info.id})`,
            error,
          );
        }
      }),
    );
    const cidrs = [...new Set(lists.flatMap((l) => l.cidrs))];
    const version = lists
      // The list id too: a list deleted and created again under its name starts at version 1
      // again, and the same tag would keep the old list's ranges (outside review, 4 December).
      .map(
        ({ info, cidrs: c }) => `${info.name}#${info.id}@${info.version ?? `sha256:${digest(c)}`}`,
      )
      .join(',');
    return { cidrs, version };
  };

  return {
    name: SOURCE_NAME,
    async load(signal: AbortSignal): Promise<RangeSnapshot> {
      if (aws.closed) throw new SourceError(SOURCE_NAME, 'load() called after close().');
      const deadline = createDeadline(signal, timeoutMs);
      try {
        const [client, mod] = await aws.open(deadline.signal);
        deadline.start();
        const run = async (): Promise<RangeSnapshot> => {
          const staleId = { value: false };
          try {
            return await loadOnce(client, mod, deadline.signal, staleId);
          } catch (error) {
            // The id went away between Describe and Get (list recreated): resolve by name once more.
            if (staleId.value && !deadline.signal.aborted) {
              return loadOnce(client, mod, deadline.signal, { value: false });
            }
            throw error;
          }
        };
        return await untilAborted(run(), deadline.signal);
      } catch (error) {
        if (deadline.signal.aborted)
          throw deadline.error(
            SOURCE_NAME,
            `reading prefix lists ${names.map((n) => `"${n}"`).join(', ')}`,
          );
        if (error instanceof SourceError) throw error;
        throw fail('loading prefix lists', error);
      } finally {
        deadline.dispose();
      }
    },
    close(): Promise<void> {
      return aws.close();
    },
  };
}

type SdkModule = typeof import('@aws-sdk/client-ec2');

/** The list for `name`, preferring an AWS-managed one when several share the name. */
function pick(name: string, lists: readonly ManagedPrefixList[]): ListInfo | undefined {
  const chosen = lists.find((l) => l.OwnerId === 'AWS') ?? lists[0];
  if (chosen?.PrefixListId === undefined) return undefined;
  return { name, id: chosen.PrefixListId, version: chosen.Version ?? undefined };
}

function digest(cidrs: readonly string[]): string {
  return createHash('sha256')
    .update([...cidrs].sort().join('\n'))
    .digest('hex')
    .slice(0, 16);
}

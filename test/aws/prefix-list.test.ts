/**
 * prefixListSource against the local endpoint, over the wire with the real SDK v3 EC2 client.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../packages/core/src/errors.js';
import {
  type PrefixListSourceOptions,
  prefixListSource,
} from '../../packages/core/src/sources/prefix-list.js';
import type { RangeSource } from '../../packages/core/src/sources/types.js';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
  CLOUDFRONT_PREFIX_LIST_V4,
  CLOUDFRONT_PREFIX_LIST_V6,
  type LocalAws,
  setEnv,
  startLocalAws,
} from '../aws-local/index.js';
import { load, loadError, sorted, waitFor } from './support.js';

const TIMEOUT_MS = 300;
/**
 * Slack for timer granularity and a loaded CI box (two test workers on two cores, GC). Wide on
 * purpose: what these tests tell apart is "bounded by timeoutMs or the abort" from "held until
 * the 5 s timeout or forever", which 1.5 s still does; 250 ms was within reach of a busy box.
 */
const MARGIN_MS = 1_500;
const DESCRIBE = 'ec2.DescribeManagedPrefixLists';
const ENTRIES = 'ec2.GetManagedPrefixListEntries';

/** The version tag of the lists, each `name#<list id>@version`, as a pattern. */
function versionTag(...lists: [name: string, version: number][]): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^${lists.map(([name, v]) => `${literal(name)}#pl-[0-9a-f]+@${v}`).join(',')}$`,
  );
}

let aws: LocalAws;
let restoreEnv: () => void;
const sources: RangeSource[] = [];

function source(options: PrefixListSourceOptions = {}): RangeSource {
  const s = prefixListSource({ timeoutMs: 5_000, ...options });
  sources.push(s);
  return s;
}

beforeAll(async () => {
  aws = await startLocalAws({ requireAccessKeyId: 'test' });
});

afterAll(async () => {
  await aws.close();
});

beforeEach(() => {
  // Fresh, seeded lists for every test (ids are random per list).
  aws.ec2.removePrefixList(CLOUDFRONT_PREFIX_LIST_V4);
  aws.ec2.removePrefixList(CLOUDFRONT_PREFIX_LIST_V6);
  aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4);
  aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V6, CLOUDFRONT_ORIGIN_FACING_V6);
  aws.ec2.deny(false);
  aws.faults.clear();
  aws.resetCalls();
  restoreEnv = setEnv(aws.env());
});

afterEach(async () => {
  aws.faults.clear();
  await Promise.all(sources.splice(0).map((s) => s.close?.()));
  restoreEnv();
});

describe('prefixListSource: reaching the endpoint', () => {
  it('reaches the endpoint given by the `endpoint` option and reads the IPv4 list by default', async () => {
    restoreEnv();
    restoreEnv = setEnv({
      AWS_ENDPOINT_URL_EC2: undefined,
      AWS_ENDPOINT_URL: undefined,
      AWS_REGION: undefined,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    const s = source({ endpoint: aws.url, region: 'ap-southeast-2' });

    const snapshot = await load(s);

    expect(sorted(snapshot.cidrs)).toEqual(sorted(CLOUDFRONT_ORIGIN_FACING_V4));
    expect(snapshot.version).toMatch(versionTag([CLOUDFRONT_PREFIX_LIST_V4, 1]));
    expect(
      aws.recentCalls.every((c) => c.accessKeyId === 'test' && c.region === 'ap-southeast-2'),
    ).toBe(true);
  });

  it('reaches the endpoint named by AWS_ENDPOINT_URL_EC2 and adds the IPv6 list with `ipv6`', async () => {
    const snapshot = await load(source({ ipv6: true }));

    expect(sorted(snapshot.cidrs)).toEqual(
      sorted([...CLOUDFRONT_ORIGIN_FACING_V4, ...CLOUDFRONT_ORIGIN_FACING_V6]),
    );
    expect(snapshot.version).toMatch(
      versionTag([CLOUDFRONT_PREFIX_LIST_V4, 1], [CLOUDFRONT_PREFIX_LIST_V6, 1]),
    );
    // One Describe for both names, one entries page per list.
    expect(aws.callCount(DESCRIBE)).toBe(1);
    expect(aws.callCount(ENTRIES)).toBe(2);
  });

  it('uses an injected client and never destroys it', async () => {
    const client = new EC2Client({
      endpoint: aws.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const s = source({ client });
    await load(s);
    await s.close?.();

    const again = prefixListSource({ client });
    expect((await load(again)).cidrs).toHaveLength(CLOUDFRONT_ORIGIN_FACING_V4.length);
    client.destroy();
  });
});

describe('prefixListSource: pagination and versions', () => {
  it('follows NextToken over every page (45 entries, 10 per page = 5 pages)', async () => {
    const snapshot = await load(source({ pageSize: 10 }));

    expect(sorted(snapshot.cidrs)).toEqual(sorted(CLOUDFRONT_ORIGIN_FACING_V4));
    expect(aws.callCount(ENTRIES)).toBe(5);
  });

  it('shows a list change in snapshot.version and re-reads only changed lists', async () => {
    // Arrange
    const s = source({ ipv6: true, pageSize: 20 });
    const first = await load(s);
    aws.resetCalls();

    // Act 1: nothing changed.
    const unchanged = await load(s);

    // Assert 1: one Describe call, no entries read again.
    expect(unchanged.version).toBe(first.version);
    expect(aws.calls).toEqual({ [DESCRIBE]: 1 });

    // Act 2: the IPv4 list changes.
    const added = '3.172.0.0/18';
    const { version } = aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, [
      ...CLOUDFRONT_ORIGIN_FACING_V4.slice(1),
      added,
    ]);
    aws.resetCalls();
    const changed = await load(s);

    // Assert 2
    expect(version).toBe(2);
    expect(changed.version).toMatch(
      versionTag([CLOUDFRONT_PREFIX_LIST_V4, 2], [CLOUDFRONT_PREFIX_LIST_V6, 1]),
    );
    expect(changed.cidrs).toContain(added);
    expect(changed.cidrs).not.toContain(CLOUDFRONT_ORIGIN_FACING_V4[0]);
    expect(aws.callCount(ENTRIES)).toBe(3);
  });

  it('tolerates a response without Version and MaxEntries (version from a hash of the entries)', async () => {
    aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4, {
      omitVersion: true,
      omitMaxEntries: true,
    });
    const s = source();

    const first = await load(s);
    aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4.slice(5));
    const second = await load(s);

    expect(first.cidrs).toHaveLength(45);
    expect(first.version).toMatch(
      new RegExp(
        `^${CLOUDFRONT_PREFIX_LIST_V4.replaceAll('.', '\\.')}#pl-[0-9a-f]+@sha256:[0-9a-f]{16}$`,
      ),
    );
    expect(second.cidrs).toHaveLength(40);
    expect(second.version).not.toBe(first.version);
  });

  it('resolves the name once, then describes by id', async () => {
    const s = source();
    await load(s);
    await load(s);
    await load(s);

    expect(aws.callCount(DESCRIBE)).toBe(3);
    expect(aws.callCount(ENTRIES)).toBe(1);
  });

  it('re-resolves by name when the cached id is reported unknown', async () => {
    const s = source();
    const first = await load(s);
    aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4, {
      id: 'pl-0a1b2c3d',
    });
    aws.resetCalls();

    const second = await load(s);

    expect(sorted(second.cidrs)).toEqual(sorted(first.cidrs));
    // By id (InvalidPrefixListID.NotFound), then by name; entries read for the new id.
    expect(aws.callCount(DESCRIBE)).toBe(2);
    expect(aws.callCount(ENTRIES)).toBe(1);
  });
});

describe('prefixListSource: failures', () => {
  it('names a list that does not exist', async () => {
    const error = await loadError(source({ names: ['com.example.no-such-list'] }));

    expect(error.message).toContain('"com.example.no-such-list" was not found');
    expect(error.source).toBe('prefix-list');
  });

  it('refuses an empty list', async () => {
    aws.ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, []);

    const error = await loadError(source());

    expect(error.message).toContain('has no entries');
  });

  it('surfaces UnauthorizedOperation (HTTP 403) without retrying', async () => {
    aws.ec2.deny();

    const error = await loadError(source());

    expect(error.awsCode).toBe('UnauthorizedOperation');
    expect(error.message).toContain('DescribeManagedPrefixLists');
    expect(error.message).toContain('HTTP 403 after 1 attempt');
    expect(aws.callCount(DESCRIBE)).toBe(1);
  });

  it('retries RequestLimitExceeded (HTTP 503, 3 attempts) before surfacing it', async () => {
    aws.faults.set({ throttle: true, actions: [ENTRIES] });

    const error = await loadError(source());

    expect(error.awsCode).toBe('RequestLimitExceeded');
    expect(error.message).toContain('GetManagedPrefixListEntries');
    expect(aws.callCount(ENTRIES)).toBe(3);
  });

  it('surfaces InternalError (HTTP 500) after the SDK retries', async () => {
    aws.faults.set({ outage: 'error', actions: ['ec2'] });

    const error = await loadError(source());

    expect(error.awsCode).toBe('InternalError');
    expect(aws.callCount(DESCRIBE)).toBe(3);
  });

  it('rejects pageSize outside 1..100 at construction', () => {
    expect(() => prefixListSource({ pageSize: 0 })).toThrow(SourceError);
    expect(() => prefixListSource({ pageSize: 101 })).toThrow(/pageSize/);
  });
});

describe('prefixListSource: timeouts and abort', () => {
  it(`rejects within about timeoutMs (${TIMEOUT_MS} ms) when GetManagedPrefixListEntries hangs`, async () => {
    // Arrange: Describe answers, the entries call hangs.
    aws.faults.set({ outage: 'hang', actions: [ENTRIES] });
    const s = source({ timeoutMs: TIMEOUT_MS, pageSize: 10 });

    // Act
    const start = performance.now();
    const error = await loadError(s);
    const ms = performance.now() - start;

    // Assert
    expect(error.awsCode).toBe('TimeoutError');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(aws.callCount(ENTRIES)).toBeGreaterThanOrEqual(1);
    expect(await waitFor(() => aws.faults.hanging === 0)).toBe(true);
  });

  it('rejects promptly when the caller aborts, and aborts the HTTP request', async () => {
    aws.faults.set({ outage: 'hang', actions: [DESCRIBE] });
    const s = source({ timeoutMs: 5_000 });
    const controller = new AbortController();
    const pending = loadError(s, controller.signal);
    expect(await waitFor(() => aws.faults.hanging === 1, 3_000)).toBe(true);

    const start = performance.now();
    controller.abort();
    const error = await pending;
    const ms = performance.now() - start;

    expect(error.awsCode).toBe('AbortError');
    expect(ms).toBeLessThan(MARGIN_MS);
    expect(await waitFor(() => aws.faults.hanging === 0)).toBe(true);
  });
});

/**
 * `rangesMaxStaleMs` over the wire: the guard's own `'prefix-list'` (real SDK v3 EC2 client) and
 * `'ip-ranges'` (global fetch) sources against the local endpoint. A list AWS stops confirming
 * is dropped after the bound (requests denied `ranges-unavailable`, an `expired` event), a
 * confirmation that nothing changed (an unchanged prefix-list version, an ip-ranges 304) keeps
 * it, and a load that fails or is refused does not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOriginVerifier,
  type OriginGuardOptions,
  type OriginVerifier,
  type SourceEvent,
  sourceEventLogLine,
} from '../../packages/core/src/index.js';
import { CLOUDFRONT_ORIGIN_FACING_V4, CLOUDFRONT_ORIGIN_FACING_V6 } from '../aws-local/index.js';
import { useLocalAws, waitFor } from './support.js';

const SECRET = 'origin-verify-V1-7f3a9c2e4b6d8f10';
const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
/** Inside the seeded origin-facing 3.10.17.128/25. */
const EDGE = '3.10.17.130';
/** The smallest refresh interval the options allow; the bound is two of them. */
const REFRESH_MS = 1_000;
const MAX_STALE_MS = 2_000;
/**
 * Slack for timers on a loaded CI box (two test workers on two cores): what the tests tell apart
 * is "dropped about a bound after the last confirmation" from "never dropped".
 */
const MARGIN_MS = 3_000;
const ENTRIES = 'ec2.GetManagedPrefixListEntries';

const usedLocalAws = useLocalAws({
  env: true,
  beforeEachTest: (aws) => {
    aws.ipRanges.setOriginFacing(CLOUDFRONT_ORIGIN_FACING_V4, CLOUDFRONT_ORIGIN_FACING_V6);
  },
});
const localAws = () => usedLocalAws.aws;
const verifiers: OriginVerifier[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.all(verifiers.splice(0).map((v) => v.close()));
});

/** One of the guard's AWS range feeds, as a test arranges and breaks it. */
interface Feed {
  readonly name: 'prefix-list' | 'ip-ranges';
  /** The range options of a guard reading a fresh copy of the list. */
  arrange(): Pick<
    OriginGuardOptions,
    'ranges' | 'prefixListNames' | 'ipRangesUrl' | 'allowInsecureIpRangesUrl'
  >;
  /** What the feed's outage is limited to (`faults.set({ actions })`). */
  readonly actions: readonly string[];
  /** Calls that read the list in full since the last `resetCalls()`. */
  fullReads(): number;
  /** AWS publishes a new list the guard cannot take (the load fails or is refused). */
  changeUnreadably(): void;
}

let listName = '';

const FEEDS: readonly Feed[] = [
  {
    name: 'prefix-list',
    arrange: () => {
      listName = `test.cloudfront.origin-facing-stale-${++counter}`;
      localAws().ec2.setPrefixList(listName, CLOUDFRONT_ORIGIN_FACING_V4);
      return { ranges: 'prefix-list', prefixListNames: [listName] };
    },
    actions: ['ec2'],
    fullReads: () => localAws().callCount(ENTRIES),
    changeUnreadably: () => {
      // A new version whose entries cannot be read: Describe answers, Get fails.
      localAws().ec2.setPrefixList(listName, [...CLOUDFRONT_ORIGIN_FACING_V4, '44.224.10.0/24']);
      localAws().faults.set({ outage: 'error', actions: [ENTRIES] });
    },
  },
  {
    name: 'ip-ranges',
    arrange: () => ({
      ranges: 'ip-ranges',
      ipRangesUrl: localAws().ipRangesUrl,
      allowInsecureIpRangesUrl: true,
    }),
    actions: ['ip-ranges'],
    fullReads: () => localAws().callCount('ip-ranges') - localAws().ipRanges.notModified,
    changeUnreadably: () => {
      // A new document with an entry no CloudFront list holds: refused whole.
      localAws().ipRanges.setOriginFacing(['0.0.0.0/0', ...CLOUDFRONT_ORIGIN_FACING_V4]);
    },
  },
];

/** A loaded guard on `feed`, refreshing the ranges every second, bounded to two seconds. */
async function guard(feed: Feed): Promise<{ v: OriginVerifier; events: SourceEvent[] }> {
  const v = createOriginVerifier({
    secret: [SECRET],
    ...feed.arrange(),
    rangesRefreshMs: REFRESH_MS,
    rangesMaxStaleMs: MAX_STALE_MS,
    refreshJitter: 0,
    // Generous: a slow success only delays the expiry it beats (the load in flight decides), and
    // the outages here answer at once. 300 ms timed out a healthy first load on a busy box.
    timeoutMs: 2_000,
  });
  verifiers.push(v);
  const events: SourceEvent[] = [];
  v.onSourceEvent((e) => events.push(e));
  await v.ready();
  expect(reason(v)).toBe('verified');
  localAws().resetCalls();
  return { v, events };
}

/** The reason of a request through CloudFront's edge `EDGE` and an ALB. */
function reason(v: OriginVerifier): string {
  return v.verify({
    remoteAddress: '10.0.1.15',
    headers: {
      'x-forwarded-for': `198.51.100.23, ${EDGE}`,
      'x-amz-cf-id': CF_ID,
      'x-origin-verify': SECRET,
    },
  }).reason;
}

describe.each(FEEDS)('rangesMaxStaleMs with ranges: $name', (feed) => {
  it('denies ranges-unavailable once no ranges load succeeded for rangesMaxStaleMs, says so, and recovers at the next load', async () => {
    // Arrange
    const { v, events } = await guard(feed);

    // Act: the feed goes down for good.
    localAws().faults.set({ outage: 'error', actions: feed.actions });

    // Assert: the list is dropped, with one error event naming the bound.
    expect(await waitFor(() => v.stats().sources.ranges.expired, 10_000)).toBe(true);
    expect(reason(v)).toBe('ranges-unavailable');
    expect(v.isReady).toBe(false);
    expect(v.stats().sources.ranges.loaded).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['failing', 'expired']);
    const expired = events[1]!;
    expect(expired).toMatchObject({
      type: 'expired',
      source: 'ranges',
      reason: 'max-stale',
      staleMs: MAX_STALE_MS,
    });
    expect(sourceEventLogLine(expired)).toBe(
      'cdn-origin-guard ranges source expired: not confirmed current for rangesMaxStaleMs (2 s); denying until a load succeeds',
    );

    // Act: the feed is back.
    localAws().faults.clear();

    // Assert: the next load brings the list back, said once.
    expect(await waitFor(() => reason(v) === 'verified', 10_000)).toBe(true);
    expect(v.stats().sources.ranges.expired).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['failing', 'expired', 'recovered']);
  });

  it(`keeps the list while AWS confirms it unchanged (${feed.name === 'ip-ranges' ? '304 Not Modified' : 'same version'}), and counts the bound from the last confirmation`, async () => {
    // Arrange
    const { v, events } = await guard(feed);

    // Act: three bounds' worth of refreshes that only confirm the list.
    let denied = 0;
    const end = performance.now() + 3 * MAX_STALE_MS;
    while (performance.now() < end) {
      if (reason(v) !== 'verified') denied++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Assert: never dropped, and the list was never read again in full.
    expect(denied).toBe(0);
    expect(events).toEqual([]);
    expect(v.stats().sources.ranges.loads).toBeGreaterThanOrEqual(4);
    expect(feed.fullReads()).toBe(0);
    if (feed.name === 'ip-ranges')
      expect(localAws().ipRanges.notModified).toBeGreaterThanOrEqual(3);

    // Act: the confirmations stop.
    const outage = performance.now();
    localAws().faults.set({ outage: 'error', actions: feed.actions });

    // Assert: dropped within the bound of the last confirmation (a refresh interval ago at most).
    expect(await waitFor(() => v.stats().sources.ranges.expired, 10_000)).toBe(true);
    expect(performance.now() - outage).toBeLessThan(MAX_STALE_MS + MARGIN_MS);
    expect(reason(v)).toBe('ranges-unavailable');
  });

  it('does not take a new list AWS published but the guard could not take as a confirmation of the old one', async () => {
    // Arrange
    const { v, events } = await guard(feed);

    // Act: AWS moves on to a list the loads fail on or refuse.
    feed.changeUnreadably();

    // Assert: the old list is no longer confirmed current: dropped after the bound.
    expect(await waitFor(() => v.stats().sources.ranges.expired, 10_000)).toBe(true);
    expect(reason(v)).toBe('ranges-unavailable');
    expect(events.map((e) => e.type)).toEqual(['failing', 'expired']);
    expect(v.stats().sources.ranges.lastError?.message).toMatch(
      feed.name === 'ip-ranges' ? /0\.0\.0\.0\/0/ : /GetManagedPrefixListEntries/,
    );
  });
});

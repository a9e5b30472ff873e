/**
 * The real `createOriginVerifier` with `secretId` and `ranges: 'prefix-list'` / `'ip-ranges'`,
 * its AWS SDK v3 clients talking to the local AWS-protocol endpoint on 127.0.0.1: rotation,
 * a cold-start burst, outages before and after the first load, prefix-list pagination and
 * version changes, ip-ranges filtering, a flood of wrong values and `jsonKey`.
 *
 * Timing: real timers throughout (the SDK uses real sockets). Periodic refreshes run with the
 * smallest allowed interval (`secretRefreshMs` / `rangesRefreshMs` 1000 ms, no jitter) and the
 * tests wait for the refresh counters to move rather than for a fixed time.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createOriginVerifier,
  type Decision,
  NotReadyError,
  type OriginVerifier,
  type SecretSource,
  type SecretsManagerOptions,
  secretsManagerSource,
  type VerifyInput,
} from '../../packages/core/src/index.js';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
  CLOUDFRONT_PREFIX_LIST_V4,
  CLOUDFRONT_VIEWER_FACING_V4,
  CLOUDFRONT_VIEWER_FACING_V6,
  type LocalAws,
  setEnv,
  startLocalAws,
} from '../aws-local/index.js';
import { waitFor } from './support.js';

// Recognisable values: no error message may ever contain them.
const V1 = 'origin-verify-V1-7f3a9c2e4b6d8f10';
const V2 = 'origin-verify-V2-a1b2c3d4e5f60718';
const V3 = 'origin-verify-V3-99887766554433aa';
const WRONG = 'origin-verify-XX-0000000000000000';
const SECRET_VALUES = [V1, V2, V3];

const GET_SECRET = 'secretsmanager.GetSecretValue';
const DESCRIBE = 'ec2.DescribeManagedPrefixLists';
const ENTRIES = 'ec2.GetManagedPrefixListEntries';
const IP_RANGES = 'ip-ranges';

/** An ALB node: private, so a trusted proxy by default. */
const ALB = '10.0.1.15';
const VIEWER = '198.51.100.23';
const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
/** Inside the seeded origin-facing 3.10.17.128/25. */
const EDGE_V4 = '3.10.17.130';
/** Inside the seeded origin-facing 2600:1f14:1c1a:a00::/56. */
const EDGE_V6 = '2600:1f14:1c1a:a00::17';
/** Fastest periodic refresh the options allow. */
const REFRESH_MS = 1_000;
const HOUR = 3_600_000;

let aws: LocalAws;
let restoreEnv: () => void = () => undefined;
let counter = 0;
const verifiers: OriginVerifier[] = [];
const clients: { destroy(): void }[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

/** A request as the app sees it behind CloudFront and an ALB. */
function request(secret: string | undefined, edge = EDGE_V4): VerifyInput {
  return {
    remoteAddress: ALB,
    method: 'GET',
    path: '/orders/42',
    headers: {
      'x-forwarded-for': `${VIEWER}, ${edge}`,
      'x-amz-cf-id': CF_ID,
      ...(secret === undefined ? {} : { 'x-origin-verify': secret }),
    },
  };
}

/** `verified:<stage>` for a verified decision, otherwise the reason. */
function outcome(decision: Decision): string {
  return decision.reason === 'verified' ? `verified:${decision.secretStage}` : decision.reason;
}

/** The network address plus one: inside the CIDR (every CIDR here ends in `::` or has room). */
function firstAddress(cidr: string): string {
  const [network = ''] = cidr.split('/');
  if (network.includes(':')) return `${network}1`;
  const octets = network.split('.').map(Number);
  octets[3] = (octets[3] ?? 0) + 1;
  return octets.join('.');
}

/** A fresh secret id per test, so tests never share state. */
function secretName(): string {
  counter++;
  return `prod/cloudfront/origin-verify-${counter}`;
}

function verifier(options: SecretsManagerOptions): OriginVerifier {
  const v = createOriginVerifier(options);
  verifiers.push(v);
  return v;
}

/** Attempts (successful or failed) of one cached source so far. */
function attempts(v: OriginVerifier, which: 'secret' | 'ranges'): number {
  const s = v.stats().sources[which];
  return s.loads + s.failures;
}

/** Wait until `which` has finished `count` more load attempts (periodic or forced). */
async function nextRefreshes(
  v: OriginVerifier,
  which: 'secret' | 'ranges',
  count = 1,
): Promise<void> {
  const target = attempts(v, which) + count;
  // One interval, the per-load timeout and slack per refresh.
  const done = await waitFor(() => attempts(v, which) >= target, count * (REFRESH_MS + 1_500));
  expect(done, `${which} refreshed ${count} more time(s)`).toBe(true);
}

/** Walks the error, its stack and its cause chain: no secret value anywhere. */
function expectNoSecretIn(error: unknown): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    const text = `${String(current)} ${(current as Error).stack ?? ''}`;
    for (const value of SECRET_VALUES) expect(text).not.toContain(value);
    const errors = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) for (const e of errors) expectNoSecretIn(e);
    current = (current as { cause?: unknown }).cause;
  }
}

/** How the SDK clients find the local endpoint. */
interface Wiring {
  readonly name: string;
  /** Variables applied for the test (restored after it). */
  env(): Record<string, string | undefined>;
  /** Extra verifier options (own clients), or none. */
  clients(): Pick<SecretsManagerOptions, 'secretsManagerClient' | 'ec2Client'>;
}

const WIRINGS: readonly Wiring[] = [
  {
    name: 'AWS_ENDPOINT_URL_* and static credentials in the environment',
    env: () => ({ ...aws.env(), AWS_ENDPOINT_URL: undefined }),
    clients: () => ({}),
  },
  {
    name: 'own clients built with `endpoint`',
    // The environment points at a closed local port: only the clients' own endpoint works.
    env: () => ({
      ...aws.env(),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL: undefined,
    }),
    clients: () => {
      const config = {
        endpoint: aws.url,
        region: aws.region,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      };
      const secretsManagerClient = new SecretsManagerClient(config);
      const ec2Client = new EC2Client(config);
      clients.push(secretsManagerClient, ec2Client);
      return { secretsManagerClient, ec2Client };
    },
  },
];

beforeAll(async () => {
  aws = await startLocalAws({ requireAccessKeyId: 'test' });
  process.on('unhandledRejection', onUnhandled);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await aws.close();
});

beforeEach(() => {
  aws.faults.clear();
  aws.resetCalls();
  unhandled.length = 0;
});

afterEach(async () => {
  await Promise.all(verifiers.splice(0).map((v) => v.close()));
  for (const c of clients.splice(0)) c.destroy();
  aws.faults.clear();
  restoreEnv();
  restoreEnv = () => undefined;
  expect(unhandled, 'unhandled rejections').toEqual([]);
});

describe.each(WIRINGS)('createOriginVerifier over the wire: $name', (wiring) => {
  beforeEach(() => {
    // Never let the SDK look for instance metadata (a network call) whatever the wiring.
    restoreEnv = setEnv({ ...wiring.env(), AWS_EC2_METADATA_DISABLED: 'true' });
  });

  it('accepts a pending value at once, then current and previous through two rotations, and denies the value two rotations old', async () => {
    // Arrange: v1 is current. A mismatch forces a refresh at once when none was forced in the
    // last second (mismatchRefreshMs, at its floor; the periodic refresh awaited between the
    // two rotations comes a second after the last load); promotions, which change no value's
    // acceptance, are picked up by the periodic refresh.
    const id = secretName();
    aws.secrets.put(id, V1);
    const v = verifier({
      secretId: id,
      ranges: 'prefix-list',
      mismatchRefreshMs: 1_000,
      secretRefreshMs: REFRESH_MS,
      refreshJitter: 0,
      ...wiring.clients(),
    });
    await v.ready();
    expect(outcome(await v.check(request(V1)))).toBe('verified:AWSCURRENT');

    // Act 1: rotation step createSecret puts v2 under AWSPENDING; CloudFront already sends it.
    aws.secrets.stagePending(id, V2);
    const pending = await v.check(request(V2));

    // Assert 1: the mismatch forced a refresh and v2 passed on the same request; v1 still passes.
    expect(outcome(pending)).toBe('verified:AWSPENDING');
    expect(v.stats().sources.secret.forcedRefreshes).toBe(1);
    expect(outcome(await v.check(request(V1)))).toBe('verified:AWSCURRENT');

    // Act 2: finishSecret promotes v2; wait for the periodic refresh.
    aws.secrets.promote(id);
    await nextRefreshes(v, 'secret');

    // Assert 2
    expect(outcome(v.verify(request(V2)))).toBe('verified:AWSCURRENT');
    expect(outcome(v.verify(request(V1)))).toBe('verified:AWSPREVIOUS');

    // Act 3: the next rotation, to v3 (v1 loses its last label).
    aws.secrets.rotate(id, V3);
    const third = await v.check(request(V3));
    const second = await v.check(request(V2));
    const first = await v.check(request(V1));

    // Assert 3
    expect(outcome(third)).toBe('verified:AWSCURRENT');
    expect(outcome(second)).toBe('verified:AWSPREVIOUS');
    expect(first).toMatchObject({ allowed: false, reason: 'invalid-secret', check: 'secret' });
    expect(v.stats().bySecretStage).toMatchObject({ AWSPENDING: 1, AWSPREVIOUS: 2 });
  });

  it('answers 1,000 concurrent first requests with one load: one GetSecretValue per stage, one Describe, one entries page per list', async () => {
    // Arrange: all three stages exist; IPv4 and IPv6 prefix lists (45 and 15 entries, one page each).
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.secrets.put(id, V2); // V1 becomes AWSPREVIOUS
    aws.secrets.stagePending(id, V3);
    const v = verifier({ secretId: id, ranges: 'prefix-list', ipv6: true, ...wiring.clients() });
    aws.resetCalls();

    // Act: before anything is loaded.
    const decisions = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        v.check(request([V1, V2, V3][i % 3], i % 2 === 0 ? EDGE_V4 : EDGE_V6)),
      ),
    );

    // Assert
    expect(aws.callCount(GET_SECRET)).toBe(3);
    expect(aws.callCount(DESCRIBE)).toBe(1);
    expect(aws.callCount(ENTRIES)).toBe(2);
    expect(decisions.filter((d) => d.reason === 'verified')).toHaveLength(1_000);
    expect(v.stats().bySecretStage).toEqual({ AWSPREVIOUS: 334, AWSCURRENT: 333, AWSPENDING: 333 });
    expect(v.isReady).toBe(true);
  });

  const DOWN_FROM_START = [
    {
      service: 'Secrets Manager',
      action: 'secretsmanager',
      down: 'secret',
      up: 'ranges',
      named: (id: string) => [`"${id}"`, 'InternalServiceError'],
    },
    {
      service: 'EC2',
      action: 'ec2',
      down: 'ranges',
      up: 'secret',
      named: () => ['prefix-list', CLOUDFRONT_PREFIX_LIST_V4, 'InternalError'],
    },
  ] as const;

  it.each(DOWN_FROM_START)(
    'rejects ready() with NotReadyError naming what failed and the AWS code when $service is down from the start, denies with $down-unavailable, and recovers by itself',
    async ({ action, down, up, named }) => {
      // Arrange
      const id = secretName();
      aws.secrets.put(id, V1);
      aws.faults.set({ outage: 'error', actions: [action] });
      const v = verifier({ secretId: id, ranges: 'prefix-list', ...wiring.clients() });

      // Act
      const error = await v.ready().then(
        () => undefined,
        (e: unknown) => e,
      );
      const decision = v.verify(request(V1));

      // Assert
      expect(error).toBeInstanceOf(NotReadyError);
      for (const text of named(id)) expect((error as Error).message).toContain(text);
      expectNoSecretIn(error);
      expect(decision).toMatchObject({ allowed: false, reason: `${down}-unavailable` });
      expect(v.stats().sources[up].loaded).toBe(true);

      // Act 2: the service comes back; the background retry (about 1 s later) loads it.
      aws.faults.clear();
      await nextRefreshes(v, down);

      // Assert 2: fail-closed only until the first successful load.
      expect(v.isReady).toBe(true);
      expect(outcome(v.verify(request(V1)))).toBe('verified:AWSCURRENT');
    },
  );
});

describe('createOriginVerifier over the wire: sources in use', () => {
  beforeEach(() => {
    restoreEnv = setEnv({
      ...aws.env(),
      AWS_ENDPOINT_URL: undefined,
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  });

  // KNOWN BUG (verifier.ts, not fixed here): after a failed first ready(), ready() keeps
  // returning that rejected promise even once the background retries have loaded every source
  // (isReady is true). `it.fails` pins the bug; drop `.fails` once ready() is fixed.
  it('resolves ready() once the sources have loaded in the background after a failed first ready()', async () => {
    // Arrange: Secrets Manager is down for the first ready().
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ outage: 'error', actions: ['secretsmanager'] });
    const v = verifier({ secretId: id, ranges: 'prefix-list' });
    await expect(v.ready()).rejects.toBeInstanceOf(NotReadyError);
    aws.faults.clear();
    await nextRefreshes(v, 'secret');
    expect(v.isReady).toBe(true);

    // Act
    const again = v.ready();

    // Assert
    await expect(again).resolves.toBeUndefined();
  });

  it('sends one GetSecretValue per configured stage whether or not the stage exists', async () => {
    // Arrange: a secret never rotated (AWSCURRENT only).
    const id = secretName();
    aws.secrets.put(id, V1);
    const all = verifier({ secretId: id, ranges: 'prefix-list' });
    const currentOnly = verifier({
      secretId: id,
      ranges: 'prefix-list',
      secretStages: ['AWSCURRENT'],
    });

    // Act
    await all.ready();
    const withMissingStages = aws.callCount(GET_SECRET);
    aws.resetCalls();
    await currentOnly.ready();

    // Assert: missing AWSPREVIOUS/AWSPENDING still cost a call each (answered ResourceNotFound).
    expect(withMissingStages).toBe(3);
    expect(aws.callCount(GET_SECRET)).toBe(1);
    expect(outcome(all.verify(request(V1)))).toBe('verified:AWSCURRENT');
  });

  it('keeps verifying on last-known-good values through an error outage and a hanging outage, without unhandled rejections, and picks up a rotation once AWS is back', async () => {
    // Arrange: refresh both sources every second; every AWS call bounded by 300 ms.
    const id = secretName();
    aws.secrets.put(id, V1);
    const v = verifier({
      secretId: id,
      ranges: 'prefix-list',
      secretRefreshMs: REFRESH_MS,
      rangesRefreshMs: REFRESH_MS,
      refreshJitter: 0,
      timeoutMs: 300,
      mismatchRefreshMs: 1_000,
    });
    await v.ready();
    const decisions: Decision[] = [];
    let traffic = true;
    const drive = (async () => {
      while (traffic) {
        decisions.push(v.verify(request(V1)));
        decisions.push(await v.check(request(V1, EDGE_V4)));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    // Act 1: every call answers a 500.
    aws.faults.set({ outage: 'error' });
    await nextRefreshes(v, 'secret', 2);
    // A wrong value forces a refresh that fails: still a plain deny.
    const wrongDuringError = await v.check(request(WRONG));

    // Act 2: every call hangs.
    aws.faults.set({ outage: 'hang' });
    await Promise.all([nextRefreshes(v, 'secret'), nextRefreshes(v, 'ranges')]);
    const wrongDuringHang = await v.check(request(WRONG));
    traffic = false;
    await drive;
    const { secret, ranges } = v.stats().sources;

    // Assert: outages
    expect(decisions.length).toBeGreaterThan(20);
    expect(decisions.filter((d) => outcome(d) !== 'verified:AWSCURRENT')).toEqual([]);
    expect(wrongDuringError).toMatchObject({ allowed: false, reason: 'invalid-secret' });
    expect(wrongDuringHang).toMatchObject({ allowed: false, reason: 'invalid-secret' });
    expect(secret.failures).toBeGreaterThanOrEqual(3);
    expect(ranges.failures).toBeGreaterThan(0);
    expect(secret.lastError?.code).toBe('TimeoutError');
    expect(secret.lastError?.message).not.toContain(V1);

    // Act 3: AWS is back and the secret is rotated; no request forces a refresh.
    aws.faults.clear();
    aws.secrets.rotate(id, V2);
    await nextRefreshes(v, 'secret');

    // Assert: recovery within one refresh
    expect(outcome(v.verify(request(V2)))).toBe('verified:AWSCURRENT');
    expect(outcome(v.verify(request(V1)))).toBe('verified:AWSPREVIOUS');
    expect(v.stats().sources.secret.lastError).toBeUndefined();
    expect(unhandled).toEqual([]);
  });

  it('reads a prefix list across 3 pages, rebuilds only when its version changes, and swaps the matcher on a new version', async () => {
    // Arrange: 250 entries, i.e. pages of 100, 100 and 50 (the source's page size is 100).
    const id = secretName();
    aws.secrets.put(id, V1);
    const name = `test.cloudfront.origin-facing-${counter}`;
    const cidrs = Array.from(
      { length: 250 },
      (_, i) => `52.${100 + (i >> 7)}.${(i & 127) * 2}.0/24`,
    );
    const listId = aws.ec2.setPrefixList(name, cidrs).id;
    const inside = (cidr: string): string => cidr.replace(/\.0\/24$/, '.77');
    const removed = cidrs[17]!;
    const added = '44.224.10.0/24';
    const v = verifier({
      secretId: id,
      ranges: 'prefix-list',
      prefixListNames: [name],
      rangesRefreshMs: REFRESH_MS,
      refreshJitter: 0,
    });

    // Act 1
    await v.ready();

    // Assert 1: three entry pages, every entry matched, one build.
    expect(aws.callCount(ENTRIES)).toBe(3);
    const misses = cidrs.filter(
      (c) => outcome(v.verify(request(V1, inside(c)))) !== 'verified:AWSCURRENT',
    );
    expect(misses).toEqual([]);
    expect(outcome(v.verify(request(V1, inside(added))))).toBe('edge-not-cloudfront');
    expect(v.stats().sources.ranges.rebuilds).toBe(1);

    // Act 2: a refresh with the version unchanged.
    aws.resetCalls();
    await nextRefreshes(v, 'ranges');

    // Assert 2: one Describe, no entries read, no rebuild.
    expect(aws.callCount(DESCRIBE)).toBe(1);
    expect(aws.callCount(ENTRIES)).toBe(0);
    expect(v.stats().sources.ranges).toMatchObject({ loads: 2, rebuilds: 1, failures: 0 });

    // Act 3: a new version drops one CIDR and adds another.
    const next = [...cidrs.filter((c) => c !== removed), added];
    const { version } = aws.ec2.setPrefixList(name, next);
    await nextRefreshes(v, 'ranges');

    // Assert 3
    expect(version).toBe(2);
    expect(v.stats().sources.ranges).toMatchObject({ rebuilds: 2, version: `${name}#${listId}@2` });
    expect(outcome(v.verify(request(V1, inside(added))))).toBe('verified:AWSCURRENT');
    expect(outcome(v.verify(request(V1, inside(removed))))).toBe('edge-not-cloudfront');
  });

  it('matches only CLOUDFRONT_ORIGIN_FACING entries of ip-ranges.json and rebuilds only when the syncToken changes', async () => {
    // Arrange
    const id = secretName();
    aws.secrets.put(id, V1);
    const v = verifier({
      secretId: id,
      ranges: 'ip-ranges',
      ipRangesUrl: aws.ipRangesUrl,
      allowInsecureIpRangesUrl: true,
      rangesRefreshMs: REFRESH_MS,
      refreshJitter: 0,
    });
    const notOriginFacing = [
      ...CLOUDFRONT_VIEWER_FACING_V4.map(firstAddress), // CLOUDFRONT (viewer-facing)
      ...CLOUDFRONT_VIEWER_FACING_V6.map(firstAddress),
      '3.5.140.1', // AMAZON
      '52.93.178.234', // AMAZON
      '2600:1f18::1', // AMAZON, EC2
      '52.92.16.1', // S3
    ];

    // Act 1
    await v.ready();

    // Assert 1
    expect(outcome(v.verify(request(V1, EDGE_V4)))).toBe('verified:AWSCURRENT');
    expect(outcome(v.verify(request(V1, EDGE_V6)))).toBe('verified:AWSCURRENT');
    for (const cidr of [...CLOUDFRONT_ORIGIN_FACING_V4, ...CLOUDFRONT_ORIGIN_FACING_V6]) {
      expect(outcome(v.verify(request(V1, firstAddress(cidr)))), cidr).toBe('verified:AWSCURRENT');
    }
    for (const address of notOriginFacing) {
      expect(outcome(v.verify(request(V1, address))), address).toBe('edge-not-cloudfront');
    }
    expect(v.stats().sources.ranges.rebuilds).toBe(1);

    // Act 2: the same document again (answered 304 Not Modified).
    await nextRefreshes(v, 'ranges');

    // Assert 2
    expect(aws.callCount(IP_RANGES)).toBe(2);
    expect(v.stats().sources.ranges).toMatchObject({ loads: 2, rebuilds: 1, failures: 0 });

    // Act 3: a new syncToken with one more origin-facing range.
    const token = aws.ipRanges.setOriginFacing(
      [...CLOUDFRONT_ORIGIN_FACING_V4, '44.224.10.0/24'],
      CLOUDFRONT_ORIGIN_FACING_V6,
    );
    await nextRefreshes(v, 'ranges');

    // Assert 3
    expect(v.stats().sources.ranges).toMatchObject({ rebuilds: 2, version: token });
    expect(outcome(v.verify(request(V1, '44.224.10.9')))).toBe('verified:AWSCURRENT');
  });

  it('lets a flood of 500 wrong values within one window cause at most one extra round of GetSecretValue', async () => {
    // Arrange
    const id = secretName();
    aws.secrets.put(id, V1);
    const v = verifier({ secretId: id, ranges: 'prefix-list', mismatchRefreshMs: 60_000 });
    await v.ready();
    aws.resetCalls();

    // Act
    const decisions = await Promise.all(
      Array.from({ length: 500 }, (_, i) => v.check(request(`${WRONG.slice(0, -4)}${1000 + i}`))),
    );
    const legit = await v.check(request(V1));

    // Assert: one forced refresh, i.e. one GetSecretValue per stage.
    expect(aws.callCount(GET_SECRET)).toBe(3);
    expect(v.stats().sources.secret.forcedRefreshes).toBe(1);
    expect(decisions.every((d) => d.reason === 'invalid-secret')).toBe(true);
    expect(outcome(legit)).toBe('verified:AWSCURRENT');
  });

  it('with previousMaxAgeMs, denies the previous value as expired-secret once the AWSCURRENT version was created longer ago than that', async () => {
    // Arrange: V2 is current and was created two hours ago; V1, previous, before it.
    const id = secretName();
    const v1 = aws.secrets.put(id, V1).versionId;
    aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 90 * 24 * HOUR));
    const v2 = aws.secrets.rotate(id, V2);
    aws.secrets.setCreatedDate(id, v2, new Date(Date.now() - 2 * HOUR));
    const limited = verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs: HOUR });
    const unlimited = verifier({ secretId: id, ranges: 'prefix-list' });
    const longer = verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs: 3 * HOUR });
    await Promise.all([limited.ready(), unlimited.ready(), longer.ready()]);

    // Act
    const previous = await limited.check(request(V1));
    const current = await limited.check(request(V2));
    const wrong = await limited.check(request(WRONG));
    const previousUnlimited = await unlimited.check(request(V1));
    const previousLonger = await longer.check(request(V1));

    // Assert
    expect(previous).toMatchObject({ allowed: false, reason: 'expired-secret', check: 'secret' });
    expect(outcome(current)).toBe('verified:AWSCURRENT');
    expect(outcome(wrong)).toBe('invalid-secret');
    expect(outcome(previousUnlimited)).toBe('verified:AWSPREVIOUS');
    expect(outcome(previousLonger)).toBe('verified:AWSPREVIOUS');
    expect(limited.stats().byReason['expired-secret']).toBe(1);
    expectNoSecretIn(JSON.stringify(previous));
  });

  // Review, eleventh session: the limit (AWS's CreatedDate plus the age) was compared with this
  // machine's clock. Behind AWS's by a day, a previous value retired 2 hours ago (limit 1 hour)
  // was still accepted; ahead by a day, one retired 2 hours ago with a 3-hour limit was denied.
  it.each([
    [
      'behind AWS by a day: denies a previous value past the limit on AWS clock',
      24,
      HOUR,
      'expired-secret',
    ],
    [
      'ahead of AWS by a day: accepts a previous value within it',
      -24,
      3 * HOUR,
      'verified:AWSPREVIOUS',
    ],
  ])(
    'with previousMaxAgeMs and this clock %s',
    async (_n, skewHours, previousMaxAgeMs, expected) => {
      const id = secretName();
      const v1 = aws.secrets.put(id, V1).versionId;
      aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 90 * 24 * HOUR));
      const v2 = aws.secrets.rotate(id, V2);
      // Two hours ago on AWS's clock.
      aws.secrets.setCreatedDate(id, v2, new Date(Date.now() + skewHours * HOUR - 2 * HOUR));
      aws.faults.set({ clockSkewMs: skewHours * HOUR, actions: ['secretsmanager'] });
      try {
        const limited = verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs });
        await limited.ready();

        expect(outcome(await limited.check(request(V1)))).toBe(expected);
        expect(outcome(await limited.check(request(V2)))).toBe('verified:AWSCURRENT');
      } finally {
        aws.faults.clear();
      }
    },
  );

  it('with previousMaxAgeMs, reads the CreatedDate of a version a scheduled refresh finds (DescribeSecret first), and keeps accepting a pending value', async () => {
    // Arrange
    const id = secretName();
    const v1 = aws.secrets.put(id, V1).versionId;
    aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 90 * 24 * HOUR));
    const v = verifier({
      secretId: id,
      ranges: 'prefix-list',
      previousMaxAgeMs: HOUR,
      secretRefreshMs: REFRESH_MS,
      refreshJitter: 0,
    });
    await v.ready();
    const before = v.verify(request(V1));
    const v2 = aws.secrets.rotate(id, V2);
    aws.secrets.setCreatedDate(id, v2, new Date(Date.now() - 2 * HOUR));
    aws.secrets.stagePending(id, V3);
    aws.resetCalls();

    // Act: a scheduled refresh (no request forces one: `verify` never loads).
    await nextRefreshes(v, 'secret');
    const previous = v.verify(request(V1));
    const current = v.verify(request(V2));
    const pending = v.verify(request(V3));

    // Assert
    expect(outcome(before)).toBe('verified:AWSCURRENT');
    expect(aws.callCount('secretsmanager.DescribeSecret')).toBeGreaterThanOrEqual(1);
    expect(outcome(previous)).toBe('expired-secret');
    expect(outcome(current)).toBe('verified:AWSCURRENT');
    expect(outcome(pending)).toBe('verified:AWSPENDING');
  });

  // Outside review of this session's diff: after a rollback (AWSCURRENT moved back to an old
  // version), the value CloudFront sends holds AWSPREVIOUS and AWSPENDING; it was denied at
  // once, or not, depending on the order of the stages.
  it('with previousMaxAgeMs, keeps accepting after a rollback the value another stage holds too, whatever the stage order', async () => {
    // Arrange: V1 created 30 days ago; V2 rotated in (AWSPENDING stays on it); rolled back.
    const id = secretName();
    const v1 = aws.secrets.put(id, V1).versionId;
    aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 30 * 24 * HOUR));
    const v2 = aws.secrets.rotate(id, V2);
    aws.secrets.moveStage(id, 'AWSPENDING', v2);
    aws.secrets.moveStage(id, 'AWSCURRENT', v1);
    const orders = [
      ['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING'],
      ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'],
    ];
    const vs = orders.map((secretStages) =>
      verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs: 24 * HOUR, secretStages }),
    );
    await Promise.all(vs.map((v) => v.ready()));

    // Act
    const sent = vs.map((v) => v.verify(request(V2)).allowed);
    const old = vs.map((v) => outcome(v.verify(request(V1))));

    // Assert
    expect(sent).toEqual([true, true]);
    expect(old).toEqual(['verified:AWSCURRENT', 'verified:AWSCURRENT']);
  });

  it('with previousMaxAgeMs, counts the window from the later creation: a rollback does not retire the demoted value at once', async () => {
    // Arrange: V1 created 30 days ago, V2 a minute ago; AWSCURRENT rolled back to V1.
    const id = secretName();
    const v1 = aws.secrets.put(id, V1).versionId;
    aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 30 * 24 * HOUR));
    aws.secrets.rotate(id, V2);
    aws.secrets.moveStage(id, 'AWSCURRENT', v1);
    const v = verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs: HOUR });
    await v.ready();

    // Act
    const demoted = v.verify(request(V2));

    // Assert
    expect(outcome(demoted)).toBe('verified:AWSPREVIOUS');
  });

  // Review, 4 December (fifth session): counted from the later creation, a rollback made more
  // than the window after the rotation denied CloudFront's value at once (Secrets Manager, and
  // the local endpoint, take AWSPENDING off the version a rotation finished).
  it('with previousMaxAgeMs, never limits a previous version created after the current one (a rollback, however late)', async () => {
    // Arrange: V1 created 60 days ago; V2 rotated in two days ago; AWSCURRENT rolled back today.
    const id = secretName();
    const v1 = aws.secrets.put(id, V1).versionId;
    aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 60 * 24 * HOUR));
    const v2 = aws.secrets.rotate(id, V2);
    aws.secrets.setCreatedDate(id, v2, new Date(Date.now() - 48 * HOUR));
    aws.secrets.moveStage(id, 'AWSCURRENT', v1);
    const v = verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs: 24 * HOUR });
    await v.ready();

    // Act
    const sent = v.verify(request(V2));

    // Assert
    expect(outcome(sent)).toBe('verified:AWSPREVIOUS');
  });

  it('with previousMaxAgeMs, accepts the previous value until the window ends, then denies it with no reload', async () => {
    // Arrange: the window of V1 (previous, created long before V2) ends 4 s from now.
    const id = secretName();
    const v1 = aws.secrets.put(id, V1).versionId;
    aws.secrets.setCreatedDate(id, v1, new Date(Date.now() - 90 * 24 * HOUR));
    const v2 = aws.secrets.rotate(id, V2);
    aws.secrets.setCreatedDate(id, v2, new Date(Date.now() - HOUR + 4_000));
    const v = verifier({ secretId: id, ranges: 'prefix-list', previousMaxAgeMs: HOUR });
    await v.ready();
    const loads = v.stats().sources.secret.loads;

    // Act
    const inside = v.verify(request(V1));
    const closed = await waitFor(() => v.verify(request(V1)).reason === 'expired-secret', 8_000);

    // Assert
    expect(outcome(inside)).toBe('verified:AWSPREVIOUS');
    expect(closed, 'the previous value denied once its window ended').toBe(true);
    expect(v.stats().sources.secret.loads).toBe(loads);
    expect(outcome(v.verify(request(V2)))).toBe('verified:AWSCURRENT');
  });

  // Outside review, 4 December (fourth session), High: a source that only confirms values
  // (DescribeSecret) reported them read longer and longer ago, so with maxStaleMs they expired
  // for good while every load succeeded, the way secretsManagerSource's own TSDoc shows it used.
  it('keeps a `secret: secretsManagerSource(...)` with maxStaleMs verified while AWS is healthy: the cache asks it to read the values again', async () => {
    // Arrange
    const id = secretName();
    aws.secrets.put(id, V1);
    const v = verifier({
      secret: secretsManagerSource({ secretId: id, timeoutMs: 2_000 }),
      ranges: 'prefix-list',
      secretRefreshMs: REFRESH_MS,
      maxStaleMs: 3_000,
      refreshJitter: 0,
    } as unknown as SecretsManagerOptions);
    const events: string[] = [];
    v.onSourceEvent((e) => events.push(`${e.source}:${e.type}`));
    await v.ready();
    aws.resetCalls();

    // Act: past twice maxStaleMs of scheduled refreshes.
    await nextRefreshes(v, 'secret', 7);

    // Assert
    expect(outcome(v.verify(request(V1)))).toBe('verified:AWSCURRENT');
    expect(events).toEqual([]);
    expect(v.stats().sources.secret.failures).toBe(0);
    expect(aws.callCount(GET_SECRET), 'the values were read again').toBeGreaterThanOrEqual(2);
    expect(aws.callCount('secretsmanager.DescribeSecret')).toBeGreaterThanOrEqual(1);
  });

  // Outside review, 4 December (fourth session): the list's version tag held its name and
  // version only, so a list deleted and created again under its name (version 1 again) kept
  // the old list's ranges in use, with nothing reported.
  it('picks up a prefix list deleted and created again under its name at the same version', async () => {
    // Arrange
    const name = `corp.cf-origin-${counter++}`;
    aws.ec2.setPrefixList(name, ['130.176.0.0/17'], { ownerId: '111122223333' });
    const v = verifier({
      secret: V1,
      ranges: 'prefix-list',
      prefixListNames: [name],
      rangesRefreshMs: REFRESH_MS,
      refreshJitter: 0,
    } as unknown as SecretsManagerOptions);
    await v.ready();
    const before = v.verify(request(V1, '130.176.12.34'));
    aws.ec2.removePrefixList(name);
    const again = aws.ec2.setPrefixList(name, ['64.252.64.0/18'], { ownerId: '111122223333' });

    // Act
    await nextRefreshes(v, 'ranges');

    // Assert
    expect(again.version).toBe(1);
    expect(outcome(before)).toBe('verified:static:0');
    expect(outcome(v.verify(request(V1, '130.176.12.34')))).toBe('edge-not-cloudfront');
    expect(outcome(v.verify(request(V1, '64.252.70.1')))).toBe('verified:static:0');
  });

  // Outside review, 4 December (fourth session): intervals ran on the wall clock, so a clock
  // stepped back an hour (NTP, a VM resumed) rate-limited the next forced refresh for an hour:
  // a rotation was picked up only by the scheduled refresh.
  it('forces a refresh for an unknown value after the wall clock stepped back an hour', async () => {
    // Arrange: a custom source whose value rotates; the wall clock (Date.now, spied on before
    // the verifier exists) steps back 1 h later on.
    let offset = 0;
    const realNow = Date.now.bind(Date);
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    let value = V1;
    let loads = 0;
    const source: SecretSource = {
      name: 'rotating',
      load: async () => {
        loads++;
        return { values: [{ stage: 'AWSCURRENT', value }], version: value };
      },
    };
    let first: Decision;
    let rotated: Decision;
    let loadsBefore: number;
    try {
      const v = verifier({
        secret: source,
        ranges: 'prefix-list',
        mismatchRefreshMs: REFRESH_MS,
      } as unknown as SecretsManagerOptions);
      await v.ready();
      value = V2;
      first = await v.check(request(V2));
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 100));
      offset = -3_600_000;
      value = V3;
      loadsBefore = loads;

      // Act
      rotated = await v.check(request(V3));
    } finally {
      clock.mockRestore();
    }

    // Assert
    expect(outcome(first)).toBe('verified:AWSCURRENT');
    expect(outcome(rotated)).toBe('verified:AWSCURRENT');
    expect(loads - loadsBefore).toBe(1);
  });

  it('reads the value under `jsonKey` of a JSON secret, through a rotation', async () => {
    // Arrange
    const id = secretName();
    aws.secrets.put(id, { originVerify: V1, note: 'CloudFront X-Origin-Verify' });
    const v = verifier({
      secretId: id,
      jsonKey: 'originVerify',
      ranges: 'prefix-list',
      mismatchRefreshMs: 1_000,
    });
    await v.ready();

    // Act (the rotation first: only the first mismatch of a `mismatchRefreshMs` window forces
    // a refresh at once)
    const current = await v.check(request(V1));
    aws.secrets.rotate(id, { originVerify: V2, note: 'rotated' });
    const rotated = await v.check(request(V2));
    const previous = await v.check(request(V1));
    const wholeJson = await v.check(request(JSON.stringify({ originVerify: V1 })));

    // Assert
    expect(outcome(current)).toBe('verified:AWSCURRENT');
    expect(wholeJson).toMatchObject({ allowed: false, reason: 'invalid-secret' });
    expect(outcome(rotated)).toBe('verified:AWSCURRENT');
    expect(outcome(previous)).toBe('verified:AWSPREVIOUS');
  });
});

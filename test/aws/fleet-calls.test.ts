/**
 * What each refresh costs in AWS calls (issue 12, "cost at fleet scale"), counted by the local
 * endpoint's per-action counters: a Secrets Manager refresh where nothing moved is one
 * `DescribeSecret` and no `GetSecretValue`; a rotation reads only the new version; a forced
 * (mismatch) load reads every stage at once; `DescribeSecret` denied falls back to the per-stage
 * reads, reported once. ip-ranges answers 304 to `If-None-Match`; a prefix list whose `Version`
 * did not move is not read again.
 */
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOriginVerifier,
  type OriginVerifier,
  type SourceError,
  type VerifyInput,
} from '../../packages/core/src/index.js';
import { ipRangesSource } from '../../packages/core/src/sources/ip-ranges.js';
import { prefixListSource } from '../../packages/core/src/sources/prefix-list.js';
import { secretsManagerSource } from '../../packages/core/src/sources/secrets-manager.js';
import type { SecretSnapshot, SecretSource } from '../../packages/core/src/sources/types.js';
import { load, loadError, useLocalAws, waitFor } from './support.js';

// Recognisable values: no error message may ever contain them.
const V1 = 'origin-verify-V1-7f3a9c2e4b6d8f10';
const V2 = 'origin-verify-V2-a1b2c3d4e5f60718';
const V3 = 'origin-verify-V3-99887766554433aa';
const SECRET_VALUES = [V1, V2, V3];

const GET = 'secretsmanager.GetSecretValue';
const DESCRIBE = 'secretsmanager.DescribeSecret';
const PL_DESCRIBE = 'ec2.DescribeManagedPrefixLists';
const PL_ENTRIES = 'ec2.GetManagedPrefixListEntries';

const local = useLocalAws({ env: true });
const sources: { close?(): void | Promise<void> }[] = [];
const verifiers: OriginVerifier[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.all(verifiers.splice(0).map((v) => v.close()));
  await Promise.all(sources.splice(0).map((s) => s.close?.()));
});

function secretName(): string {
  counter++;
  return `prod/cloudfront/fleet-${counter}`;
}

function source(options: Parameters<typeof secretsManagerSource>[0]): SecretSource {
  const s = secretsManagerSource({ timeoutMs: 5_000, ...options });
  sources.push(s);
  return s;
}

/** Calls of each Secrets Manager action made by `act`. */
async function counted<T>(
  act: () => Promise<T>,
): Promise<{ result: T; get: number; describe: number }> {
  const { aws } = local;
  aws.resetCalls();
  const result = await act();
  return { result, get: aws.callCount(GET), describe: aws.callCount(DESCRIBE) };
}

/** A source for a fresh secret holding V1, after its first load. */
async function loadedSource(): Promise<{ id: string; s: SecretSource }> {
  const id = secretName();
  local.aws.secrets.put(id, V1);
  const s = source({ secretId: id });
  await load(s);
  return { id, s };
}

const stagesOf = (s: SecretSnapshot): string[][] => s.values.map((v) => [v.stage, v.value]);

function expectNoSecretIn(error: unknown): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    const text = `${String(current)} ${(current as Error).stack ?? ''}`;
    for (const value of SECRET_VALUES) expect(text).not.toContain(value);
    current = (current as { cause?: unknown }).cause;
  }
}

describe('secretsManagerSource: calls per refresh', () => {
  it('reads every stage on the first load, then makes one DescribeSecret and no GetSecretValue per unchanged refresh', async () => {
    // Arrange
    const id = secretName();
    local.aws.secrets.put(id, V1);
    local.aws.secrets.rotate(id, V2);
    const s = source({ secretId: id });

    // Act
    const first = await counted(() => load(s));
    const steady = await counted(async () => [await load(s), await load(s), await load(s)]);

    // Assert
    expect(first).toMatchObject({ get: 3, describe: 0 });
    expect(steady).toMatchObject({ get: 0, describe: 3 });
    for (const snapshot of steady.result) {
      expect(snapshot.version).toBe(first.result.version);
      expect(stagesOf(snapshot)).toEqual([
        ['AWSCURRENT', V2],
        ['AWSPREVIOUS', V1],
      ]);
    }
  });

  it('reads only the new version through a rotation: pending staged (1 read), promoted (0 reads)', async () => {
    // Arrange
    const id = secretName();
    const v1 = local.aws.secrets.put(id, V1).versionId;
    const s = source({ secretId: id });
    await load(s);

    // Act 1: createSecret stages V3 as AWSPENDING.
    const v3 = local.aws.secrets.stagePending(id, V3);
    const pending = await counted(() => load(s));

    // Assert 1: one DescribeSecret, one GetSecretValue, by VersionId.
    expect(pending).toMatchObject({ get: 1, describe: 1 });
    expect(pending.result.values.map((v) => [v.stage, v.value, v.versionId])).toEqual([
      ['AWSCURRENT', V1, v1],
      ['AWSPENDING', V3, v3],
    ]);

    // Act 2: finishSecret moves AWSCURRENT to V3 (V1 becomes AWSPREVIOUS): both already read.
    local.aws.secrets.promote(id);
    const promoted = await counted(() => load(s));

    // Assert 2
    expect(promoted).toMatchObject({ get: 0, describe: 1 });
    expect(stagesOf(promoted.result)).toEqual([
      ['AWSCURRENT', V3],
      ['AWSPREVIOUS', V1],
    ]);
    expect(promoted.result.version).not.toBe(pending.result.version);
  });

  it('reads every stage at once on a forced load, and picks up a new value', async () => {
    const { id, s } = await loadedSource();
    local.aws.secrets.put(id, V2);

    const forced = await counted(() => s.load(new AbortController().signal, { forced: true }));

    expect(forced).toMatchObject({ get: 3, describe: 0 });
    expect(stagesOf(forced.result)).toEqual([
      ['AWSCURRENT', V2],
      ['AWSPREVIOUS', V1],
    ]);
  });

  it('skips an AWSPENDING version that has no value yet (RotateSecret before createSecret), and reads it once it has one', async () => {
    // Arrange
    const { id, s } = await loadedSource();
    const token = local.aws.secrets.beginRotation(id);

    // Act 1
    const stub = await counted(() => load(s));

    // Assert 1: the empty version was asked for (not cached) and left out without a report.
    expect(stub).toMatchObject({ get: 1, describe: 1 });
    expect(stagesOf(stub.result)).toEqual([['AWSCURRENT', V1]]);
    expect(stub.result.skipped).toBeUndefined();

    // Act 2: createSecret stores V2 under the token (PutSecretValue, as the rotation does).
    const client = new SecretsManagerClient({});
    try {
      await client.send(
        new PutSecretValueCommand({
          SecretId: id,
          ClientRequestToken: token,
          SecretString: V2,
          VersionStages: ['AWSPENDING'],
        }),
      );
    } finally {
      client.destroy();
    }
    const filled = await counted(() => load(s));

    // Assert 2: the same version id, read now that it has a value.
    expect(filled).toMatchObject({ get: 1, describe: 1 });
    expect(filled.result.values.map((v) => [v.stage, v.value, v.versionId])).toEqual([
      ['AWSCURRENT', V1, expect.any(String)],
      ['AWSPENDING', V2, token],
    ]);
  });

  it('keeps skipping a bad AWSPENDING without reading it again, and fails when AWSCURRENT moves to a bad version', async () => {
    // Arrange
    const { id, s } = await loadedSource();
    local.aws.secrets.stagePending(id, 'short');

    // Act 1
    const once = await counted(() => load(s));
    const again = await counted(() => load(s));

    // Assert 1: reported both times, read once.
    expect(once).toMatchObject({ get: 1, describe: 1 });
    expect(again).toMatchObject({ get: 0, describe: 1 });
    expect(again.result.skipped?.map((e) => (e as SourceError).awsCode)).toEqual(['SkippedStage']);
    expect(stagesOf(again.result)).toEqual([['AWSCURRENT', V1]]);

    // Act 2: the bad version becomes AWSCURRENT.
    local.aws.secrets.promote(id);
    const error = await loadError(s);

    // Assert 2: the load fails (the guard keeps V1), naming the problem, never a value.
    expect(error.message).toContain('stage AWSCURRENT');
    expect(error.message).toContain('is not a usable header value');
    expectNoSecretIn(error);
  });

  it('reads `jsonKey` of a rotated JSON secret with one GetSecretValue', async () => {
    const id = secretName();
    local.aws.secrets.put(id, '', { json: { originVerify: V1, other: 'x' } });
    const s = source({ secretId: id, jsonKey: 'originVerify' });
    await load(s);
    local.aws.secrets.rotate(id, '', { json: { originVerify: V2, other: 'y' } });

    const rotated = await counted(() => load(s));

    expect(rotated).toMatchObject({ get: 1, describe: 1 });
    expect(stagesOf(rotated.result)).toEqual([
      ['AWSCURRENT', V2],
      ['AWSPREVIOUS', V1],
    ]);
  });

  it('fails the refresh on a DescribeSecret error other than AccessDenied (last-known-good stays), without falling back', async () => {
    const { id, s } = await loadedSource();
    local.aws.faults.set({ throttle: true, actions: [DESCRIBE] });

    const result = await counted(() => loadError(s));

    expect(result.result.awsCode).toBe('ThrottlingException');
    expect(result.result.message).toContain(`DescribeSecret of secret "${id}"`);
    expect(result.get).toBe(0);
  });

  it('fails the load when the version holding an optional stage cannot be read (not NotFound)', async () => {
    const { id, s } = await loadedSource();
    local.aws.secrets.rotate(id, V2);
    local.aws.secrets.failStage(id, 'AWSPREVIOUS', 'AccessDeniedException');
    local.aws.secrets.put(id, V3); // V2 becomes AWSPREVIOUS: a version this source never read

    const error = await loadError(s);

    expect(error.awsCode).toBe('AccessDeniedException');
    expect(error.message).toContain('stage AWSPREVIOUS (version');
    expectNoSecretIn(error);
  });
});

describe('secretsManagerSource: DescribeSecret denied', () => {
  it('falls back to one GetSecretValue per stage, says so once with the IAM fix, and stays on it', async () => {
    // Arrange
    const { s } = await loadedSource();
    local.aws.faults.set({ accessDenied: true, actions: [DESCRIBE] });

    // Act
    const fallback = await counted(() => load(s));
    const next = await counted(() => load(s));

    // Assert
    expect(fallback).toMatchObject({ get: 3, describe: 1 });
    const [warning] = (fallback.result.warnings ?? []) as SourceError[];
    expect(warning?.awsCode).toBe('AccessDeniedException');
    expect(warning?.message).toContain('secretsmanager:DescribeSecret');
    expect(warning?.message).toContain('one GetSecretValue per stage');
    expect(next).toMatchObject({ get: 3, describe: 0 });
    expect(next.result.warnings).toBeUndefined();
    expect(stagesOf(next.result)).toEqual([['AWSCURRENT', V1]]);
  });

  it('does not fall back for good when the whole secret is denied: DescribeSecret is tried again once access returns', async () => {
    const { id, s } = await loadedSource();
    local.aws.secrets.deny(id);

    const denied = await loadError(s);
    local.aws.secrets.deny(id, false);
    // After a failed load the values are read again (only that tells they are back), then
    // refreshes go back to one DescribeSecret.
    const back = await counted(() => load(s));
    const next = await counted(() => load(s));

    expect(denied.awsCode).toBe('AccessDeniedException');
    expect(denied.message).toContain('GetSecretValue');
    expect(back).toMatchObject({ get: 3, describe: 0 });
    expect(next).toMatchObject({ get: 0, describe: 1 });
  });

  it('reports the fallback once through onSourceError while the guard keeps verifying', async () => {
    // Arrange: refresh every second, DescribeSecret denied from the start.
    const id = secretName();
    local.aws.secrets.put(id, V1);
    local.aws.faults.set({ accessDenied: true, actions: [DESCRIBE] });
    const reported: SourceError[] = [];
    const v = createOriginVerifier({
      secretId: id,
      ranges: 'ip-ranges',
      ipRangesUrl: local.aws.ipRangesUrl,
      allowInsecureIpRangesUrl: true,
      secretRefreshMs: 1_000,
      refreshJitter: 0,
      onSourceError: (e) => reported.push(e as SourceError),
    });
    verifiers.push(v);
    await v.ready();

    // Act: three scheduled refreshes.
    const loaded = await waitFor(() => v.stats().sources.secret.loads >= 4, 8_000);

    // Assert
    expect(loaded).toBe(true);
    expect(reported.map((e) => e.awsCode)).toEqual(['AccessDeniedException']);
    expect(reported[0]?.message).toContain('secretsmanager:DescribeSecret');
    expect(local.aws.callCount(DESCRIBE)).toBe(1);
    expect(v.stats().sources.secret.failures).toBe(0);
  });
});

describe('the guard: a rotation picked up by a mismatch', () => {
  it('verifies a new value at once through a forced per-stage load, then refreshes with DescribeSecret alone', async () => {
    // Arrange
    const id = secretName();
    local.aws.secrets.put(id, V1);
    const v = createOriginVerifier({
      secretId: id,
      ranges: 'ip-ranges',
      ipRangesUrl: local.aws.ipRangesUrl,
      allowInsecureIpRangesUrl: true,
      secretRefreshMs: 1_000,
      refreshJitter: 0,
      mismatchRefreshMs: 1_000,
    });
    verifiers.push(v);
    await v.ready();
    local.aws.secrets.put(id, V2);
    local.aws.resetCalls();

    // Act 1: the first request with the new value.
    const decision = await v.check(request(V2));

    // Assert 1
    expect(decision.reason).toBe('verified');
    expect(local.aws.callCount(GET)).toBe(3);
    expect(local.aws.callCount(DESCRIBE)).toBe(0);

    // Act 2: the next scheduled refresh.
    local.aws.resetCalls();
    const loads = v.stats().sources.secret.loads;
    expect(await waitFor(() => v.stats().sources.secret.loads > loads, 3_000)).toBe(true);

    // Assert 2
    expect(local.aws.callCount(DESCRIBE)).toBe(1);
    expect(local.aws.callCount(GET)).toBe(0);
  });
});

describe('range sources: calls per refresh', () => {
  it('ip-ranges: an unchanged document answers 304 (counted by the endpoint) and keeps the snapshot', async () => {
    // Arrange
    const s = ipRangesSource({ url: local.aws.ipRangesUrl, allowInsecureUrl: true });
    const first = await load(s);
    local.aws.resetCalls();

    // Act
    const second = await load(s);
    const third = await load(s);
    const token = local.aws.ipRanges.setOriginFacing(['3.172.0.0/18']);
    const changed = await load(s);

    // Assert
    expect(local.aws.callCount('ip-ranges')).toBe(3);
    expect(local.aws.ipRanges.notModified).toBe(2);
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(changed.version).toBe(token);
    expect(changed.cidrs).toEqual(['3.172.0.0/18']);
  });

  it('ip-ranges: a 304 counts as a successful refresh of the guard, without a rebuild', async () => {
    const id = secretName();
    local.aws.secrets.put(id, V1);
    const v = createOriginVerifier({
      secretId: id,
      ranges: 'ip-ranges',
      ipRangesUrl: local.aws.ipRangesUrl,
      allowInsecureIpRangesUrl: true,
      rangesRefreshMs: 1_000,
      refreshJitter: 0,
    });
    verifiers.push(v);
    await v.ready();
    local.aws.resetCalls();

    expect(await waitFor(() => v.stats().sources.ranges.loads >= 3, 5_000)).toBe(true);

    const ranges = v.stats().sources.ranges;
    expect(ranges.failures).toBe(0);
    expect(ranges.rebuilds).toBe(1);
    expect(local.aws.ipRanges.notModified).toBeGreaterThanOrEqual(2);
  });

  it('prefix-list: an unchanged Version is one DescribeManagedPrefixLists and no entries read', async () => {
    const s = prefixListSource({ ipv6: true, timeoutMs: 5_000 });
    sources.push(s);
    const first = await load(s);
    local.aws.resetCalls();

    const again = await load(s);

    expect(local.aws.calls).toEqual({ [PL_DESCRIBE]: 1 });
    expect(local.aws.callCount(PL_ENTRIES)).toBe(0);
    expect(again.version).toBe(first.version);
  });
});

/** A request through CloudFront (a seeded origin-facing address) and an ALB. */
function request(secret: string): VerifyInput {
  return {
    remoteAddress: '10.0.1.15',
    method: 'GET',
    path: '/orders/42',
    headers: {
      'x-forwarded-for': '198.51.100.23, 3.10.17.130',
      'x-amz-cf-id': 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
      'x-origin-verify': secret,
    },
  };
}

/**
 * secretsManagerSource against the local endpoint, over the wire with the real SDK v3 client.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../packages/core/src/errors.js';
import { secretsManagerSource } from '../../packages/core/src/sources/secrets-manager.js';
import type { SecretSource } from '../../packages/core/src/sources/types.js';
import { type LocalAws, setEnv, startLocalAws } from '../aws-local/index.js';
import { load, loadError as sharedLoadError, waitFor } from './support.js';

// Recognisable values: no error message may ever contain them.
const V1 = 'origin-verify-V1-7f3a9c2e4b6d8f10';
const V2 = 'origin-verify-V2-a1b2c3d4e5f60718';
const V3 = 'origin-verify-V3-99887766554433aa';
const V4 = 'origin-verify-V4-0f1e2d3c4b5a6978';
const SECRET_VALUES = [V1, V2, V3, V4];

const TIMEOUT_MS = 300;
/**
 * Slack for timer granularity and a loaded CI box (two test workers on two cores, GC). Wide on
 * purpose: what these tests tell apart is "bounded by timeoutMs or the abort" from "held until
 * the 5 s timeout or forever", which 1.5 s still does; 250 ms was within reach of a busy box.
 */
const MARGIN_MS = 1_500;

let aws: LocalAws;
let restoreEnv: () => void;
let secretCounter = 0;
const sources: SecretSource[] = [];

/** A fresh secret id per test, so tests never share state. */
function secretName(): string {
  secretCounter++;
  return `prod/cloudfront/origin-verify-${secretCounter}`;
}

/** A source reaching the local endpoint through `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
function source(
  options: Omit<Parameters<typeof secretsManagerSource>[0], 'timeoutMs'> & { timeoutMs?: number },
) {
  const s = secretsManagerSource({ timeoutMs: 5_000, ...options });
  sources.push(s);
  return s;
}

async function loadError(s: SecretSource, signal?: AbortSignal): Promise<SourceError> {
  const sourceError = await sharedLoadError(s, signal);
  expectNoSecretIn(sourceError);
  return sourceError;
}

/** Walks the error, its stack and its cause chain: no secret value anywhere. */
function expectNoSecretIn(error: unknown): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    const text = `${String(current)} ${(current as Error).stack ?? ''} ${(current as Error).message ?? ''}`;
    for (const value of SECRET_VALUES) expect(text).not.toContain(value);
    current = (current as { cause?: unknown }).cause;
  }
}

async function elapsed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

beforeAll(async () => {
  aws = await startLocalAws({ requireAccessKeyId: 'test' });
});

afterAll(async () => {
  await aws.close();
});

beforeEach(() => {
  restoreEnv = setEnv(aws.env());
  aws.faults.clear();
  aws.resetCalls();
});

afterEach(async () => {
  aws.faults.clear();
  await Promise.all(sources.splice(0).map((s) => s.close?.()));
  restoreEnv();
});

describe('secretsManagerSource: reaching the endpoint', () => {
  it('reaches the endpoint given by the `endpoint` option, signed with static credentials', async () => {
    // Arrange: no endpoint variable, only credentials; the server requires access key "test".
    restoreEnv();
    restoreEnv = setEnv({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
      AWS_ENDPOINT_URL: undefined,
      AWS_REGION: undefined,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    const id = secretName();
    aws.secrets.put(id, V1);
    const s = source({ secretId: id, endpoint: aws.url, region: 'eu-west-1' });

    // Act
    const snapshot = await load(s);

    // Assert
    expect(snapshot.values.map((v) => [v.stage, v.value])).toEqual([['AWSCURRENT', V1]]);
    const calls = aws.recentCalls.filter((c) => c.action === 'secretsmanager.GetSecretValue');
    expect(calls.length).toBe(3);
    expect(calls.every((c) => c.accessKeyId === 'test' && c.region === 'eu-west-1')).toBe(true);
  });

  it('reaches the endpoint named by AWS_ENDPOINT_URL_SECRETS_MANAGER (region from AWS_REGION)', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    const s = source({ secretId: id });

    const snapshot = await load(s);

    expect(snapshot.values).toHaveLength(1);
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBe(3);
    expect(aws.recentCalls.at(-1)).toMatchObject({ accessKeyId: 'test', region: 'us-east-1' });
  });

  it('uses an injected client as is and never destroys it', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    const client = new SecretsManagerClient({
      endpoint: aws.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const s = source({ secretId: id, client });

    await load(s);
    await s.close?.();

    // The client still works after the source closed.
    const again = secretsManagerSource({ secretId: id, client });
    expect((await load(again)).values[0]?.value).toBe(V1);
    client.destroy();
  });
});

describe('secretsManagerSource: stages and rotation', () => {
  it('loads a secret that only has AWSCURRENT (missing optional stages are fine), with its CreatedDate', async () => {
    const id = secretName();
    const { versionId } = aws.secrets.put(id, V1);
    const created = new Date('2026-09-01T12:00:00.250Z');
    aws.secrets.setCreatedDate(id, versionId, created);

    const snapshot = await load(source({ secretId: id }));

    expect(snapshot.values).toEqual([
      { stage: 'AWSCURRENT', value: V1, versionId, createdAt: created.getTime() },
    ]);
    expect(snapshot.version).toBe(`AWSCURRENT:${versionId}`);
  });

  it('follows a full rotation: pending appears, promote swaps current/previous, the oldest drops out', async () => {
    // Arrange: V1 then V2 (V1 becomes AWSPREVIOUS).
    const id = secretName();
    const s = source({ secretId: id });
    const v1 = aws.secrets.put(id, V1).versionId;
    const v2 = aws.secrets.rotate(id, V2);

    // Act 1: rotation's createSecret step stages V3 as AWSPENDING.
    const v3 = aws.secrets.stagePending(id, V3);
    const pending = await load(s);

    // Assert 1: three stages.
    expect(pending.values.map((v) => [v.stage, v.value, v.versionId])).toEqual([
      ['AWSCURRENT', V2, v2],
      ['AWSPREVIOUS', V1, v1],
      ['AWSPENDING', V3, v3],
    ]);
    expect(pending.version).toBe(
      [`AWSCURRENT:${v2}`, `AWSPENDING:${v3}`, `AWSPREVIOUS:${v1}`].join(','),
    );

    // Act 2: finishSecret promotes the pending version.
    aws.secrets.promote(id);
    const promoted = await load(s);

    // Assert 2: V3 current, V2 previous, V1 no longer accepted, no pending.
    expect(promoted.values.map((v) => [v.stage, v.value])).toEqual([
      ['AWSCURRENT', V3],
      ['AWSPREVIOUS', V2],
    ]);
    expect(promoted.version).not.toBe(pending.version);

    // Act 3: a second rotation.
    aws.secrets.rotate(id, V4);
    const second = await load(s);

    // Assert 3: the oldest value (V2) drops out.
    expect(second.values.map((v) => [v.stage, v.value])).toEqual([
      ['AWSCURRENT', V4],
      ['AWSPREVIOUS', V3],
    ]);
  });

  it('keeps one entry per stage when two stages point at the same version', async () => {
    const id = secretName();
    const { versionId } = aws.secrets.put(id, V1);
    aws.secrets.moveStage(id, 'AWSPENDING', versionId);

    const snapshot = await load(source({ secretId: id }));

    expect(snapshot.values).toEqual([
      { stage: 'AWSCURRENT', value: V1, versionId, createdAt: expect.any(Number) },
      { stage: 'AWSPENDING', value: V1, versionId, createdAt: expect.any(Number) },
    ]);
  });

  it('loads only the stages asked for (AWSCURRENT is always included)', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.secrets.rotate(id, V2);

    const snapshot = await load(source({ secretId: id, stages: ['AWSPREVIOUS'] }));

    expect(snapshot.values.map((v) => v.stage)).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBe(2);
  });

  it('fails the load when an optional stage fails with anything but ResourceNotFoundException', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.secrets.rotate(id, V2);
    aws.secrets.failStage(id, 'AWSPREVIOUS', 'AccessDeniedException');

    const error = await loadError(source({ secretId: id }));

    expect(error.awsCode).toBe('AccessDeniedException');
    expect(error.message).toContain('AWSPREVIOUS');
    expect(error.message).toContain(id);
  });
});

describe('secretsManagerSource: jsonKey and value validation', () => {
  it('takes `jsonKey` out of a JSON SecretString', async () => {
    const id = secretName();
    aws.secrets.put(id, '', { json: { originVerify: V1, username: 'not-used' } });

    const snapshot = await load(source({ secretId: id, jsonKey: 'originVerify' }));

    expect(snapshot.values.map((v) => v.value)).toEqual([V1]);
  });

  it('names the secret and the key when the key is missing, never the value', async () => {
    const id = secretName();
    aws.secrets.put(id, '', { json: { header: V1 } });

    const error = await loadError(source({ secretId: id, jsonKey: 'originVerify' }));

    expect(error.message).toContain(id);
    expect(error.message).toContain('"originVerify"');
    expect(error.message).toContain('"header"');
    expect(error.source).toBe(`secrets-manager:${id}`);
  });

  it('rejects a SecretString that is not JSON when `jsonKey` is set, without quoting it', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);

    const error = await loadError(source({ secretId: id, jsonKey: 'originVerify' }));

    expect(error.message).toMatch(/is not a JSON object/);
    expect(error.cause).toBeUndefined();
  });

  it('rejects a key that holds a non-string', async () => {
    const id = secretName();
    aws.secrets.put(id, '', { json: { originVerify: 12345 } });

    const error = await loadError(source({ secretId: id, jsonKey: 'originVerify' }));

    expect(error.message).toContain('holds a number; expected a string');
  });

  it.each([
    ['too short', 'short-value'],
    ['a space', 'origin verify V1 7f3a9c2e4b6d8f10'],
    ['non-ASCII', 'origin-verify-V1-7f3a9c2e4b6d8f1é'],
    ['too long', 'x'.repeat(257)],
  ])('rejects a value with %s, explaining why without the value', async (_label, value) => {
    const id = secretName();
    aws.secrets.put(id, value);

    const error = await loadError(source({ secretId: id }));

    expect(error.message).toContain('is not a usable header value');
    expect(error.message).not.toContain(value);
  });
});

describe('secretsManagerSource: AWS errors', () => {
  it('surfaces AccessDeniedException with the secret id, not retried', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.secrets.deny(id);

    const error = await loadError(source({ secretId: id, stages: ['AWSCURRENT'] }));

    expect(error.awsCode).toBe('AccessDeniedException');
    expect(error.code).toBe('ERR_CDN_ORIGIN_GUARD_SOURCE');
    expect(error.message).toContain(`"${id}"`);
    expect(error.message).toContain('AccessDeniedException (HTTP 400 after 1 attempt)');
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBe(1);
  });

  it('surfaces ResourceNotFoundException for a secret that does not exist', async () => {
    const error = await loadError(source({ secretId: 'prod/does-not-exist' }));

    expect(error.awsCode).toBe('ResourceNotFoundException');
    expect(error.message).toContain('"prod/does-not-exist"');
    expect(error.message).toContain('AWSCURRENT');
  });

  it('ends the missing-secret message with exactly one period', async () => {
    const error = await loadError(source({ secretId: 'prod/does-not-exist' }));

    expect(error.message).toMatch(/[^.]\.$/);
    expect(error.message).not.toContain('..');
  });

  it('says how to fix "Region is missing": the region option or AWS_REGION', async () => {
    const restore = setEnv({
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    });
    try {
      const error = await loadError(source({ secretId: secretName(), stages: ['AWSCURRENT'] }));

      expect(error.message).toMatch(/Region is missing/i);
      expect(error.message).toContain('Set the `region` option or the AWS_REGION variable');
      expect(error.message).toContain('never reads AWS_DEFAULT_REGION');
    } finally {
      restore();
    }
  });

  it('retries ThrottlingException (3 attempts by default) before surfacing it', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ throttle: true, actions: ['secretsmanager.GetSecretValue'] });

    const error = await loadError(source({ secretId: id, stages: ['AWSCURRENT'] }));

    expect(error.awsCode).toBe('ThrottlingException');
    expect(error.message).toContain('after 3 attempts');
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBe(3);
  });

  it('retries InternalServiceError (HTTP 500) before surfacing it', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ outage: 'error', actions: ['secretsmanager'] });

    const error = await loadError(source({ secretId: id, stages: ['AWSCURRENT'] }));

    expect(error.awsCode).toBe('InternalServiceError');
    expect(error.message).toContain('HTTP 500 after 3 attempts');
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBe(3);
  });

  it('recovers within one load when a transient 5xx is followed by success (SDK retry)', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ failNext: 1 });

    const snapshot = await load(source({ secretId: id, stages: ['AWSCURRENT'] }));

    expect(snapshot.values[0]?.value).toBe(V1);
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBe(2);
  });
});

describe('secretsManagerSource: timeouts and abort', () => {
  it(`rejects within about timeoutMs (${TIMEOUT_MS} ms) when the endpoint hangs, and the SDK drops the request`, async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ outage: 'hang' });
    const s = source({ secretId: id, timeoutMs: TIMEOUT_MS });

    const { ms, result: error } = await elapsed(() => loadError(s));

    expect(error.awsCode).toBe('TimeoutError');
    expect(error.message).toContain(`timed out after ${TIMEOUT_MS} ms`);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    // The client really tore the requests down: the server sees every hung call go away.
    expect(aws.callCount('secretsmanager.GetSecretValue')).toBeGreaterThanOrEqual(3);
    expect(await waitFor(() => aws.faults.hanging === 0)).toBe(true);
  });

  it('bounds an injected client without any timeout by timeoutMs too', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ outage: 'hang' });
    const client = new SecretsManagerClient({
      endpoint: aws.url,
      region: 'us-east-1',
      maxAttempts: 1,
    });
    const s = source({ secretId: id, client, timeoutMs: TIMEOUT_MS });

    const { ms, result: error } = await elapsed(() => loadError(s));

    expect(error.awsCode).toBe('TimeoutError');
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(await waitFor(() => aws.faults.hanging === 0)).toBe(true);
    client.destroy();
  });

  it('rejects promptly when the caller aborts, and aborts the HTTP requests', async () => {
    // Arrange: the three GetSecretValue calls are held open by the server.
    const id = secretName();
    aws.secrets.put(id, V1);
    aws.faults.set({ outage: 'hang' });
    const s = source({ secretId: id, timeoutMs: 5_000 });
    const controller = new AbortController();
    const pending = loadError(s, controller.signal);
    expect(await waitFor(() => aws.faults.hanging === 3, 3_000)).toBe(true);

    // Act
    const { ms, result: error } = await elapsed(() => {
      controller.abort(new Error('shutting down'));
      return pending;
    });

    // Assert: prompt rejection, and the SDK closed every request it had in flight.
    expect(error.awsCode).toBe('AbortError');
    expect(ms).toBeLessThan(MARGIN_MS);
    expect(await waitFor(() => aws.faults.hanging === 0)).toBe(true);
  });

  it('rejects at once, without calling AWS, when the signal is already aborted', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    const controller = new AbortController();
    controller.abort();

    const error = await loadError(source({ secretId: id }), controller.signal);

    expect(error.awsCode).toBe('AbortError');
    expect(aws.callCount()).toBe(0);
  });

  it('answers again once the endpoint recovers, and refuses to load after close()', async () => {
    const id = secretName();
    aws.secrets.put(id, V1);
    const s = source({ secretId: id, timeoutMs: TIMEOUT_MS });
    aws.faults.set({ outage: 'hang' });
    await loadError(s);

    aws.faults.clear();
    const snapshot = await load(s);
    await s.close?.();

    expect(snapshot.values[0]?.value).toBe(V1);
    const closed = await loadError(s);
    expect(closed.message).toContain('after close()');
  });
});

/**
 * The local CloudFront (REST-XML) through the real SDK v3 client: configs with ETags,
 * If-Match and PreconditionFailed, deployment status, what the simulated edges send, listing
 * and fault knobs.
 */
import {
  CloudFrontClient,
  type DistributionConfig,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  ListDistributionsCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { describe, expect, it } from 'vitest';
import { useLocalAwsClient, waitFor } from './support.js';

const HEADER = 'X-Origin-Verify';
const OLD = 'old-value-0123456789abcdefghij';
const NEW = 'new-value-0123456789abcdefghij';

const local = useLocalAwsClient(() => new CloudFrontClient({ maxAttempts: 1 }));

function distribution() {
  return local.aws.cloudfront.addDistribution({
    origins: [
      {
        id: 'alb',
        domainName: 'my-alb-1.us-east-1.elb.amazonaws.com',
        headers: { [HEADER]: OLD, 'X-Other': 'keep' },
      },
      { id: 'assets', domainName: 'assets.s3.amazonaws.com', s3: true },
    ],
  });
}

function withHeader(config: DistributionConfig, value: string): DistributionConfig {
  const copy = structuredClone(config);
  const origin = copy.Origins?.Items?.[0];
  const header = origin?.CustomHeaders?.Items?.find((h) => h.HeaderName === HEADER);
  if (header === undefined) throw new Error('fixture has no header');
  header.HeaderValue = value;
  return copy;
}

describe('local CloudFront over the wire', () => {
  it('returns the config with its ETag, origins, protocol policy and custom headers', async () => {
    const { id, etag } = distribution();

    const out = await local.client.send(new GetDistributionConfigCommand({ Id: id }));

    expect(out.ETag).toBe(etag);
    const origins = out.DistributionConfig?.Origins?.Items ?? [];
    expect(origins.map((o) => o.Id)).toEqual(['alb', 'assets']);
    expect(origins[0]?.CustomOriginConfig?.OriginProtocolPolicy).toBe('https-only');
    expect(origins[0]?.CustomHeaders?.Items).toEqual([
      { HeaderName: HEADER, HeaderValue: OLD },
      { HeaderName: 'X-Other', HeaderValue: 'keep' },
    ]);
    expect(origins[1]?.S3OriginConfig).toBeDefined();
    expect(local.aws.callCount('cloudfront.GetDistributionConfig')).toBe(1);
  });

  it('updates with the current ETag: new ETag, InProgress, then Deployed after the delay', async () => {
    const { id } = distribution();
    local.aws.cloudfront.setDeployDelay(150, id);
    const read = await local.client.send(new GetDistributionConfigCommand({ Id: id }));

    const updated = await local.client.send(
      new UpdateDistributionCommand({
        Id: id,
        IfMatch: read.ETag,
        DistributionConfig: withHeader(read.DistributionConfig as DistributionConfig, NEW),
      }),
    );

    expect(updated.ETag).not.toBe(read.ETag);
    expect(updated.Distribution?.Status).toBe('InProgress');
    expect(local.aws.cloudfront.origins(id)[0]?.headers[HEADER]).toBe(NEW);
    expect(local.aws.cloudfront.deployedHeader(id, HEADER, 'alb')).toBe(OLD);
    expect(local.aws.cloudfront.origins(id)[0]?.headers['X-Other']).toBe('keep');
    expect(await waitFor(() => local.aws.cloudfront.status(id) === 'Deployed', 5_000)).toBe(true);
    const after = await local.client.send(new GetDistributionCommand({ Id: id }));
    expect(after.Distribution?.Status).toBe('Deployed');
    expect(after.ETag).toBe(updated.ETag);
    expect(local.aws.cloudfront.deployedHeader(id, 'x-origin-verify', 'alb')).toBe(NEW);
  });

  it('edges send the old or the new value while a deployment is in progress, only the new one after', async () => {
    const { id } = distribution();
    local.aws.cloudfront.holdDeployment(id);
    const read = await local.client.send(new GetDistributionConfigCommand({ Id: id }));
    await local.client.send(
      new UpdateDistributionCommand({
        Id: id,
        IfMatch: read.ETag,
        DistributionConfig: withHeader(read.DistributionConfig as DistributionConfig, NEW),
      }),
    );

    const during = new Set(
      Array.from({ length: 200 }, () => local.aws.cloudfront.edgeHeader(id, HEADER, 'alb')),
    );
    local.aws.cloudfront.holdDeployment(id, false);
    const after = new Set(
      Array.from({ length: 50 }, () => local.aws.cloudfront.edgeHeader(id, HEADER, 'alb')),
    );

    expect([...during].sort()).toEqual([NEW, OLD]);
    expect([...after]).toEqual([NEW]);
  });

  it('answers PreconditionFailed (412) to a stale ETag and InvalidIfMatchVersion without one', async () => {
    const { id } = distribution();
    const read = await local.client.send(new GetDistributionConfigCommand({ Id: id }));
    local.aws.cloudfront.touch(id);
    const config = withHeader(read.DistributionConfig as DistributionConfig, NEW);

    const stale = await local.client
      .send(
        new UpdateDistributionCommand({ Id: id, IfMatch: read.ETag, DistributionConfig: config }),
      )
      .catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } });
    const missing = await local.client
      .send(new UpdateDistributionCommand({ Id: id, DistributionConfig: config }))
      .catch((e: unknown) => e as { name: string });

    expect(stale).toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    expect(missing).toMatchObject({ name: 'InvalidIfMatchVersion' });
    expect(local.aws.cloudfront.origins(id)[0]?.headers[HEADER]).toBe(OLD);
  });

  it('rejects inconsistent quantities and unknown distributions like CloudFront', async () => {
    const { id } = distribution();
    const read = await local.client.send(new GetDistributionConfigCommand({ Id: id }));
    const config = structuredClone(read.DistributionConfig as DistributionConfig);
    const headers = config.Origins?.Items?.[0]?.CustomHeaders;
    if (headers !== undefined) headers.Quantity = 5;

    const bad = await local.client
      .send(
        new UpdateDistributionCommand({ Id: id, IfMatch: read.ETag, DistributionConfig: config }),
      )
      .catch((e: unknown) => e as { name: string });
    const unknown = await local.client
      .send(new GetDistributionCommand({ Id: 'ENOSUCHDIST000' }))
      .catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } });

    expect(bad).toMatchObject({ name: 'InconsistentQuantities' });
    expect(unknown).toMatchObject({
      name: 'NoSuchDistribution',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('lists distributions with their origins, page by page', async () => {
    const created = [distribution().id, distribution().id, distribution().id];

    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await local.client.send(
        new ListDistributionsCommand({ MaxItems: 2, Marker: marker }),
      );
      pages++;
      for (const s of out.DistributionList?.Items ?? []) {
        seen.push(s.Id ?? '');
        expect(s.Origins?.Items?.[0]?.CustomOriginConfig?.OriginProtocolPolicy).toBe('https-only');
        expect(s.Status).toBe('Deployed');
      }
      marker = out.DistributionList?.IsTruncated ? out.DistributionList.NextMarker : undefined;
    } while (marker !== undefined);

    for (const id of created) expect(seen).toContain(id);
    expect(pages).toBeGreaterThan(1);
  });

  it('fault knobs: AccessDenied, throttling and injected PreconditionFailed per action', async () => {
    const { id } = distribution();
    const read = await local.client.send(new GetDistributionConfigCommand({ Id: id }));
    const update = () =>
      local.client
        .send(
          new UpdateDistributionCommand({
            Id: id,
            IfMatch: read.ETag,
            DistributionConfig: read.DistributionConfig,
          }),
        )
        .then(
          () => 'ok',
          (e: unknown) => (e as Error).name,
        );

    local.aws.faults.set({ accessDenied: true, actions: ['cloudfront.UpdateDistribution'] });
    const denied = await update();
    const getStillWorks = await local.client.send(new GetDistributionConfigCommand({ Id: id }));
    local.aws.faults.set({ throttle: true, actions: ['cloudfront'] });
    const throttled = await update();
    local.aws.faults.set({ preconditionFailedNext: 1 });
    const injected = await update();
    const next = await update();

    expect(denied).toBe('AccessDenied');
    expect(getStillWorks.ETag).toBe(read.ETag);
    expect(throttled).toBe('Throttling');
    expect(injected).toBe('PreconditionFailed');
    expect(next).toBe('ok');
    expect(local.aws.callCount('cloudfront.UpdateDistribution')).toBe(4);
  });
});

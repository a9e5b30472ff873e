/**
 * The local AWS-protocol endpoint itself: wire shapes (raw HTTP), rotation label movement,
 * fault knobs and shutdown. The SDK-level behaviour is covered by the source tests.
 */
import {
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_PREFIX_LIST_V4,
  CLOUDFRONT_PREFIX_LIST_V6,
  type LocalAws,
  startLocalAws,
} from '../aws-local/index.js';

let aws: LocalAws;

function secretsManager(target: string, body: unknown): Promise<Response> {
  return fetch(aws.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `secretsmanager.${target}`,
    },
    body: JSON.stringify(body),
  });
}

function ec2(params: Record<string, string>): Promise<Response> {
  return fetch(aws.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams({ Version: '2016-11-15', ...params }).toString(),
  });
}

beforeAll(async () => {
  aws = await startLocalAws();
});

afterAll(async () => {
  await aws.close();
});

beforeEach(() => {
  aws.faults.clear();
  aws.resetCalls();
});

describe('local AWS endpoint: Secrets Manager wire format', () => {
  it('answers GetSecretValue with the fields AWS returns', async () => {
    const { arn, versionId } = aws.secrets.put('wire/one', 'value-0123456789abcdef');

    const response = await secretsManager('GetSecretValue', { SecretId: arn });
    const body = (await response.json()) as Record<string, unknown>;

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toEqual({
      ARN: arn,
      Name: 'wire/one',
      VersionId: versionId,
      SecretString: 'value-0123456789abcdef',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: expect.any(Number),
    });
    expect(arn).toMatch(
      /^arn:aws:secretsmanager:us-east-1:123456789012:secret:wire\/one-[A-Za-z0-9]{6}$/,
    );
  });

  it('answers a missing stage with ResourceNotFoundException in the JSON 1.1 error shape', async () => {
    aws.secrets.put('wire/two', 'value-0123456789abcdef');

    const response = await secretsManager('GetSecretValue', {
      SecretId: 'wire/two',
      VersionStage: 'AWSPREVIOUS',
    });

    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await response.json()).toEqual({
      __type: 'ResourceNotFoundException',
      message:
        "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    });
  });

  it('moves labels like rotation does (put, stagePending, promote) as DescribeSecret shows', async () => {
    const client = new SecretsManagerClient({
      endpoint: aws.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const v1 = aws.secrets.put('wire/rotation', 'value-1-0123456789abcdef').versionId;
    const v2 = aws.secrets.put('wire/rotation', 'value-2-0123456789abcdef').versionId;
    const v3 = aws.secrets.stagePending('wire/rotation', 'value-3-0123456789abcdef');

    const before = await client.send(new DescribeSecretCommand({ SecretId: 'wire/rotation' }));
    aws.secrets.promote('wire/rotation');
    const after = await client.send(new DescribeSecretCommand({ SecretId: 'wire/rotation' }));
    const all = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: 'wire/rotation', IncludeDeprecated: true }),
    );
    client.destroy();

    expect(before.VersionIdsToStages).toEqual({
      [v1]: ['AWSPREVIOUS'],
      [v2]: ['AWSCURRENT'],
      [v3]: ['AWSPENDING'],
    });
    expect(after.VersionIdsToStages).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    expect(all.Versions?.map((v) => v.VersionId)).toEqual([v1, v2, v3]);
  });

  it('answers AccessDeniedException for a denied secret and InvalidParameterException without SecretId', async () => {
    aws.secrets.put('wire/denied', 'value-0123456789abcdef');
    aws.secrets.deny('wire/denied');

    const denied = await secretsManager('GetSecretValue', { SecretId: 'wire/denied' });
    const missing = await secretsManager('GetSecretValue', {});

    expect(((await denied.json()) as { __type: string }).__type).toBe('AccessDeniedException');
    expect(((await missing.json()) as { __type: string }).__type).toBe('InvalidParameterException');
  });
});

describe('local AWS endpoint: EC2 wire format', () => {
  it('answers DescribeManagedPrefixLists in EC2 XML with both seeded CloudFront lists', async () => {
    const response = await ec2({
      Action: 'DescribeManagedPrefixLists',
      'Filter.1.Name': 'prefix-list-name',
      'Filter.1.Value.1': CLOUDFRONT_PREFIX_LIST_V4,
      'Filter.1.Value.2': CLOUDFRONT_PREFIX_LIST_V6,
    });
    const xml = await response.text();

    expect(response.status).toBe(200);
    expect(xml).toContain(
      '<DescribeManagedPrefixListsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">',
    );
    expect(xml).toMatch(/<requestId>[0-9a-f-]{36}<\/requestId>/);
    expect(xml.match(/<item>/g)).toHaveLength(2);
    expect(xml).toMatch(
      /<prefixListId>pl-[0-9a-f]{8}<\/prefixListId><addressFamily>IPv4<\/addressFamily>/,
    );
    expect(xml).toContain('<ownerId>AWS</ownerId>');
    expect(xml).toContain('<version>1</version>');
  });

  it('pages GetManagedPrefixListEntries with MaxResults and NextToken', async () => {
    const id = aws.ec2.getPrefixList(CLOUDFRONT_PREFIX_LIST_V4)?.id ?? '';
    const cidrs: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const xml = await (
        await ec2({
          Action: 'GetManagedPrefixListEntries',
          PrefixListId: id,
          MaxResults: '20',
          ...(token ? { NextToken: token } : {}),
        })
      ).text();
      cidrs.push(...[...xml.matchAll(/<cidr>([^<]+)<\/cidr>/g)].map((m) => m[1] as string));
      token = /<nextToken>([^<]+)<\/nextToken>/.exec(xml)?.[1];
      pages++;
    } while (token !== undefined);

    expect(pages).toBe(3);
    expect(cidrs).toEqual([...CLOUDFRONT_ORIGIN_FACING_V4]);
  });

  it('answers errors in EC2 XML shape', async () => {
    const notFound = await ec2({
      Action: 'GetManagedPrefixListEntries',
      PrefixListId: 'pl-00000000',
    });
    const badMax = await ec2({ Action: 'DescribeManagedPrefixLists', MaxResults: '500' });

    expect(notFound.status).toBe(400);
    expect(await notFound.text()).toMatch(
      /<Response><Errors><Error><Code>InvalidPrefixListID\.NotFound<\/Code><Message>The prefix list ID 'pl-00000000' does not exist<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>/,
    );
    expect(await badMax.text()).toContain('<Code>InvalidParameterValue</Code>');
  });

  it('bumps the version only when the entries change', () => {
    const name = 'com.example.local-test';
    expect(aws.ec2.setPrefixList(name, ['10.0.0.0/8']).version).toBe(1);
    expect(aws.ec2.setPrefixList(name, ['10.0.0.0/8']).version).toBe(1);
    expect(aws.ec2.setPrefixList(name, ['10.0.0.0/8', '192.168.0.0/16']).version).toBe(2);
    aws.ec2.removePrefixList(name);
  });
});

describe('local AWS endpoint: ip-ranges, faults, counters, shutdown', () => {
  it('serves ip-ranges.json with an ETag and answers 304 to If-None-Match', async () => {
    const first = await fetch(aws.ipRangesUrl);
    const doc = (await first.json()) as {
      syncToken: string;
      prefixes: unknown[];
      ipv6_prefixes: unknown[];
    };
    const etag = first.headers.get('etag') ?? '';
    const second = await fetch(aws.ipRangesUrl, { headers: { 'if-none-match': etag } });

    expect(doc.syncToken).toBe(aws.ipRanges.syncToken);
    expect(Array.isArray(doc.prefixes) && Array.isArray(doc.ipv6_prefixes)).toBe(true);
    expect(second.status).toBe(304);
    expect(aws.calls).toEqual({ 'ip-ranges': 2 });
  });

  it('limits faults to the listed actions, and failNext runs out', async () => {
    aws.faults.set({ failNext: 1, actions: ['ip-ranges'] });
    aws.secrets.put('wire/faults', 'value-0123456789abcdef');

    const unaffected = await secretsManager('GetSecretValue', { SecretId: 'wire/faults' });
    const failed = await fetch(aws.ipRangesUrl);
    const recovered = await fetch(aws.ipRangesUrl);

    expect(unaffected.status).toBe(200);
    expect(failed.status).toBe(500);
    expect(recovered.status).toBe(200);
  });

  it('adds latency', async () => {
    aws.faults.set({ latencyMs: 100 });

    const start = performance.now();
    await fetch(aws.ipRangesUrl);

    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
  });

  it('resets the connection on `outage: reset`', async () => {
    aws.faults.set({ outage: 'reset' });

    await expect(fetch(aws.ipRangesUrl)).rejects.toThrow(/fetch failed/);
  });

  it('holds calls on `outage: hang` and answers them once the faults are cleared', async () => {
    aws.faults.set({ outage: 'hang' });
    const pending = fetch(aws.ipRangesUrl);
    await new Promise((r) => setTimeout(r, 50));
    expect(aws.faults.hanging).toBe(1);

    aws.faults.clear();
    const response = await pending;

    expect(response.status).toBe(200);
    expect(aws.faults.hanging).toBe(0);
  });

  it('exposes env() for the SDK default chain and the ip-ranges URL', () => {
    expect(aws.env()).toEqual({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
      AWS_ENDPOINT_URL_EC2: aws.url,
      AWS_ENDPOINT_URL_CLOUDFRONT: aws.url,
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: aws.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      CDN_ORIGIN_GUARD_IP_RANGES_URL: `${aws.url}/ip-ranges.json`,
      CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL: 'true',
    });
    expect(aws.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('closes promptly even with hung calls and keep-alive connections', async () => {
    const other = await startLocalAws();
    await fetch(other.ipRangesUrl); // leaves a keep-alive connection
    other.faults.set({ outage: 'hang' });
    const hung = fetch(other.ipRangesUrl).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));

    const start = performance.now();
    await other.close();

    // Without closing the connections, close() would wait for the hung call forever; 1 s of
    // slack keeps a busy CI box from failing a prompt close.
    expect(performance.now() - start).toBeLessThan(1_000);
    expect(await hung).toBeInstanceOf(Error);
  });
});

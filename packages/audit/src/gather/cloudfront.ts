/**
 * The CloudFront distributions in front of the ALB (given by id, or found by origin domain).
 * @module
 */
import {
  type CloudFrontClient,
  GetDistributionCommand,
  GetVpcOriginCommand,
  ListDistributionsCommand,
  type Origins,
} from '@aws-sdk/client-cloudfront';
import { bareDomain } from '../net.js';
import { SecretText } from '../secret-text.js';
import type { DistributionInfo, Gathered, OriginInfo } from '../types.js';
import { gather, type Step } from './errors.js';
import { allPages } from './paging.js';

/** `HTTPPort` and `HTTPSPort` of a custom origin or a VPC origin (both are required fields). */
function portsOf(
  config: { HTTPPort?: number; HTTPSPort?: number } | undefined,
): OriginInfo['ports'] {
  if (config?.HTTPPort === undefined || config.HTTPSPort === undefined) return undefined;
  return { http: config.HTTPPort, https: config.HTTPSPort };
}

function toOrigins(origins: Origins | undefined): OriginInfo[] {
  return (origins?.Items ?? []).map((o) => {
    const headers = new Map<string, SecretText>();
    for (const h of o.CustomHeaders?.Items ?? []) {
      if (h.HeaderName !== undefined)
        headers.set(h.HeaderName.toLowerCase(), new SecretText(h.HeaderValue ?? ''));
    }
    const vpcOriginId = o.VpcOriginConfig?.VpcOriginId;
    const ports = portsOf(o.CustomOriginConfig);
    return {
      id: o.Id ?? '',
      domainName: o.DomainName ?? '',
      protocolPolicy: o.CustomOriginConfig?.OriginProtocolPolicy,
      ...(ports === undefined ? {} : { ports }),
      ...(vpcOriginId === undefined ? {} : { vpcOrigin: { id: vpcOriginId } }),
      headers,
    };
  });
}

/**
 * Give each VPC origin the protocol policy of its VPC origin (GetVpcOrigin, once per id). A
 * call that fails leaves the policy unread with the reason, and the rest of the distributions
 * stand (outside review, 4 December: a VPC origin has no CustomOriginConfig, and was reported
 * as sending the header in clear text).
 */
async function withVpcOriginPolicies(
  client: CloudFrontClient,
  distributions: DistributionInfo[],
): Promise<DistributionInfo[]> {
  const ids = new Set(
    distributions.flatMap((d) => d.origins.flatMap((o) => o.vpcOrigin?.id ?? [])),
  );
  if (ids.size === 0) return distributions;
  const policies = new Map<
    string,
    Gathered<{ policy: string | undefined; ports: OriginInfo['ports'] }>
  >();
  await Promise.all(
    [...ids].map(async (id) => {
      const read = await gather((step) =>
        step('cloudfront:GetVpcOrigin', () => client.send(new GetVpcOriginCommand({ Id: id }))),
      );
      policies.set(
        id,
        read.ok
          ? {
              ok: true,
              value: {
                policy: read.value.VpcOrigin?.VpcOriginEndpointConfig?.OriginProtocolPolicy,
                ports: portsOf(read.value.VpcOrigin?.VpcOriginEndpointConfig),
              },
            }
          : read,
      );
    }),
  );
  return distributions.map((d) => ({
    ...d,
    origins: d.origins.map((o): OriginInfo => {
      const policy = o.vpcOrigin === undefined ? undefined : policies.get(o.vpcOrigin.id);
      if (o.vpcOrigin === undefined || policy === undefined) return o;
      return policy.ok
        ? {
            ...o,
            protocolPolicy: policy.value.policy,
            ...(policy.value.ports === undefined ? {} : { ports: policy.value.ports }),
          }
        : { ...o, vpcOrigin: { id: o.vpcOrigin.id, unread: policy.skip } };
    }),
  }));
}

/** Which distributions to read. */
export interface DistributionQuery {
  /** `--distribution`: read these (GetDistribution); none: find them (ListDistributions). */
  readonly ids: readonly string[];
  /** The ALB's DNS name. */
  readonly dnsName: string;
  /** The header's name, lower case. */
  readonly headerName: string;
}

/**
 * Read the given distributions (GetDistribution), or find those with an origin at the ALB or
 * sending the header (ListDistributions, whose summaries carry every origin's custom headers):
 * domains compared as {@link bareDomain}s so `dualstack.<dnsName>` is found too, and an origin
 * on a CNAME of the ALB by the header it sends (review, thirteenth session: a distribution
 * sending the secret in clear text to `origin.example.com`, a CNAME of the ALB, was never
 * read). The checks tell this site's origins from another site's on the same header name. Then
 * the protocol policies of their VPC origins (GetVpcOrigin).
 */
export async function readDistributions(
  client: CloudFrontClient,
  query: DistributionQuery,
  step: Step,
): Promise<DistributionInfo[]> {
  const { ids, dnsName, headerName } = query;
  if (ids.length > 0) {
    const given = await Promise.all(
      ids.map(async (id) => {
        const out = await step(
          'cloudfront:GetDistribution',
          () => client.send(new GetDistributionCommand({ Id: id })),
          `no CloudFront distribution ${id}: check --distribution`,
        );
        return {
          id,
          status: out.Distribution?.Status ?? 'unknown',
          origins: toOrigins(out.Distribution?.DistributionConfig?.Origins),
        };
      }),
    );
    return withVpcOriginPolicies(client, given);
  }
  const summaries = await allPages(
    step,
    {
      action: 'cloudfront:ListDistributions',
      ask: (Marker) => client.send(new ListDistributionsCommand({ Marker })),
      next: (out) => ({
        token: out.DistributionList?.NextMarker,
        truncated: out.DistributionList?.IsTruncated === true,
      }),
    },
    (out) => out.DistributionList?.Items,
  );
  const dns = bareDomain(dnsName);
  const found: DistributionInfo[] = [];
  for (const d of summaries) {
    const origins = toOrigins(d.Origins);
    if (origins.some((o) => bareDomain(o.domainName) === dns || o.headers.has(headerName)))
      found.push({ id: d.Id ?? '', status: d.Status ?? 'unknown', origins, listed: true });
  }
  return withVpcOriginPolicies(client, found);
}

/**
 * The CloudFront distributions in front of the ALB (given by id, or found by origin domain).
 * @module
 */
import {
  type CloudFrontClient,
  GetDistributionCommand,
  ListDistributionsCommand,
  type Origins,
} from '@aws-sdk/client-cloudfront';
import { bareDomain } from '../net.js';
import { SecretText } from '../secret-text.js';
import type { DistributionInfo, OriginInfo } from '../types.js';
import type { Step } from './errors.js';

function toOrigins(origins: Origins | undefined): OriginInfo[] {
  return (origins?.Items ?? []).map((o) => {
    const headers = new Map<string, SecretText>();
    for (const h of o.CustomHeaders?.Items ?? []) {
      if (h.HeaderName !== undefined)
        headers.set(h.HeaderName.toLowerCase(), new SecretText(h.HeaderValue ?? ''));
    }
    return {
      id: o.Id ?? '',
      domainName: o.DomainName ?? '',
      protocolPolicy: o.CustomOriginConfig?.OriginProtocolPolicy,
      headers,
    };
  });
}

/**
 * Read the given distributions (GetDistribution), or find those with an origin at `dnsName`
 * (ListDistributions), compared as {@link bareDomain}s so `dualstack.<dnsName>` is found too.
 */
export async function readDistributions(
  client: CloudFrontClient,
  ids: readonly string[],
  dnsName: string,
  step: Step,
): Promise<DistributionInfo[]> {
  if (ids.length > 0) {
    return Promise.all(
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
  }
  const found: DistributionInfo[] = [];
  const dns = bareDomain(dnsName);
  let marker: string | undefined;
  do {
    const out = await step('cloudfront:ListDistributions', () =>
      client.send(new ListDistributionsCommand({ Marker: marker })),
    );
    for (const d of out.DistributionList?.Items ?? []) {
      const origins = toOrigins(d.Origins);
      if (origins.some((o) => bareDomain(o.domainName) === dns))
        found.push({ id: d.Id ?? '', status: d.Status ?? 'unknown', origins });
    }
    marker =
      out.DistributionList?.IsTruncated === true ? out.DistributionList.NextMarker : undefined;
  } while (marker !== undefined && marker !== '');
  return found;
}

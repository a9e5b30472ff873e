/**
 * The CloudFront side of a rotation: put the value on every origin that carries the header
 * (`GetDistributionConfig`, `UpdateDistribution` with `IfMatch`, bounded retries on
 * `PreconditionFailed`), and read whether a distribution is deployed with it.
 * @module
 */
import {
  type CloudFrontClient,
  type DistributionConfig,
  GetDistributionCommand,
  type GetDistributionCommandOutput,
  GetDistributionConfigCommand,
  type GetDistributionConfigCommandOutput,
  ListDistributionsCommand,
  type ListDistributionsCommandOutput,
  type Origin,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { sleep } from '../budget.js';
import { awsCallFailed, awsErrorName, RotationError } from '../errors.js';
import { nextPageOf } from './paging.js';

/** Which origins carry the header: by id, or by domain name (an ALB's). */
export interface OriginSelector {
  readonly headerName: string;
  readonly originIds: readonly string[];
  readonly domainNames: readonly string[];
}

const bareDomain = (domain: string): string => domain.toLowerCase().replace(/^dualstack\./, '');

/** The origins of `config` that should carry the header. */
export function selectOrigins(
  config: DistributionConfig | undefined,
  selector: OriginSelector,
): Origin[] {
  const domains = new Set(selector.domainNames.map(bareDomain));
  return (config?.Origins?.Items ?? []).filter(
    (o) =>
      (o.Id !== undefined && selector.originIds.includes(o.Id)) ||
      (o.DomainName !== undefined && domains.has(bareDomain(o.DomainName))),
  );
}

function headerOf(origin: Origin, headerName: string): string | undefined {
  return origin.CustomHeaders?.Items?.find((h) => h.HeaderName?.toLowerCase() === headerName)
    ?.HeaderValue;
}

/** Set the header on `origin` (keeping every other header); whether anything changed. */
function setHeader(origin: Origin, headerName: string, value: string): boolean {
  const items = origin.CustomHeaders?.Items ?? [];
  const existing = items.find((h) => h.HeaderName?.toLowerCase() === headerName);
  if (existing?.HeaderValue === value) return false;
  if (existing !== undefined) existing.HeaderValue = value;
  else items.push({ HeaderName: headerName, HeaderValue: value });
  origin.CustomHeaders = { Quantity: items.length, Items: items };
  return true;
}

function noOrigin(id: string, selector: OriginSelector): RotationError {
  const wanted = [
    ...selector.originIds.map((o) => `id ${o}`),
    ...selector.domainNames.map((d) => `domain ${d}`),
  ];
  return new RotationError(
    'no-matching-origin',
    wanted.length === 0
      ? `distribution ${id}: no origin to update (no originIds, no originDomainNames, and the ALBs' DNS names could not be found); set originIds or originDomainNames.`
      : `distribution ${id} has no origin with ${wanted.join(' or ')}; check originIds / originDomainNames (or that the origin points at the ALB).`,
  );
}

/** Outcome of {@link putHeaderValue}. */
export interface UpdateOutcome {
  readonly updated: boolean;
  readonly attempts: number;
  readonly originIds: readonly string[];
}

/**
 * Put `value` in the header of every selected origin of distribution `id`. Re-reads and
 * retries on `PreconditionFailed` up to `maxAttempts` times; no call when it is already there.
 */
export async function putHeaderValue(
  client: CloudFrontClient,
  id: string,
  value: string,
  selector: OriginSelector,
  maxAttempts: number,
  known: string[],
): Promise<UpdateOutcome> {
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let read: GetDistributionConfigCommandOutput;
    try {
      read = await client.send(new GetDistributionConfigCommand({ Id: id }));
    } catch (error) {
      throw awsCallFailed(`GetDistributionConfig ${id}`, error, known);
    }
    const config = read.DistributionConfig;
    const origins = selectOrigins(config, selector);
    if (config === undefined || origins.length === 0) throw noOrigin(id, selector);
    const originIds = origins.map((o) => o.Id ?? '');
    let changed = false;
    for (const origin of origins)
      changed = setHeader(origin, selector.headerName, value) || changed;
    if (!changed) return { updated: false, attempts: attempt, originIds };
    try {
      await client.send(
        new UpdateDistributionCommand({ Id: id, IfMatch: read.ETag, DistributionConfig: config }),
      );
      return { updated: true, attempts: attempt, originIds };
    } catch (error) {
      if (awsErrorName(error) !== 'PreconditionFailed')
        throw awsCallFailed(`UpdateDistribution ${id}`, error, known);
      await sleep(100 * attempt);
    }
  }
  throw new RotationError(
    'update-conflict',
    `UpdateDistribution ${id} answered PreconditionFailed ${maxAttempts} times (someone else keeps changing the distribution); the step will be retried.`,
    'PreconditionFailed',
  );
}

/** The header each origin of a distribution sends, split by whether the selector selects it. */
export interface OriginHeaders {
  /** The selected origins (at least one) and the value each sends (`undefined`: no header). */
  readonly selected: readonly { readonly id: string; readonly value: string | undefined }[];
  /** The origins not selected that send the header, and their values. */
  readonly unselected: readonly { readonly id: string; readonly value: string }[];
}

function originHeaders(
  id: string,
  config: DistributionConfig | undefined,
  selector: OriginSelector,
): OriginHeaders {
  const chosen = selectOrigins(config, selector);
  if (chosen.length === 0) throw noOrigin(id, selector);
  const unselected: { id: string; value: string }[] = [];
  for (const origin of config?.Origins?.Items ?? []) {
    if (chosen.includes(origin)) continue;
    const value = headerOf(origin, selector.headerName);
    if (value !== undefined) unselected.push({ id: origin.Id ?? '', value });
  }
  return {
    selected: chosen.map((o) => ({ id: o.Id ?? '', value: headerOf(o, selector.headerName) })),
    unselected,
  };
}

/**
 * Status of distribution `id` and the header its origins send in its stored configuration
 * (`GetDistribution`): what the edges send only once the status is `Deployed`.
 */
export async function distributionState(
  client: CloudFrontClient,
  id: string,
  selector: OriginSelector,
  known: string[],
): Promise<OriginHeaders & { readonly status: string }> {
  let out: GetDistributionCommandOutput;
  try {
    out = await client.send(new GetDistributionCommand({ Id: id }));
  } catch (error) {
    throw awsCallFailed(`GetDistribution ${id}`, error, known);
  }
  return {
    status: out.Distribution?.Status ?? 'unknown',
    ...originHeaders(id, out.Distribution?.DistributionConfig, selector),
  };
}

/**
 * The distributions of the account, other than `listed`, with an origin whose `headerName`
 * header holds one of `values`, whatever the origin's domain: each would be
 * left on a value the rotation stops accepting (`ListDistributions`, paged and bounded). The
 * values are this secret's own random values, so an origin sending one reaches something that
 * checks it. Review, 5 December: only the ALB's domains were looked at, so an origin on a CNAME
 * of the ALB, or any origin with `originIds`-only options, was missed, and cut off two
 * rotations later.
 */
export async function unlistedSenders(
  client: CloudFrontClient,
  listed: readonly string[],
  headerName: string,
  values: readonly string[],
  known: string[],
): Promise<string[]> {
  const found: string[] = [];
  const next = nextPageOf('ListDistributions');
  let marker: string | undefined;
  do {
    let out: ListDistributionsCommandOutput;
    try {
      out = await client.send(new ListDistributionsCommand({ Marker: marker }));
    } catch (error) {
      throw awsCallFailed('ListDistributions', error, known);
    }
    for (const summary of out.DistributionList?.Items ?? []) {
      if (summary.Id === undefined || listed.includes(summary.Id)) continue;
      const sends = (summary.Origins?.Items ?? []).some((o) => {
        const value = headerOf(o, headerName);
        return value !== undefined && values.includes(value);
      });
      if (sends) found.push(summary.Id);
    }
    marker = out.DistributionList?.IsTruncated ? next(out.DistributionList.NextMarker) : undefined;
  } while (marker !== undefined);
  return found;
}

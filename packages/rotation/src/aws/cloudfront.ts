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
import {
  checkRequestBody,
  documentPaths,
  keepResponseBody,
  listPaths,
  missingPaths,
  XmlReadError,
} from './round-trip.js';

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

/** A configuration read with `GetDistributionConfig`, and the element paths AWS sent for it. */
interface ReadConfig {
  readonly read: GetDistributionConfigCommandOutput;
  /** The element paths of the body as AWS sent it, empty elements left out. */
  readonly received: ReadonlySet<string>;
}

async function readConfig(
  client: CloudFrontClient,
  id: string,
  known: string[],
): Promise<ReadConfig> {
  const command = new GetDistributionConfigCommand({ Id: id });
  const body = keepResponseBody(command, client);
  let read: GetDistributionConfigCommandOutput;
  try {
    read = await client.send(command);
  } catch (error) {
    throw awsCallFailed(`GetDistributionConfig ${id}`, error, known);
  }
  const raw = body();
  try {
    if (raw === undefined)
      throw new XmlReadError(
        "no response body was kept: the client's send did not run the command's middleware (a mock or stub of send); pass a real SDK client",
      );
    return { read, received: documentPaths(raw, { withContentOnly: true }) };
  } catch (error) {
    if (!(error instanceof XmlReadError)) throw error;
    throw new RotationError(
      'unmodelled-config',
      `distribution ${id}: the GetDistributionConfig response could not be read as AWS sent it (${error.message}), so this function cannot tell whether UpdateDistribution would write all of it back; UpdateDistribution was not sent, the distribution is unchanged.`,
    );
  }
}

/**
 * Refuse an `UpdateDistribution` body that leaves out an element path `received` holds: the SDK
 * parsed only the elements its model knows, and UpdateDistribution replaces the whole
 * configuration, so the others would be removed from the distribution (review of the rotation
 * function, 5 December: a CloudFront feature newer than the Lambda runtime's SDK was dropped by
 * every rotation). Names only in the message, never text: a header value is the secret.
 */
function checkWrittenBack(id: string, received: ReadonlySet<string>, body: string): void {
  let missing: string[];
  try {
    missing = missingPaths(received, documentPaths(body));
  } catch (error) {
    if (!(error instanceof XmlReadError)) throw error;
    missing = [...received].sort();
  }
  if (missing.length > 0)
    throw new RotationError(
      'unmodelled-config',
      `distribution ${id}: its configuration holds element(s) that this function's AWS SDK does not know, so the UpdateDistribution it built leaves them out, and sending it would remove them from the distribution (UpdateDistribution replaces the whole configuration): ${listPaths(missing)}. UpdateDistribution was not sent; the distribution is unchanged. Deploy the function bundled with a newer @aws-sdk/client-cloudfront (esbuild without --external for it; see the README's deployment section), or on a newer Lambda runtime, then retry.`,
    );
}

/**
 * Read distribution `id`, put `value` in its selected origins' header and send the update
 * (`changed: false`, no update, when they hold it already). The update is checked before it is
 * sent ({@link checkWrittenBack}); with `dryRun` it is built and checked, not sent.
 */
async function updateOnce(
  client: CloudFrontClient,
  id: string,
  value: string,
  selector: OriginSelector,
  known: string[],
  dryRun: boolean,
): Promise<{ readonly changed: boolean; readonly originIds: string[] }> {
  const { read, received } = await readConfig(client, id, known);
  const config = read.DistributionConfig;
  const origins = selectOrigins(config, selector);
  if (config === undefined || origins.length === 0) throw noOrigin(id, selector);
  const originIds = origins.map((o) => o.Id ?? '');
  let changed = false;
  for (const origin of origins) changed = setHeader(origin, selector.headerName, value) || changed;
  if (!changed) return { changed, originIds };
  const command = new UpdateDistributionCommand({
    Id: id,
    IfMatch: read.ETag,
    DistributionConfig: config,
  });
  checkRequestBody(command, (body) => checkWrittenBack(id, received, body), { dryRun });
  await client.send(command);
  return { changed, originIds };
}

/**
 * Put `value` in the header of every selected origin of distribution `id`. Re-reads and
 * retries on `PreconditionFailed` up to `maxAttempts` times; no call when it is already there.
 * An update that would leave out an element of the configuration as AWS sent it (one this
 * function's SDK does not know) is not sent: `unmodelled-config`.
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
    try {
      const { changed, originIds } = await updateOnce(client, id, value, selector, known, false);
      return { updated: changed, attempts: attempt, originIds };
    } catch (error) {
      if (error instanceof RotationError) throw error;
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

/**
 * What {@link putHeaderValue} would do, without sending anything: read distribution `id`, build
 * the update and refuse it (`unmodelled-config`) if it would leave out an element of the
 * configuration as AWS sent it. setSecret runs it before any change, so such a distribution
 * stops the rotation with nothing changed (no rule widened).
 */
export async function checkHeaderUpdate(
  client: CloudFrontClient,
  id: string,
  value: string,
  selector: OriginSelector,
  known: string[],
): Promise<void> {
  await updateOnce(client, id, value, selector, known, true);
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
    const list = out.DistributionList;
    // Truncated without a marker: the rest cannot be asked for, and a distribution on it would be
    // missed (review, thirteenth session: the listing ended there silently).
    if (list?.IsTruncated === true && !list.NextMarker)
      throw new RotationError(
        'aws-error',
        'ListDistributions said more distributions follow but gave no NextMarker; the listing could not be read to its end.',
      );
    marker = list?.IsTruncated ? next(list.NextMarker) : undefined;
  } while (marker !== undefined);
  return found;
}

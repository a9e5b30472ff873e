/**
 * Secret source backed by AWS Secrets Manager: `GetSecretValue` per staging label on the first
 * and forced loads, `DescribeSecret` plus reads of new versions only on scheduled refreshes.
 * Only loads; caching, refresh and last-known-good live in the cache layer.
 * @module
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretStage } from '../decision.js';
import { SourceError } from '../errors.js';
import { DEFAULT_SECRET_STAGES } from '../options/defaults.js';
import { secretValueProblem } from '../secret/compare.js';
import {
  awsCallError,
  awsErrorCode,
  createDeadline,
  lazyAwsClient,
  resolveTimeoutMs,
  untilAborted,
} from './aws-shared.js';
import { monotonicNow } from './clock.js';
import { requirePeer } from './peer.js';
import type {
  AwsSdkClient,
  SecretSnapshot,
  SecretSource,
  SecretValue,
  SourceLoadContext,
} from './types.js';

const REQUIRED_STAGE = 'AWSCURRENT';
/** The labels Secrets Manager moves itself; AWSPREVIOUS and AWSPENDING are absent at times. */
const MANAGED_STAGES: readonly string[] = [REQUIRED_STAGE, 'AWSPREVIOUS', 'AWSPENDING'];
const PENDING_STAGE = 'AWSPENDING';
/**
 * An `AWSPENDING` version (not the `AWSCURRENT` one) older than this is a failed rotation: a
 * rotation starts within its window (at most a UTC day) and its steps take minutes. The audit's
 * `secret-rotation` check uses the same bound, and the same clock ({@link awsNow}).
 */
const STUCK_PENDING_MS = 24 * 3_600_000;

/** How far this clock may be from AWS's before ages are judged on AWS's (the audit's bound). */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Now, on AWS's clock when this one is off by more than {@link CLOCK_SKEW_MS}: the SDK reads
 * AWS's time from the `Date` of its answers (`systemClockOffset` on the client's config), and a
 * version's `CreatedDate` is AWS's. Within that bound, this clock (the header is read to the
 * second). Review, eleventh session: with this clock a day ahead, a rotation started an hour
 * ago was reported stuck.
 */
function awsNow(client: unknown): number {
  return Date.now() + awsOffset(client);
}

/** How far AWS's clock is ahead of this one, when over {@link CLOCK_SKEW_MS}; else 0. */
function awsOffset(client: unknown): number {
  const offset = (client as { config?: { systemClockOffset?: unknown } } | undefined)?.config
    ?.systemClockOffset;
  return typeof offset === 'number' && Math.abs(offset) > CLOCK_SKEW_MS ? offset : 0;
}

/**
 * Whether an AWS error says the secret is scheduled for deletion: what `GetSecretValue` answers
 * for the whole recovery window (`InvalidRequestException`, "... because it was marked for
 * deletion.").
 */
function markedForDeletion(error: unknown): boolean {
  return (
    awsErrorCode(error) === 'InvalidRequestException' &&
    error instanceof Error &&
    /marked for deletion/i.test(error.message)
  );
}

/** Options of {@link secretsManagerSource}. */
export interface SecretsManagerSourceOptions {
  /**
   * The secret's name or ARN.
   * @example
   * secretsManagerSource({ secretId: 'prod/cloudfront/origin-verify' });
   */
  readonly secretId: string;
  /**
   * Read this key of a JSON `SecretString` (`{"header":"..."}`) instead of the whole string.
   * The key's value must be a string. Defaults to `undefined` (the whole SecretString).
   * @example
   * secretsManagerSource({ secretId: 'prod/cloudfront', jsonKey: 'originVerify' });
   */
  readonly jsonKey?: string;
  /**
   * Staging labels to load. `AWSCURRENT` is required and always loaded; the others are
   * optional (a label that does not exist on the secret is skipped). A custom label (not
   * `AWSPREVIOUS` or `AWSPENDING`) that no version carries is reported once in
   * `snapshot.warnings` (through `onSourceError`), and again only after it has appeared and
   * gone. Defaults to `['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']`.
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', stages: ['AWSCURRENT', 'AWSPREVIOUS'] });
   */
  readonly stages?: readonly SecretStage[];
  /**
   * A client to use as is (the source never destroys it). Its own timeouts and retries apply
   * per attempt; `timeoutMs` still bounds the whole load. Defaults to a client created on the
   * first load (the SDK is an optional peer dependency) and destroyed by `close()`.
   * @example
   * import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
   * secretsManagerSource({ secretId: 'prod/origin-verify', client: new SecretsManagerClient({}) });
   */
  readonly client?: AwsSdkClient;
  /**
   * Region of the created client. Ignored with `client`. Defaults to the SDK's default chain
   * (`AWS_REGION`, shared config, ...).
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', region: 'eu-west-1' });
   */
  readonly region?: string;
  /**
   * Endpoint of the created client (e.g. a VPC endpoint or a local test server). Ignored with
   * `client`. Defaults to the SDK's resolution, which honours `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', endpoint: 'http://127.0.0.1:4566' });
   */
  readonly endpoint?: string;
  /**
   * Upper bound in milliseconds for the AWS calls of one `load()`, SDK retries included; also
   * the created client's connection and request timeouts. The one-time SDK import and client
   * creation of the first load are not counted (the caller's signal still aborts them).
   * Defaults to `3000`.
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', timeoutMs: 1500 });
   */
  readonly timeoutMs?: number;
  /**
   * Longest time, in ms, the values may go without being read again with `GetSecretValue`: a
   * scheduled load after that reads every stage directly, as a forced load does, so a secret
   * whose labels `DescribeSecret` still confirms but whose values can no longer be read (KMS key
   * disabled, `GetSecretValue` revoked) fails its loads. A load whose context says `revalidate`
   * reads them too, whatever this option: the guard asks so with `maxStaleMs` once the values
   * were read half of it ago (as given or wired by the guard alike), since `maxStaleMs` counts
   * from the last time the values were read, not from the last time their labels were
   * confirmed. Defaults to none: a version's value is read once, unless a load asks again.
   */
  readonly revalidateMs?: number;
}

/**
 * A {@link SecretSource} reading the secret header value from AWS Secrets Manager.
 *
 * The first `load()`, a load with `context.forced` (a value matched nothing: maybe a
 * rotation), the load after a failed one, and (with `revalidateMs`) a load once the values were
 * last read that long ago, send one `GetSecretValue` per stage, in parallel: one round trip. Other loads send
 * one `DescribeSecret`, whose `VersionIdsToStages` says which version holds each stage, then one
 * `GetSecretValue` (by `VersionId` and stage) per version this source has not read: a refresh
 * where nothing moved is one call. When `DescribeSecret` is denied (`AccessDeniedException`)
 * while `GetSecretValue` works, the source keeps to the per-stage reads for its life and
 * returns the denial once in `snapshot.warnings` (the guard reports it through
 * `onSourceError`): grant `secretsmanager:DescribeSecret` to get one call per refresh.
 * Each load resolves with one value per stage found (two stages on the same version still give
 * two entries, so stats can tell them apart). `AWSCURRENT` must load. A missing optional stage (`ResourceNotFoundException`,
 * e.g. no `AWSPREVIOUS` before the first rotation) is skipped. An optional stage whose value is
 * unusable (empty, invalid, binary, a JSON object without `jsonKey`; e.g. left by a failed
 * rotation) is left out and listed in `snapshot.skipped`, so the other stages keep loading and
 * a later rotation is picked up. Any other failure of an optional stage (access denied, KMS),
 * and an unusable `AWSCURRENT`, fail the whole load so the guard keeps its last-known-good
 * values. A JSON-object value read without `jsonKey` is unusable: the error names its keys
 * (never their values) and the `jsonKey` option.
 * A version's value never changes, so it is read once and kept (by `VersionId`) while a stage
 * holds it; a version listed without a value yet (RotateSecret's `AWSPENDING` before
 * createSecret stored one) is skipped like a missing stage and read again next time.
 * A custom staging label in `stages` that no version carries (a typo such as `PREVIOUS`) is
 * returned once in `snapshot.warnings` (code `MissingStage`), while it stays missing. A usable
 * `AWSPENDING` on a version other than `AWSCURRENT`'s, created over 24 hours ago (a failed
 * rotation), stays accepted and is returned once per version in `snapshot.warnings` (code
 * `StalePending`); so is, at any age, an `AWSPENDING` that is also `AWSPREVIOUS` (a rollback,
 * which blocks the next rotation).
 * Values must be 16-128 printable ASCII characters (0x21-0x7E). Errors are `SourceError`s
 * naming the secret id, the stage and the AWS error code (`awsCode`); they never contain a value.
 * A response the SDK cannot parse is reported by the parser error's name and the HTTP status
 * only: its message would quote the body, that is the value.
 *
 * Defaults to stages `AWSCURRENT`, `AWSPREVIOUS` and `AWSPENDING`, and a 3000 ms timeout.
 * @example
 * import { createOriginVerifier, secretsManagerSource } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({
 *   secret: secretsManagerSource({ secretId: 'prod/cloudfront/origin-verify' }),
 * });
 */
export function secretsManagerSource(options: Readonly<SecretsManagerSourceOptions>): SecretSource {
  const secretId = options.secretId;
  if (typeof secretId !== 'string' || secretId.length === 0) {
    throw new SourceError(
      'secrets-manager',
      '`secretId` must be a non-empty string (a secret name or ARN).',
    );
  }
  const name = `secrets-manager:${secretId}`;
  const jsonKey = options.jsonKey;
  const timeoutMs = resolveTimeoutMs(name, options.timeoutMs);
  const stages = [...new Set([REQUIRED_STAGE, ...(options.stages ?? DEFAULT_SECRET_STAGES)])];
  if (options.client === undefined)
    requirePeer('client', '@aws-sdk/client-secrets-manager', 'client');
  // The structural client is the SDK's client at run time.
  const injected = options.client as SecretsManagerClient | undefined;
  const aws = lazyAwsClient(name, { ...options, client: injected }, timeoutMs, {
    packageName: '@aws-sdk/client-secrets-manager',
    importSdk: () => import('@aws-sdk/client-secrets-manager'),
    create: ({ SecretsManagerClient }, config) => new SecretsManagerClient(config),
  });

  /** Values read so far, by VersionId: a version's SecretString never changes. */
  const known = new Map<string, KnownVersion>();
  /** Whether a load succeeded (the first load reads each stage directly). */
  let primed = false;
  /** DescribeSecret was denied while GetSecretValue worked: read each stage on every load. */
  let describeDenied = false;
  /** When every stage was last read with GetSecretValue (a by-stage load that succeeded). */
  let valuesReadAt = Number.NEGATIVE_INFINITY;
  /**
   * The last load failed: the next one reads every stage, so that a DescribeSecret which still
   * answers is not reported as a recovery while the values cannot be read.
   */
  let lastLoadFailed = false;
  /** Custom labels reported missing and still missing: each is reported once, not per refresh. */
  const reportedMissing = new Set<string>();
  const revalidateMs = options.revalidateMs;
  if (revalidateMs !== undefined && !(Number.isFinite(revalidateMs) && revalidateMs > 0))
    throw new SourceError(
      name,
      `\`revalidateMs\` must be a positive number of milliseconds, got ${String(revalidateMs)}.`,
    );

  const where = (stage: string, versionId: string | undefined): string =>
    `secret "${secretId}" stage ${stage}${versionId === undefined ? '' : ` (version ${versionId})`}`;

  const fail = (stage: string, error: unknown, versionId?: string): SourceError =>
    awsCallError(
      name,
      `GetSecretValue for stage ${stage}${versionId === undefined ? '' : ` (version ${versionId})`} of secret "${secretId}"`,
      error,
      {
        // Scheduled for deletion; or AWSCURRENT read by its label not found, which a live
        // secret always has: the secret is gone (review of this change, 8th session: a forced
        // or retried load, which reads by label, kept a force-deleted secret's values for good).
        // Read by version, a not-found version is a rotation race, not a deletion.
        revoked:
          markedForDeletion(error) ||
          (versionId === undefined &&
            stage === REQUIRED_STAGE &&
            awsErrorCode(error) === NOT_FOUND),
      },
    );

  /**
   * A warning for each custom label in `absent` not reported since it went missing; labels
   * no longer absent are forgotten, so a label that comes back and goes again is reported again.
   */
  const missingLabelWarnings = (absent: readonly string[]): SourceError[] => {
    const custom = absent.filter((stage) => !MANAGED_STAGES.includes(stage));
    for (const stage of reportedMissing) if (!custom.includes(stage)) reportedMissing.delete(stage);
    const fresh = custom.filter((stage) => !reportedMissing.has(stage));
    for (const stage of fresh) reportedMissing.add(stage);
    return fresh.map((stage) => {
      const meant = MANAGED_STAGES.find(
        (m) => m === stage.toUpperCase() || m === `AWS${stage.toUpperCase()}`,
      );
      return new SourceError(
        name,
        `secret "${secretId}" has no version labelled ${stage}, so no value is accepted for that stage.${meant === undefined ? '' : ` Did you mean ${meant} (labels are case-sensitive)?`} Fix the \`secretStages\` option (CDN_ORIGIN_GUARD_SECRET_STAGES; \`stages\` of secretsManagerSource), or attach the label to a version (aws secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage ${stage} --move-to-version-id <version>). Reported once while the label stays missing.`,
        { awsCode: 'MissingStage' },
      );
    });
  };

  /** The `AWSPENDING` version last reported as stuck (each is reported once). */
  let reportedStuck: string | undefined;
  /**
   * A warning, once per version, when the accepted `AWSPENDING` value is a version other than
   * `AWSCURRENT`'s created over a day ago (review, 5 December: a failed rotation's value stayed
   * accepted with nothing in the logs), or at once when that version is `AWSPREVIOUS` (a
   * rollback, which blocks the next rotation). Its value stays accepted: CloudFront may already
   * send it (a failure after setSecret switched it), and denying it then would cut CloudFront off.
   */
  const stuckPendingWarnings = (values: readonly SecretValue[], now: number): SourceError[] => {
    const versionOf = (stage: string) => values.find((v) => v.stage === stage)?.versionId;
    const pending = values.find((v) => v.stage === PENDING_STAGE);
    const id = pending?.versionId;
    if (id === undefined || id === versionOf(REQUIRED_STAGE)) {
      reportedStuck = undefined;
      return [];
    }
    if (reportedStuck === id) return [];
    const audit = `\`cdn-origin-guard audit --secret-id ${secretId}\` (secret-rotation) says how to end it`;
    // A rollback (AWSCURRENT moved back after a finished rotation left AWSPENDING with it):
    // nothing failed, but RotateSecret refuses to start until the label goes, whatever its age.
    if (id === versionOf('AWSPREVIOUS')) {
      reportedStuck = id;
      return [
        new SourceError(
          name,
          `secret "${secretId}" has AWSPENDING on version ${id}, which is AWSPREVIOUS too (AWSCURRENT was moved back after a rotation): RotateSecret refuses to start until the label is removed (aws secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage AWSPENDING --remove-from-version-id ${id}; the value stays accepted as AWSPREVIOUS). Reported once per version.`,
          { awsCode: 'StalePending' },
        ),
      ];
    }
    if (pending?.createdAt === undefined || now - pending.createdAt <= STUCK_PENDING_MS) return [];
    reportedStuck = id;
    const hours = Math.floor((now - pending.createdAt) / 3_600_000);
    return [
      new SourceError(
        name,
        `secret "${secretId}" has had AWSPENDING on version ${id} for ${hours} hours (created ${new Date(pending.createdAt).toISOString()}) and no rotation has finished: the rotation has failed, and the pending value is still accepted. Read the rotation function's logs; ${audit}. Reported once per version.`,
        { awsCode: 'StalePending' },
      ),
    ];
  };

  /**
   * The snapshot of what each stage holds; a bad optional stage is skipped, a bad AWSCURRENT
   * fails. `absent` lists the configured stages no version carries.
   */
  const assemble = (
    picked: readonly Picked[],
    absent: readonly string[],
    client: SecretsManagerClient,
  ): SecretSnapshot => {
    const values: SecretValue[] = [];
    const skipped: SourceError[] = [];
    for (const { stage, versionId, read, createdAt } of picked) {
      if (read.ok) {
        values.push({ stage, value: read.value, versionId, createdAt });
        continue;
      }
      const why = `${where(stage, versionId)}${read.problem}`;
      if (stage === REQUIRED_STAGE) throw new SourceError(name, why);
      // A bad optional stage (e.g. an empty AWSPENDING left by a failed rotation) is left out
      // and reported; the other stages still load, so a later rotation is picked up.
      skipped.push(
        new SourceError(name, `${why} Stage ${stage} is skipped; the other stages are in use.`, {
          awsCode: 'SkippedStage',
        }),
      );
    }
    const version = values
      .map((v) => `${v.stage}:${v.versionId ?? '?'}`)
      .sort()
      .join(',');
    primed = true;
    // Forget versions no accepted stage holds any more.
    const inUse = new Set(picked.map((p) => p.versionId));
    for (const id of known.keys()) if (!inUse.has(id)) known.delete(id);
    const warnings = [
      ...missingLabelWarnings(absent),
      ...stuckPendingWarnings(values, awsNow(client)),
    ];
    // The `CreatedDate`s are AWS's: `previousMaxAgeMs` is judged on AWS's clock too (review,
    // eleventh session: with this clock behind, a retired AWSPREVIOUS was accepted for longer).
    const clockOffsetMs = awsOffset(client);
    return {
      values,
      version,
      ...(skipped.length > 0 ? { skipped } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
      ...(clockOffsetMs !== 0 ? { clockOffsetMs } : {}),
    };
  };

  /** One GetSecretValue per stage, in parallel: the first load, a forced load, or the fallback. */
  const loadByStage = async (
    client: SecretsManagerClient,
    sdk: SecretsManagerSdk,
    signal: AbortSignal,
  ): Promise<SecretSnapshot> => {
    const work = Promise.allSettled(
      stages.map((stage) =>
        client.send(new sdk.GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }), {
          abortSignal: signal,
        }),
      ),
    );
    // allSettled never rejects: this only returns early when the deadline fires.
    const settled = await untilAborted(work, signal);
    const picked: Picked[] = [];
    const absent: string[] = [];
    for (const [i, result] of settled.entries()) {
      const stage = stages[i] as string;
      if (result.status === 'rejected') {
        if (signal.aborted) throw result.reason;
        if (stage !== REQUIRED_STAGE && awsErrorCode(result.reason) === NOT_FOUND) {
          absent.push(stage);
          continue;
        }
        throw fail(stage, result.reason);
      }
      const versionId = result.value.VersionId;
      const version = readKnown(result.value.SecretString, result.value.CreatedDate, jsonKey);
      if (versionId !== undefined) known.set(versionId, version);
      picked.push({ stage, versionId, ...version });
    }
    const snapshot = assemble(picked, absent, client);
    valuesReadAt = monotonicNow();
    return snapshot;
  };

  /**
   * The steady state: one DescribeSecret, whose VersionIdsToStages says which version holds each
   * stage, then one GetSecretValue per version not read before (none when nothing moved).
   */
  const loadByVersion = async (
    client: SecretsManagerClient,
    sdk: SecretsManagerSdk,
    signal: AbortSignal,
  ): Promise<SecretSnapshot> => {
    let holders: Map<string, string>;
    let deleted: unknown;
    try {
      const out = await untilAborted(
        client.send(new sdk.DescribeSecretCommand({ SecretId: secretId }), {
          abortSignal: signal,
        }),
        signal,
      );
      holders = holderOfEachStage(out.VersionIdsToStages);
      deleted = out.DeletedDate;
    } catch (error) {
      if (signal.aborted) throw error;
      const code = awsErrorCode(error);
      // The secret is gone (deleted, or the name now names nothing): its values are revoked,
      // not kept as last-known-good (outside review, 8th session: deleting a leaked secret
      // left it accepted for the life of the process).
      if (code !== ACCESS_DENIED)
        throw awsCallError(name, `DescribeSecret of secret "${secretId}"`, error, {
          revoked: code === NOT_FOUND || markedForDeletion(error),
        });
      const snapshot = await loadByStage(client, sdk, signal);
      // Remembered only once GetSecretValue worked: a secret denied as a whole stays retried.
      describeDenied = true;
      const denied = awsCallError(name, `DescribeSecret of secret "${secretId}"`, error);
      const warning = new SourceError(
        name,
        `${denied.message.slice(`@cdn-origin-guard: ${name}: `.length)} Falling back to one GetSecretValue per stage on every refresh (${stages.length} calls instead of 1) for the life of this process; grant secretsmanager:DescribeSecret on the secret to cut Secrets Manager calls.`,
        { awsCode: ACCESS_DENIED, cause: error },
      );
      return { ...snapshot, warnings: [...(snapshot.warnings ?? []), warning] };
    }
    // A secret scheduled for deletion still answers DescribeSecret, with its labels, for the
    // whole recovery window; GetSecretValue refuses it. Its values are revoked: dropped, and
    // every request denied until it is restored.
    if (deleted !== undefined && deleted !== null)
      throw new SourceError(
        name,
        `secret "${secretId}" is scheduled for deletion (DescribeSecret gives a DeletedDate), so its values are revoked and every request is denied. Restore it (aws secretsmanager restore-secret) or point the guard at another secret.`,
        { awsCode: 'InvalidRequestException', revoked: true },
      );
    const wanted: { stage: string; versionId: string }[] = [];
    const absent: string[] = [];
    for (const stage of stages) {
      const versionId = holders.get(stage);
      if (versionId !== undefined) wanted.push({ stage, versionId });
      else if (stage !== REQUIRED_STAGE) absent.push(stage);
      else
        throw new SourceError(
          name,
          `secret "${secretId}" has no version labelled ${REQUIRED_STAGE} (DescribeSecret).`,
          { awsCode: NOT_FOUND },
        );
    }
    const toRead = [...new Set(wanted.map((w) => w.versionId))].filter((id) => !known.has(id));
    const settled = await untilAborted(
      Promise.allSettled(
        toRead.map((versionId) =>
          client.send(
            new sdk.GetSecretValueCommand({
              SecretId: secretId,
              VersionId: versionId,
              // With its stage too, so an IAM condition on secretsmanager:VersionStage still applies.
              VersionStage: wanted.find((w) => w.versionId === versionId)?.stage,
            }),
            { abortSignal: signal },
          ),
        ),
      ),
      signal,
    );
    const missing = new Set<string>();
    for (const [i, result] of settled.entries()) {
      const versionId = toRead[i] as string;
      if (result.status === 'fulfilled') {
        known.set(
          versionId,
          readKnown(result.value.SecretString, result.value.CreatedDate, jsonKey),
        );
        continue;
      }
      if (signal.aborted) throw result.reason;
      const holding = wanted.filter((w) => w.versionId === versionId);
      const required = holding.find((w) => w.stage === REQUIRED_STAGE);
      // A version without a value (RotateSecret's AWSPENDING before createSecret stored one)
      // or gone since DescribeSecret is skipped for an optional stage, as a missing stage is.
      if (required === undefined && awsErrorCode(result.reason) === NOT_FOUND) {
        missing.add(versionId);
        continue;
      }
      throw fail((required ?? holding[0])?.stage ?? REQUIRED_STAGE, result.reason, versionId);
    }
    const picked: Picked[] = [];
    for (const { stage, versionId } of wanted) {
      const version = known.get(versionId);
      if (version !== undefined && !missing.has(versionId))
        picked.push({ stage, versionId, ...version });
    }
    // Confirmed, not read (except versions new since): maxStaleMs keeps counting from the last
    // time every stage was read (outside review, 4 December: it restarted on each confirmation).
    return {
      ...assemble(picked, absent, client),
      readAgoMs: Math.max(0, monotonicNow() - valuesReadAt),
    };
  };

  return {
    name,
    async load(signal: AbortSignal, context?: SourceLoadContext): Promise<SecretSnapshot> {
      if (aws.closed) throw new SourceError(name, 'load() called after close().');
      const deadline = createDeadline(signal, timeoutMs);
      try {
        const [client, sdk] = await aws.open(deadline.signal);
        deadline.start();
        // A forced load (a value matched nothing: maybe a rotation) reads every stage at once,
        // one round trip as before; scheduled refreshes ask DescribeSecret first.
        // So is a scheduled load once the values were last read revalidateMs ago (maxStaleMs).
        // After a failed load too: only reading the values again tells that they recovered.
        const direct =
          !primed ||
          describeDenied ||
          lastLoadFailed ||
          context?.forced === true ||
          context?.revalidate === true ||
          (revalidateMs !== undefined && monotonicNow() - valuesReadAt >= revalidateMs);
        const snapshot = await (direct
          ? loadByStage(client, sdk, deadline.signal)
          : loadByVersion(client, sdk, deadline.signal));
        lastLoadFailed = false;
        return snapshot;
      } catch (error) {
        lastLoadFailed = true;
        if (deadline.signal.aborted)
          throw deadline.error(name, `Secrets Manager calls for secret "${secretId}"`);
        if (error instanceof SourceError) throw error;
        throw fail(REQUIRED_STAGE, error);
      } finally {
        deadline.dispose();
      }
    },
    close(): Promise<void> {
      return aws.close();
    },
  };
}

const NOT_FOUND = 'ResourceNotFoundException';
const ACCESS_DENIED = 'AccessDeniedException';

type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

/** What one version's SecretString gives: the header value, or why it is unusable. */
type VersionRead =
  | { readonly ok: true; readonly value: string }
  /** `problem` follows the version's description and starts with a space; never a value. */
  | { readonly ok: false; readonly problem: string };

/** What one version gives, and when it was created (`CreatedDate`, ms since the epoch). */
interface KnownVersion {
  readonly read: VersionRead;
  readonly createdAt: number | undefined;
}

/** One accepted stage and what its version gives. */
interface Picked extends KnownVersion {
  readonly stage: string;
  readonly versionId: string | undefined;
}

/** A version as GetSecretValue gives it: its value (or why it is unusable) and its creation time. */
function readKnown(
  raw: string | undefined,
  created: Date | undefined,
  jsonKey: string | undefined,
): KnownVersion {
  const createdAt = created instanceof Date ? created.getTime() : Number.NaN;
  return {
    read: readVersion(raw, jsonKey),
    createdAt: Number.isFinite(createdAt) ? createdAt : undefined,
  };
}

/** stage -> version id from DescribeSecret's `VersionIdsToStages`. */
function holderOfEachStage(
  map: Record<string, readonly string[] | undefined> | undefined,
): Map<string, string> {
  const holders = new Map<string, string>();
  for (const [versionId, labels] of Object.entries(map ?? {}))
    for (const label of labels ?? []) holders.set(label, versionId);
  return holders;
}

/**
 * What one version of the secret gives the guard: the header value in its `SecretString` (the
 * whole string, or the `jsonKey` of a JSON object), or why the guard refuses it (a binary secret,
 * not a JSON object, no such key, a JSON-quoted string, too short or long, a character outside
 * printable ASCII). This is the rule {@link secretsManagerSource} applies to every version it
 * reads: a refused `AWSCURRENT` fails the load, a refused optional stage is skipped. `problem`
 * never holds the value; it reads after the version's description and ends with the fix
 * ("has no SecretString; binary secrets are not supported."). The audit uses it to say which
 * stages the guard would refuse.
 *
 * @param secretString the version's `SecretString` (`undefined` for a `SecretBinary` version).
 * @param jsonKey the key holding the header value in a JSON secret (the `jsonKey` option).
 */
export function readSecretString(
  secretString: string | undefined,
  jsonKey?: string,
): SecretStringRead {
  const read = readVersion(secretString, jsonKey);
  return read.ok ? read : { ok: false, problem: read.problem.trimStart() };
}

/** What {@link readSecretString} gives: the header value, or why the guard refuses the version. */
export type SecretStringRead =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly problem: string };

/** The header value in `raw` (the whole string, or `jsonKey` of a JSON object), or the problem. */
function readVersion(raw: string | undefined, jsonKey: string | undefined): VersionRead {
  const problem = (text: string): VersionRead => ({ ok: false, problem: text });
  if (typeof raw !== 'string')
    return problem(' has no SecretString; binary secrets are not supported.');
  let value = raw;
  if (jsonKey !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // The parser's message quotes the input, so it is deliberately not kept.
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return problem(` is not a JSON object, so \`jsonKey\` "${jsonKey}" cannot be read.`);
    const record = parsed as Record<string, unknown>;
    if (!Object.hasOwn(record, jsonKey)) {
      const keys = Object.keys(record).slice(0, 10);
      return problem(
        ` has no key "${jsonKey}" (\`jsonKey\`); its keys are: ${keys.length === 0 ? '(none)' : keys.map((k) => `"${k}"`).join(', ')}.`,
      );
    }
    const picked = record[jsonKey];
    if (typeof picked !== 'string')
      return problem(
        ` key "${jsonKey}" holds ${picked === null ? 'null' : Array.isArray(picked) ? 'an array' : `a ${typeof picked}`}; expected a string.`,
      );
    value = picked;
  } else {
    const keys = jsonObjectKeys(raw);
    if (keys !== undefined)
      return problem(
        ` is a JSON object (keys: ${keys}), not a header value; set the \`jsonKey\` option (CDN_ORIGIN_GUARD_SECRET_JSON_KEY) to the key that holds the X-Origin-Verify value.`,
      );
    // A JSON-quoted string or an array (e.g. `JSON.stringify(value)` stored by IaC code) is
    // printable ASCII too, and CloudFront sends no quotes: every request would be denied.
    const other = jsonStringOrArray(raw);
    if (other !== undefined)
      return problem(
        ` is a JSON ${other}, not a header value; store the value itself, without quotes or brackets (or a JSON object read with \`jsonKey\`).`,
      );
  }
  const unusable = secretValueProblem(value);
  if (unusable !== undefined)
    return problem(
      `${jsonKey === undefined ? '' : ` key "${jsonKey}"`} is not a usable header value: it ${unusable}.`,
    );
  return { ok: true, value };
}

/** `string` or `array` when `raw` is JSON of that type (a quoted string, a list), else undefined. */
function jsonStringOrArray(raw: string): 'string' | 'array' | undefined {
  const first = raw.trimStart().charCodeAt(0);
  if (first !== 0x22 /* " */ && first !== 0x5b /* [ */) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'string' ? 'string' : Array.isArray(parsed) ? 'array' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `"a", "b"` (at most 10 keys, each cut to 64 characters) when `raw` is a JSON object, else
 * undefined. Only key names are shown, never a value.
 */
function jsonObjectKeys(raw: string): string | undefined {
  if (raw.trimStart().charCodeAt(0) !== 0x7b /* { */) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const keys = Object.keys(parsed);
  if (keys.length === 0) return '(none)';
  const shown = keys.slice(0, 10).map((k) => JSON.stringify(k.slice(0, 64)));
  return `${shown.join(', ')}${keys.length > 10 ? `, and ${keys.length - 10} more` : ''}`;
}

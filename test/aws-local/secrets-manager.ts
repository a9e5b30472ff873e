/**
 * Local Secrets Manager (AWS JSON 1.1): an in-memory store of secrets with versions and
 * staging labels, and the handler for `GetSecretValue`, `DescribeSecret`,
 * `ListSecretVersionIds` and the rotation calls `PutSecretValue` (with `ClientRequestToken`
 * and `VersionStages`) and `UpdateSecretVersionStage`.
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { jsonReply, type Reply } from './reply.js';

/** Staging labels Secrets Manager manages itself. */
export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

/** How many unlabelled (deprecated) versions are kept per secret, like AWS keeps ~100. */
const MAX_DEPRECATED_VERSIONS = 20;

interface StoredVersion {
  readonly id: string;
  /**
   * `undefined` for the AWSPENDING stub RotateSecret creates before createSecret stores a value,
   * and for a binary version.
   */
  secretString: string | undefined;
  /** A binary version's `SecretBinary`, base64 as the JSON protocol carries it (no SecretString). */
  secretBinary?: string;
  /** Epoch seconds, as the JSON protocol sends timestamps; see {@link LocalSecrets.setCreatedDate}. */
  createdDate: number;
  readonly stages: Set<string>;
}

interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly createdDate: number;
  lastChangedDate: number;
  lastAccessedDate: number | undefined;
  denied: boolean;
  /** stage -> error type answered by GetSecretValue for that stage. */
  readonly failingStages: Map<string, string>;
  /** Insertion-ordered: oldest first. */
  readonly versions: Map<string, StoredVersion>;
  rotation: LocalRotationConfig;
  lastRotatedDate: number | undefined;
  /** `DeletedDate` (epoch seconds) once deletion is scheduled; GetSecretValue then refuses. */
  deletedDate?: number;
  /**
   * The `RotationToken` `PutSecretValue` must carry, as AWS requires of a rotation function that
   * assumes a role (cross-account rotation); see {@link LocalSecrets.requireRotationToken}.
   */
  rotationToken?: string;
}

/** Rotation settings reported by `DescribeSecret`; see {@link LocalSecrets.setRotation}. */
export interface LocalRotationConfig {
  /** `RotationEnabled`. */
  readonly enabled: boolean;
  /** `RotationLambdaARN`. */
  readonly lambdaArn?: string;
  /** `RotationRules.AutomaticallyAfterDays`. */
  readonly automaticallyAfterDays?: number;
  /** `RotationRules.ScheduleExpression`, e.g. `rate(90 days)`. */
  readonly scheduleExpression?: string;
  /** `RotationRules.Duration`, e.g. `2h`. */
  readonly duration?: string;
  /** `LastRotatedDate` (ms since the epoch). Defaults to the time AWSCURRENT last moved through UpdateSecretVersionStage. */
  readonly lastRotatedDate?: number;
}

/** A secret value: a string, or an object stored as its JSON text. */
export type LocalSecretValue = string | Readonly<Record<string, unknown>>;

/** Options of {@link LocalSecrets.put} and friends. */
export interface LocalSecretPutOptions {
  /** Store `JSON.stringify(json)` as the SecretString (the `value` argument is then ignored). */
  readonly json?: Readonly<Record<string, unknown>>;
  /**
   * Store these bytes as the version's `SecretBinary`, with no SecretString (the `value` argument
   * is then ignored): a binary secret, which the guard refuses.
   */
  readonly binary?: Uint8Array;
}

/** A read-only view of a stored secret, for assertions. */
export interface LocalSecretInfo {
  readonly name: string;
  readonly arn: string;
  readonly denied: boolean;
  /** Oldest first. */
  readonly versions: readonly {
    readonly versionId: string;
    readonly stages: readonly string[];
    readonly secretString: string;
  }[];
  /** Version id holding each staging label. */
  readonly stages: Readonly<Record<string, string>>;
}

/** Test helpers to arrange secrets on the local endpoint. `id` is a secret name or its ARN. */
export interface LocalSecrets {
  /**
   * Create a secret (its first version is `AWSCURRENT`), or, when it exists, add a version the
   * way `PutSecretValue` does: the new version becomes `AWSCURRENT`, the old current becomes
   * `AWSPREVIOUS`, and the version that was `AWSPREVIOUS` loses the label.
   */
  put(
    id: string,
    value: LocalSecretValue,
    options?: LocalSecretPutOptions,
  ): { arn: string; name: string; versionId: string };
  /** Add a version labelled `AWSPENDING` (the label leaves any other version), as rotation's createSecret step does. */
  stagePending(id: string, value: LocalSecretValue, options?: LocalSecretPutOptions): string;
  /**
   * Rotation's finishSecret: `AWSCURRENT` moves to the pending version, the old current becomes
   * `AWSPREVIOUS` (the version that held it loses it), and `AWSPENDING` is removed.
   * Throws when the secret has no pending version.
   */
  promote(id: string): { current: string; previous: string | undefined };
  /** `stagePending` then `promote`. Returns the new current version id. */
  rotate(id: string, newValue: LocalSecretValue, options?: LocalSecretPutOptions): string;
  /**
   * UpdateSecretVersionStage: attach `stage` to `versionId` (taking it from whichever version
   * had it). Moving `AWSCURRENT` makes the old current `AWSPREVIOUS`, as AWS does.
   */
  moveStage(id: string, stage: string, versionId: string): void;
  /**
   * Set the `CreatedDate` a version reports (arranging a secret as it stands some time after a
   * version was created: the guard's `previousMaxAgeMs` counts from it).
   */
  setCreatedDate(id: string, versionId: string, date: Date): void;
  /** Answer `AccessDeniedException` for this secret (`false` undoes it). */
  deny(id: string, denied?: boolean): void;
  /**
   * Make `GetSecretValue` for one staging label of this secret (by `VersionStage`, or by the
   * `VersionId` of the version holding the label) answer an error (e.g. `InternalServiceError`
   * 500, `AccessDeniedException` 400); `undefined` undoes it.
   */
  failStage(id: string, stage: string, errorType: string | undefined): void;
  /**
   * What `DeleteSecret` with a recovery window does: `DescribeSecret` still answers, with a
   * `DeletedDate`; `GetSecretValue` answers `InvalidRequestException`. `false` restores it.
   */
  scheduleDeletion(id: string, scheduled?: boolean): void;
  /** Set what `DescribeSecret` reports about rotation (replaces the previous settings). */
  setRotation(id: string, config: LocalRotationConfig): void;
  /**
   * What `RotateSecret` does before invoking the rotation function: attach `AWSPENDING` to a
   * new version id (the token) that has no value yet, and return the token. The function's
   * createSecret step then stores the value with `PutSecretValue` and that token.
   * Throws, as `RotateSecret` answers `InvalidRequestException`, while `AWSPENDING` is on a
   * version other than the `AWSCURRENT` one (AWS then takes a previous rotation to be still in
   * progress): remove the label first (`UpdateSecretVersionStage` with `RemoveFromVersionId`,
   * or {@link LocalSecrets.endRotation}); `CancelRotateSecret` does not remove it.
   */
  beginRotation(id: string, token?: string): string;
  /** What Secrets Manager does once finishSecret succeeded: remove `AWSPENDING` from the secret. */
  endRotation(id: string): void;
  /**
   * Require `token` as the `RotationToken` of every `PutSecretValue` of the secret (`undefined`
   * stops requiring one), as AWS does for a rotation function calling Secrets Manager through an
   * assumed role (cross-account rotation) and passing the token of its event: one without it,
   * or with another, is `AccessDeniedException` (AWS does not document the exact error).
   */
  requireRotationToken(id: string, token: string | undefined): void;
  /**
   * Give at most `size` versions per `ListSecretVersionIds` page (default 100, AWS's most), so a
   * caller's paging meets real second pages. `clear()` puts back 100.
   */
  setListPageSize(size: number): void;
  /**
   * Leave `versionId` out of every `ListSecretVersionIds` answer, as a faulty endpoint or proxy
   * might (AWS lists every labelled version). `clear()` lists every version again.
   */
  omitFromListing(versionId: string): void;
  /** Delete a secret; later calls answer `ResourceNotFoundException`. */
  remove(id: string): boolean;
  /** A snapshot of a secret, or `undefined`. */
  get(id: string): LocalSecretInfo | undefined;
  /** Delete every secret. */
  clear(): void;
}

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const epochSeconds = (): number => Date.now() / 1000;

/** What a version stores: a SecretString, or a SecretBinary (base64). */
type StoredValue =
  | { readonly secretString: string; readonly secretBinary?: undefined }
  | { readonly secretString?: undefined; readonly secretBinary: string };

function serialise(value: LocalSecretValue, options?: LocalSecretPutOptions): StoredValue {
  if (options?.binary !== undefined) {
    if (options.binary.length === 0)
      throw new Error('local secrets: a SecretBinary must not be empty');
    return { secretBinary: Buffer.from(options.binary).toString('base64') };
  }
  if (options?.json !== undefined) return { secretString: JSON.stringify(options.json) };
  return { secretString: typeof value === 'string' ? value : JSON.stringify(value) };
}

function arnSuffix(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(6);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/** The store plus its wire handler. */
export class SecretsManagerService implements LocalSecrets {
  readonly #byName = new Map<string, StoredSecret>();
  readonly #byArn = new Map<string, StoredSecret>();
  readonly #region: string;
  readonly #accountId: string;
  /** Most versions a ListSecretVersionIds page holds (see {@link LocalSecrets.setListPageSize}). */
  #listPageSize = 100;
  /** Versions `ListSecretVersionIds` leaves out (see {@link LocalSecrets.omitFromListing}). */
  readonly #omitted = new Set<string>();

  constructor(region: string, accountId: string) {
    this.#region = region;
    this.#accountId = accountId;
  }

  // ---- helpers for tests -------------------------------------------------------------------

  put(
    id: string,
    value: LocalSecretValue,
    options?: LocalSecretPutOptions,
  ): { arn: string; name: string; versionId: string } {
    const stored = serialise(value, options);
    let secret = this.#find(id);
    if (secret === undefined) {
      if (id.startsWith('arn:'))
        throw new Error(`local secrets.put: create secrets by name, not ARN (${id})`);
      const now = epochSeconds();
      secret = {
        name: id,
        arn: `arn:aws:secretsmanager:${this.#region}:${this.#accountId}:secret:${id}-${arnSuffix()}`,
        createdDate: now,
        lastChangedDate: now,
        lastAccessedDate: undefined,
        denied: false,
        failingStages: new Map(),
        versions: new Map(),
        rotation: { enabled: false },
        lastRotatedDate: undefined,
      };
      this.#byName.set(secret.name, secret);
      this.#byArn.set(secret.arn, secret);
    }
    const version = this.#addVersion(secret, stored);
    this.#moveCurrentTo(secret, version);
    return { arn: secret.arn, name: secret.name, versionId: version.id };
  }

  stagePending(id: string, value: LocalSecretValue, options?: LocalSecretPutOptions): string {
    const secret = this.#require(id);
    const version = this.#addVersion(secret, serialise(value, options));
    this.#moveLabel(secret, AWSPENDING, version);
    return version.id;
  }

  promote(id: string): { current: string; previous: string | undefined } {
    const secret = this.#require(id);
    const pending = this.#holder(secret, AWSPENDING);
    if (pending === undefined)
      throw new Error(`local secrets.promote: ${id} has no AWSPENDING version`);
    const previous = this.#moveCurrentTo(secret, pending);
    pending.stages.delete(AWSPENDING);
    this.#prune(secret);
    return { current: pending.id, previous };
  }

  rotate(id: string, newValue: LocalSecretValue, options?: LocalSecretPutOptions): string {
    this.stagePending(id, newValue, options);
    return this.promote(id).current;
  }

  setCreatedDate(id: string, versionId: string, date: Date): void {
    const version = this.#require(id).versions.get(versionId);
    if (version === undefined)
      throw new Error(`local secrets.setCreatedDate: ${id} has no version ${versionId}`);
    version.createdDate = date.getTime() / 1000;
  }

  moveStage(id: string, stage: string, versionId: string): void {
    const secret = this.#require(id);
    const version = secret.versions.get(versionId);
    if (version === undefined)
      throw new Error(`local secrets.moveStage: ${id} has no version ${versionId}`);
    if (stage === AWSCURRENT) this.#moveCurrentTo(secret, version);
    else this.#moveLabel(secret, stage, version);
  }

  deny(id: string, denied = true): void {
    this.#require(id).denied = denied;
  }

  failStage(id: string, stage: string, errorType: string | undefined): void {
    const secret = this.#require(id);
    if (errorType === undefined) secret.failingStages.delete(stage);
    else secret.failingStages.set(stage, errorType);
  }

  setRotation(id: string, config: LocalRotationConfig): void {
    this.#require(id).rotation = { ...config };
  }

  scheduleDeletion(id: string, scheduled = true): void {
    const secret = this.#require(id);
    if (scheduled) secret.deletedDate = epochSeconds();
    else delete secret.deletedDate;
  }

  beginRotation(id: string, token: string = randomUUID()): string {
    const secret = this.#require(id);
    const pending = this.#holder(secret, AWSPENDING);
    if (pending !== undefined && !pending.stages.has(AWSCURRENT))
      throw new Error(
        `local secrets.beginRotation: ${id} has AWSPENDING on version ${pending.id}, not on the AWSCURRENT version, so RotateSecret answers InvalidRequestException ("A previous rotation isn't complete. That rotation will be reattempted."). Remove the label first: UpdateSecretVersionStage with RemoveFromVersionId ${pending.id}, or endRotation().`,
      );
    if (secret.versions.has(token))
      throw new Error(`local secrets.beginRotation: ${id} already has a version ${token}`);
    const stub: StoredVersion = {
      id: token,
      secretString: undefined,
      createdDate: epochSeconds(),
      stages: new Set(),
    };
    secret.versions.set(token, stub);
    this.#moveLabel(secret, AWSPENDING, stub);
    return token;
  }

  setListPageSize(size: number): void {
    this.#listPageSize = size;
  }

  omitFromListing(versionId: string): void {
    this.#omitted.add(versionId);
  }

  requireRotationToken(id: string, token: string | undefined): void {
    const secret = this.#require(id);
    if (token === undefined) delete secret.rotationToken;
    else secret.rotationToken = token;
  }

  endRotation(id: string): void {
    const secret = this.#require(id);
    for (const v of secret.versions.values()) v.stages.delete(AWSPENDING);
    this.#prune(secret);
  }

  remove(id: string): boolean {
    const secret = this.#find(id);
    if (secret === undefined) return false;
    this.#byName.delete(secret.name);
    this.#byArn.delete(secret.arn);
    return true;
  }

  get(id: string): LocalSecretInfo | undefined {
    const secret = this.#find(id);
    if (secret === undefined) return undefined;
    const stages: Record<string, string> = {};
    const versions = [...secret.versions.values()].map((v) => {
      for (const s of v.stages) stages[s] = v.id;
      return { versionId: v.id, stages: [...v.stages], secretString: v.secretString ?? '' };
    });
    return { name: secret.name, arn: secret.arn, denied: secret.denied, versions, stages };
  }

  clear(): void {
    this.#byName.clear();
    this.#byArn.clear();
    this.#listPageSize = 100;
    this.#omitted.clear();
  }

  // ---- wire --------------------------------------------------------------------------------

  /** Handle one JSON 1.1 call. `target` is the X-Amz-Target operation (without the prefix). */
  handle(operation: string, body: string, requestId: string): Reply {
    try {
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body);
      } catch {
        throw new ServiceError(
          'SerializationException',
          'Start of structure or map found where not expected.',
        );
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new ServiceError(
          'SerializationException',
          'Start of structure or map found where not expected.',
        );
      }
      const params = input as Record<string, unknown>;
      switch (operation) {
        case 'GetSecretValue':
          return jsonReply(200, this.#getSecretValue(params, operation), requestId);
        case 'DescribeSecret':
          return jsonReply(200, this.#describeSecret(params, operation), requestId);
        case 'ListSecretVersionIds':
          return jsonReply(200, this.#listSecretVersionIds(params, operation), requestId);
        case 'PutSecretValue':
          return jsonReply(200, this.#putSecretValue(params, operation), requestId);
        case 'UpdateSecretVersionStage':
          return jsonReply(200, this.#updateSecretVersionStage(params, operation), requestId);
        default:
          throw new ServiceError('UnknownOperationException', `Unknown operation ${operation}`);
      }
    } catch (error) {
      if (error instanceof ServiceError)
        return secretsManagerError(error.type, error.message, requestId, error.status);
      return secretsManagerError(
        'InternalServiceError',
        'An error occurred on the server side.',
        requestId,
        500,
      );
    }
  }

  #getSecretValue(params: Record<string, unknown>, operation: string): Record<string, unknown> {
    const secret = this.#secretFor(params, operation);
    if (secret.deletedDate !== undefined)
      throw new ServiceError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    const versionId = optionalString(params, 'VersionId');
    const stage = optionalString(params, 'VersionStage');
    // A failing stage fails a read by that label, or by the id of the version holding it.
    const labels =
      stage !== undefined || versionId === undefined
        ? [stage ?? AWSCURRENT]
        : [...(secret.versions.get(versionId)?.stages ?? [])];
    const failing = labels.find((label) => secret.failingStages.has(label));
    const injected = failing === undefined ? undefined : secret.failingStages.get(failing);
    if (injected !== undefined) {
      throw new ServiceError(
        injected,
        `Injected ${injected} for staging label ${failing}.`,
        injected === 'InternalServiceError' ? 500 : 400,
      );
    }
    let version: StoredVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (version === undefined) {
        throw new ServiceError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
        );
      }
      if (stage !== undefined && !version.stages.has(stage)) {
        throw new ServiceError(
          'ResourceNotFoundException',
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
    } else {
      const label = stage ?? AWSCURRENT;
      version = this.#holder(secret, label);
      if (version === undefined) {
        throw new ServiceError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for staging label: ${label}`,
        );
      }
    }
    if (version.secretString === undefined && version.secretBinary === undefined) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${version.id}`,
      );
    }
    secret.lastAccessedDate = Math.floor(epochSeconds() / 86_400) * 86_400;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.secretBinary === undefined
        ? { SecretString: version.secretString }
        : { SecretBinary: version.secretBinary }),
      VersionStages: [...version.stages],
      CreatedDate: version.createdDate,
    };
  }

  #describeSecret(params: Record<string, unknown>, operation: string): Record<string, unknown> {
    const secret = this.#secretFor(params, operation);
    const versionIdsToStages: Record<string, string[]> = {};
    for (const v of secret.versions.values()) {
      if (v.stages.size > 0) versionIdsToStages[v.id] = [...v.stages];
    }
    const rotation = secret.rotation;
    const out: Record<string, unknown> = {
      ARN: secret.arn,
      Name: secret.name,
      RotationEnabled: rotation.enabled,
      LastChangedDate: secret.lastChangedDate,
      VersionIdsToStages: versionIdsToStages,
      CreatedDate: secret.createdDate,
    };
    if (secret.deletedDate !== undefined) out.DeletedDate = secret.deletedDate;
    if (rotation.lambdaArn !== undefined) out.RotationLambdaARN = rotation.lambdaArn;
    const rules: Record<string, unknown> = {};
    if (rotation.automaticallyAfterDays !== undefined)
      rules.AutomaticallyAfterDays = rotation.automaticallyAfterDays;
    if (rotation.scheduleExpression !== undefined)
      rules.ScheduleExpression = rotation.scheduleExpression;
    if (rotation.duration !== undefined) rules.Duration = rotation.duration;
    if (Object.keys(rules).length > 0) out.RotationRules = rules;
    const lastRotated =
      rotation.lastRotatedDate === undefined
        ? secret.lastRotatedDate
        : rotation.lastRotatedDate / 1000;
    if (lastRotated !== undefined) out.LastRotatedDate = lastRotated;
    if (secret.lastAccessedDate !== undefined) out.LastAccessedDate = secret.lastAccessedDate;
    return out;
  }

  /**
   * PutSecretValue as AWS does it: the token is the new version's id; the same token with the
   * same value is a no-op (its `VersionStages` ignored), with another value `ResourceExistsException`; `VersionStages`
   * (default `AWSCURRENT`) move to the version, and a moved `AWSCURRENT` leaves `AWSPREVIOUS`
   * on the old current.
   */
  #putSecretValue(params: Record<string, unknown>, operation: string): Record<string, unknown> {
    const secret = this.#secretFor(params, operation);
    const token = optionalString(params, 'ClientRequestToken') ?? randomUUID();
    if (token.length < 32 || token.length > 64) {
      throw new ServiceError(
        'InvalidParameterException',
        'ClientRequestToken must be between 32 and 64 characters.',
      );
    }
    const secretString = optionalString(params, 'SecretString');
    if (secretString === undefined || secretString.length === 0) {
      throw new ServiceError(
        'InvalidParameterException',
        'You must provide either SecretString or SecretBinary.',
      );
    }
    if (
      secret.rotationToken !== undefined &&
      optionalString(params, 'RotationToken') !== secret.rotationToken
    )
      throw new ServiceError(
        'AccessDeniedException',
        'The RotationToken is missing or does not match the rotation in progress.',
      );
    const stages = optionalStringList(params, 'VersionStages') ?? [AWSCURRENT];
    let version = secret.versions.get(token);
    if (
      version !== undefined &&
      (version.secretString !== undefined || version.secretBinary !== undefined)
    ) {
      if (version.secretString !== secretString) {
        throw new ServiceError(
          'ResourceExistsException',
          "You can't modify an existing version, you can only create a new version.",
        );
      }
      // The same token and value again: AWS ignores the request (idempotent), labels included.
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.id,
        VersionStages: [...version.stages],
      };
    } else if (version !== undefined) {
      version.secretString = secretString;
      secret.lastChangedDate = epochSeconds();
    } else {
      version = this.#addVersion(secret, { secretString }, token);
    }
    for (const stage of stages) {
      if (stage === AWSCURRENT) this.#moveCurrentTo(secret, version);
      else this.#moveLabel(secret, stage, version);
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      VersionStages: [...version.stages],
    };
  }

  /**
   * UpdateSecretVersionStage as AWS does it: a label held by another version moves only when
   * `RemoveFromVersionId` names that version; moving `AWSCURRENT` puts `AWSPREVIOUS` on the old
   * current; `RemoveFromVersionId` alone removes the label (never `AWSCURRENT`).
   */
  #updateSecretVersionStage(
    params: Record<string, unknown>,
    operation: string,
  ): Record<string, unknown> {
    const secret = this.#secretFor(params, operation);
    const stage = optionalString(params, 'VersionStage');
    if (stage === undefined || stage.length === 0)
      throw new ServiceError('InvalidParameterException', 'You must provide a VersionStage.');
    const moveTo = optionalString(params, 'MoveToVersionId');
    const removeFrom = optionalString(params, 'RemoveFromVersionId');
    const holder = this.#holder(secret, stage);
    if (removeFrom !== undefined && holder?.id !== removeFrom) {
      throw new ServiceError(
        'InvalidParameterException',
        `The staging label ${stage} is not attached to version ${removeFrom}; RemoveFromVersionId must name the version that holds it.`,
      );
    }
    if (moveTo === undefined) {
      if (removeFrom === undefined) {
        throw new ServiceError(
          'InvalidParameterException',
          'You must provide MoveToVersionId or RemoveFromVersionId.',
        );
      }
      if (stage === AWSCURRENT) {
        throw new ServiceError(
          'InvalidParameterException',
          'You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.',
        );
      }
      holder?.stages.delete(stage);
      this.#prune(secret);
      return { ARN: secret.arn, Name: secret.name };
    }
    const target = secret.versions.get(moveTo);
    if (
      target === undefined ||
      (target.secretString === undefined && target.secretBinary === undefined)
    ) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret version: ${moveTo}`,
      );
    }
    if (holder !== undefined && holder !== target && removeFrom === undefined) {
      throw new ServiceError(
        'InvalidParameterException',
        `The staging label ${stage} is currently attached to version ${holder.id}. You must specify RemoveFromVersionId to move it.`,
      );
    }
    if (stage === AWSCURRENT) {
      if (holder !== target) secret.lastRotatedDate = epochSeconds();
      this.#moveCurrentTo(secret, target);
    } else this.#moveLabel(secret, stage, target);
    return { ARN: secret.arn, Name: secret.name };
  }

  #listSecretVersionIds(
    params: Record<string, unknown>,
    operation: string,
  ): Record<string, unknown> {
    const secret = this.#secretFor(params, operation);
    const includeDeprecated = params.IncludeDeprecated === true;
    const maxResults = params.MaxResults;
    if (
      maxResults !== undefined &&
      (!Number.isInteger(maxResults) || (maxResults as number) < 1 || (maxResults as number) > 100)
    )
      throw new ServiceError(
        'InvalidParameterException',
        'MaxResults must be an integer from 1 to 100.',
      );
    const all = [...secret.versions.values()]
      .filter((v) => (includeDeprecated || v.stages.size > 0) && !this.#omitted.has(v.id))
      .map((v) => ({ VersionId: v.id, VersionStages: [...v.stages], CreatedDate: v.createdDate }));
    // Pages as AWS may give them: at most MaxResults, and at most the page size set for tests
    // (AWS "can occasionally return an empty or shorter than expected list": check NextToken).
    const token = optionalString(params, 'NextToken');
    const from = token === undefined ? 0 : Number.parseInt(token.replace(/^page-/, ''), 10);
    if (!Number.isInteger(from) || from < 0 || from > all.length)
      throw new ServiceError('InvalidNextTokenException', 'The NextToken value is invalid.');
    const size = Math.min((maxResults as number | undefined) ?? 100, this.#listPageSize);
    const to = Math.min(all.length, from + size);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: all.slice(from, to),
      ...(to < all.length ? { NextToken: `page-${to}` } : {}),
    };
  }

  #secretFor(params: Record<string, unknown>, operation: string): StoredSecret {
    const id = optionalString(params, 'SecretId');
    if (id === undefined || id.length === 0) {
      throw new ServiceError('InvalidParameterException', 'You must provide a SecretId.');
    }
    const secret = this.#find(id);
    if (secret === undefined) {
      throw new ServiceError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    }
    if (secret.denied) {
      throw new ServiceError(
        'AccessDeniedException',
        `User: arn:aws:iam::${this.#accountId}:user/test is not authorized to perform: secretsmanager:${operation} on resource: ${id} because no identity-based policy allows the secretsmanager:${operation} action`,
      );
    }
    return secret;
  }

  // ---- internals ---------------------------------------------------------------------------

  #find(id: string): StoredSecret | undefined {
    const byName = this.#byName.get(id);
    if (byName !== undefined) return byName;
    const byArn = this.#byArn.get(id);
    if (byArn !== undefined) return byArn;
    // A partial ARN (without the random 6-character suffix) is accepted too.
    if (id.startsWith('arn:')) {
      for (const secret of this.#byArn.values()) {
        if (secret.arn.slice(0, -7) === id) return secret;
      }
    }
    return undefined;
  }

  #require(id: string): StoredSecret {
    const secret = this.#find(id);
    if (secret === undefined)
      throw new Error(`local secrets: no secret ${id}; call secrets.put first`);
    return secret;
  }

  #addVersion(secret: StoredSecret, value: StoredValue, id: string = randomUUID()): StoredVersion {
    if (value.secretString?.length === 0)
      throw new Error('local secrets: a SecretString must not be empty');
    const version: StoredVersion = {
      id,
      secretString: value.secretString,
      ...(value.secretBinary === undefined ? {} : { secretBinary: value.secretBinary }),
      createdDate: epochSeconds(),
      stages: new Set(),
    };
    secret.versions.set(version.id, version);
    secret.lastChangedDate = version.createdDate;
    return version;
  }

  #holder(secret: StoredSecret, label: string): StoredVersion | undefined {
    for (const v of secret.versions.values()) if (v.stages.has(label)) return v;
    return undefined;
  }

  #moveLabel(secret: StoredSecret, label: string, to: StoredVersion): void {
    for (const v of secret.versions.values()) v.stages.delete(label);
    to.stages.add(label);
  }

  /** Moves AWSCURRENT to `to`; the old current becomes AWSPREVIOUS. Returns the old current's id. */
  #moveCurrentTo(secret: StoredSecret, to: StoredVersion): string | undefined {
    const current = this.#holder(secret, AWSCURRENT);
    if (current === to) return this.#holder(secret, AWSPREVIOUS)?.id;
    if (current !== undefined) this.#moveLabel(secret, AWSPREVIOUS, current);
    this.#moveLabel(secret, AWSCURRENT, to);
    this.#prune(secret);
    return current?.id;
  }

  #prune(secret: StoredSecret): void {
    let deprecated = 0;
    for (const v of secret.versions.values()) if (v.stages.size === 0) deprecated++;
    for (const v of secret.versions.values()) {
      if (deprecated <= MAX_DEPRECATED_VERSIONS) break;
      if (v.stages.size === 0) {
        secret.versions.delete(v.id);
        deprecated--;
      }
    }
  }
}

function optionalString(params: Record<string, unknown>, key: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new ServiceError('SerializationException', `${key} must be a string.`);
  }
  return value;
}

function optionalStringList(params: Record<string, unknown>, key: string): string[] | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new ServiceError('SerializationException', `${key} must be a list of strings.`);
  }
  return value as string[];
}

/** An AWS JSON 1.1 error reply, as Secrets Manager sends it. */
export function secretsManagerError(
  type: string,
  message: string,
  requestId: string,
  status = 400,
): Reply {
  const reply = jsonReply(status, { __type: type, message }, requestId);
  reply.headers['x-amzn-errortype'] = type;
  return reply;
}

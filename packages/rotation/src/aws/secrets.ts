/**
 * The Secrets Manager calls of a rotation: DescribeSecret, GetSecretValue by version or
 * stage, ListSecretVersionIds, PutSecretValue with the token, UpdateSecretVersionStage.
 * @module
 */
import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  type ListSecretVersionIdsCommandOutput,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { AWSCURRENT, AWSPENDING } from '../constants.js';
import { awsCallFailed, awsErrorName } from '../errors.js';
import { nextPageOf } from './paging.js';

/** Values already known in this invocation: redacted from any AWS error message. */
export type KnownValues = string[];

/** DescribeSecret. */
export async function describeSecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<DescribeSecretCommandOutput> {
  try {
    return await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  } catch (error) {
    throw awsCallFailed(`DescribeSecret of ${secretId}`, error, []);
  }
}

/**
 * The SecretString of a version or stage (a version without a stage too: one no label holds any
 * more), or `undefined` when it does not exist (yet).
 */
export async function readSecretString(
  client: SecretsManagerClient,
  arn: string,
  where: { readonly versionId: string; readonly stage?: string } | { readonly stage: string },
  known: KnownValues,
): Promise<string | undefined> {
  try {
    const out = await client.send(
      new GetSecretValueCommand({
        SecretId: arn,
        VersionId: 'versionId' in where ? where.versionId : undefined,
        VersionStage: where.stage,
      }),
    );
    if (typeof out.SecretString === 'string') known.push(out.SecretString);
    return out.SecretString;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw awsCallFailed(
      `GetSecretValue (${'versionId' in where ? where.versionId : where.stage}) of ${arn}`,
      error,
      known,
    );
  }
}

/** A version of a secret as {@link listVersions} reports it. */
export interface SecretVersion {
  readonly id: string;
  readonly stages: readonly string[];
  /** Milliseconds since the epoch (0 when not reported). */
  readonly created: number;
}

/** ListSecretVersionIds with `IncludeDeprecated` (every page): each version, with no value. */
export async function listVersions(
  client: SecretsManagerClient,
  arn: string,
): Promise<SecretVersion[]> {
  const versions: SecretVersion[] = [];
  const nextPage = nextPageOf(`ListSecretVersionIds of ${arn}`);
  let nextToken: string | undefined;
  do {
    let out: ListSecretVersionIdsCommandOutput;
    try {
      out = await client.send(
        new ListSecretVersionIdsCommand({
          SecretId: arn,
          IncludeDeprecated: true,
          NextToken: nextToken,
        }),
      );
    } catch (error) {
      throw awsCallFailed(`ListSecretVersionIds of ${arn}`, error, []);
    }
    for (const v of out.Versions ?? [])
      if (v.VersionId !== undefined)
        versions.push({
          id: v.VersionId,
          stages: v.VersionStages ?? [],
          created: v.CreatedDate?.getTime() ?? 0,
        });
    nextToken = nextPage(out.NextToken);
  } while (nextToken !== undefined);
  return versions;
}

/**
 * PutSecretValue of the pending version under the version token, with the event's
 * `RotationToken` when it has one (AWS requires it of a function calling through an assumed
 * role: cross-account rotation).
 */
export async function putPendingSecret(
  client: SecretsManagerClient,
  arn: string,
  token: string,
  secretString: string,
  known: KnownValues,
  rotationToken?: string,
): Promise<void> {
  try {
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: secretString,
        VersionStages: [AWSPENDING],
        ...(rotationToken === undefined ? {} : { RotationToken: rotationToken }),
      }),
    );
  } catch (error) {
    throw awsCallFailed(`PutSecretValue (version ${token}) of ${arn}`, error, known);
  }
}

/** UpdateSecretVersionStage: AWSCURRENT moves to `token`, away from `currentVersionId`. */
export async function promoteToCurrent(
  client: SecretsManagerClient,
  arn: string,
  token: string,
  currentVersionId: string | undefined,
  known: KnownValues,
): Promise<void> {
  try {
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: AWSCURRENT,
        MoveToVersionId: token,
        RemoveFromVersionId: currentVersionId,
      }),
    );
  } catch (error) {
    throw awsCallFailed(
      `UpdateSecretVersionStage (AWSCURRENT to ${token}) of ${arn}`,
      error,
      known,
    );
  }
}

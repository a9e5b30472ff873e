/**
 * The secret's rotation settings and its staged values, kept redacted.
 * @module
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { readSecretString } from '@cdn-origin-guard/core';
import { STAGES } from '../constants.js';
import { SecretText } from '../secret-text.js';
import type {
  Gathered,
  PendingRotation,
  RefusedValue,
  SecretDescription,
  SecretInfo,
} from '../types.js';
import { awsCode, gather, type Step } from './errors.js';
import { pagesOf } from './paging.js';

/** Most `ListSecretVersionIds` pages read looking for the pending version. */
const MAX_VERSION_PAGES = 20;

/**
 * The `CreatedDate` of `versionId` from ListSecretVersionIds (labelled versions only), reading
 * pages until it is found (`undefined` when the last page was read and none listed it), at most
 * {@link MAX_VERSION_PAGES} and never a `NextToken` twice ({@link pagesOf}). Review, 5 December:
 * a cycle or the page limit read as "not listed", and a rotation stuck for weeks PASSed with its
 * age unknown; now either is an `error` skip.
 */
async function pendingCreated(
  client: SecretsManagerClient,
  secretId: string,
  versionId: string,
): Promise<Gathered<Date | undefined>> {
  return gather(async (step) => {
    const pages = pagesOf(step, {
      action: 'secretsmanager:ListSecretVersionIds',
      ask: (NextToken) =>
        client.send(
          new ListSecretVersionIdsCommand({ SecretId: secretId, MaxResults: 100, NextToken }),
        ),
      next: (page) => ({ token: page.NextToken }),
      maxPages: MAX_VERSION_PAGES,
      lost: `, so the age of the pending version ${versionId} was not read. A secret has at most 20 labelled versions, one page`,
    });
    for await (const page of pages) {
      const version = page.Versions?.find((v) => v.VersionId === versionId);
      if (version !== undefined) return version.CreatedDate;
    }
    return undefined;
  });
}

/**
 * The rotation in flight, if any: the version DescribeSecret lists with `AWSPENDING` and without
 * `AWSCURRENT` (a finished rotation may leave both on one version), with its age read apart so a
 * denied ListSecretVersionIds costs only that.
 */
async function pendingRotationOf(
  client: SecretsManagerClient,
  secretId: string,
  versionIdsToStages: Readonly<Record<string, string[]>>,
): Promise<PendingRotation | undefined> {
  const holding = (stage: string) =>
    Object.entries(versionIdsToStages).find(([, stages]) => stages.includes(stage))?.[0];
  const versionId = holding(STAGES.pending);
  const currentVersionId = holding(STAGES.current);
  if (versionId === undefined || versionId === currentVersionId) return undefined;
  const created = await pendingCreated(client, secretId, versionId);
  const rolledBack = versionIdsToStages[versionId]?.includes(STAGES.previous) === true;
  return { versionId, currentVersionId, rolledBack, created };
}

/**
 * How far Secrets Manager's clock is ahead of this one (ms), as the SDK read it from the `Date`
 * of the answers so far (`systemClockOffset`): `undefined` when it holds no number.
 */
function clockOffsetOf(client: SecretsManagerClient): number | undefined {
  const offset: unknown = client.config.systemClockOffset;
  return typeof offset === 'number' && Number.isFinite(offset) ? offset : undefined;
}

/** DescribeSecret: the secret's description and the staging labels that have a version. */
async function describeSecret(
  client: SecretsManagerClient,
  secretId: string,
  step: Step,
): Promise<{ description: SecretDescription; staged: ReadonlySet<string> }> {
  const described = await step(
    'secretsmanager:DescribeSecret',
    () => client.send(new DescribeSecretCommand({ SecretId: secretId })),
    `no secret ${secretId} in Secrets Manager: check --secret-id and --region`,
  );
  const versionIdsToStages = described.VersionIdsToStages ?? {};
  return {
    description: {
      arn: described.ARN ?? secretId,
      name: described.Name ?? secretId,
      rotationEnabled: described.RotationEnabled === true,
      rotationLambdaArn: described.RotationLambdaARN,
      automaticallyAfterDays: described.RotationRules?.AutomaticallyAfterDays,
      scheduleExpression: described.RotationRules?.ScheduleExpression,
      lastRotatedDate: described.LastRotatedDate,
      pendingRotation: await pendingRotationOf(client, secretId, versionIdsToStages),
      clockOffsetMs: clockOffsetOf(client),
    },
    staged: new Set(Object.values(versionIdsToStages).flat()),
  };
}

/** The staged values the guard accepts, and those it refuses (with why). */
interface StagedValues {
  readonly values: Map<string, SecretText>;
  readonly refused: Map<string, RefusedValue>;
}

/**
 * GetSecretValue for AWSCURRENT, AWSPENDING and AWSPREVIOUS when staged. An optional stage
 * (AWSPENDING, AWSPREVIOUS) that answers `ResourceNotFoundException` is left out: RotateSecret
 * labels a new version AWSPENDING before createSecret stores its value, and a failed rotation
 * leaves it so. AWSCURRENT missing stays an error. Each value is read as the guard reads it
 * (the core's `readSecretString`): one it refuses (binary, a JSON object without `jsonKey`, too
 * short...) is kept apart with the reason. Until the thirteenth session a JSON value without the
 * key was compared as an empty string, and a binary version read as "no value".
 */
async function readValues(
  client: SecretsManagerClient,
  secretId: string,
  staged: ReadonlySet<string>,
  jsonKey: string | undefined,
  step: Step,
): Promise<StagedValues> {
  const values = new Map<string, SecretText>();
  const refused = new Map<string, RefusedValue>();
  for (const stage of [STAGES.current, STAGES.pending, STAGES.previous]) {
    if (!staged.has(stage)) continue;
    const out = await step('secretsmanager:GetSecretValue', async () => {
      try {
        return await client.send(
          new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
        );
      } catch (error) {
        if (stage !== STAGES.current && awsCode(error) === 'ResourceNotFoundException')
          return undefined;
        throw error;
      }
    });
    if (out === undefined) continue;
    const read = readSecretString(out.SecretString, jsonKey);
    if (read.ok) values.set(stage, new SecretText(read.value));
    else refused.set(stage, { versionId: out.VersionId, problem: read.problem });
  }
  return { values, refused };
}

/**
 * The secret in two parts: its description (DescribeSecret), which the rotation check judges,
 * and the description with its values (then GetSecretValue), which the value checks compare.
 * A denied GetSecretValue skips only the second (outside review, 4 December: it skipped the
 * rotation check too, though that needs DescribeSecret alone).
 */
export async function readSecret(
  client: SecretsManagerClient,
  secretId: string,
  jsonKey: string | undefined,
): Promise<{ description: Gathered<SecretDescription>; secret: Gathered<SecretInfo> }> {
  const described = await gather((step) => describeSecret(client, secretId, step));
  if (!described.ok) return { description: described, secret: described };
  const { description, staged } = described.value;
  const values = await gather((step) => readValues(client, secretId, staged, jsonKey, step));
  return {
    description: { ok: true, value: description },
    secret: values.ok ? { ok: true, value: { ...description, ...values.value } } : values,
  };
}

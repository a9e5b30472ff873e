/**
 * The secret's rotation settings and its staged values, kept redacted.
 * @module
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { STAGES } from '../constants.js';
import { SecretText } from '../secret-text.js';
import type { SecretInfo } from '../types.js';
import { awsCode, type Step } from './errors.js';

/** The value the guard would read from a SecretString: the whole string, or one key of a JSON secret. */
function headerValue(secretString: string, jsonKey: string | undefined): string {
  if (jsonKey === undefined) return secretString;
  try {
    const parsed = JSON.parse(secretString) as Record<string, unknown>;
    const value = parsed[jsonKey];
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

/**
 * DescribeSecret, then GetSecretValue for AWSCURRENT, AWSPENDING and AWSPREVIOUS when staged.
 * An optional stage (AWSPENDING, AWSPREVIOUS) that answers `ResourceNotFoundException` is left
 * out: RotateSecret labels a new version AWSPENDING before createSecret stores its value, and a
 * failed rotation leaves it so. AWSCURRENT missing stays an error.
 */
export async function readSecret(
  client: SecretsManagerClient,
  secretId: string,
  jsonKey: string | undefined,
  step: Step,
): Promise<SecretInfo> {
  const described = await step(
    'secretsmanager:DescribeSecret',
    () => client.send(new DescribeSecretCommand({ SecretId: secretId })),
    `no secret ${secretId} in Secrets Manager: check --secret-id and --region`,
  );
  const staged = new Set(Object.values(described.VersionIdsToStages ?? {}).flat());
  const values = new Map<string, SecretText>();
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
    if (out?.SecretString !== undefined)
      values.set(stage, new SecretText(headerValue(out.SecretString, jsonKey)));
  }
  return {
    arn: described.ARN ?? secretId,
    name: described.Name ?? secretId,
    rotationEnabled: described.RotationEnabled === true,
    rotationLambdaArn: described.RotationLambdaARN,
    automaticallyAfterDays: described.RotationRules?.AutomaticallyAfterDays,
    scheduleExpression: described.RotationRules?.ScheduleExpression,
    lastRotatedDate: described.LastRotatedDate,
    values,
  };
}

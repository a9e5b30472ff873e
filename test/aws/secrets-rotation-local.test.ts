/**
 * The local Secrets Manager's rotation calls through the real SDK v3 client: DescribeSecret's
 * rotation fields, PutSecretValue with ClientRequestToken and VersionStages, and
 * UpdateSecretVersionStage with AWS's MoveToVersionId / RemoveFromVersionId rules.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { errorName, useLocalAwsClient } from './support.js';

const local = useLocalAwsClient(() => new SecretsManagerClient({ maxAttempts: 1 }));
let counter = 0;

function secret(): { name: string; current: string } {
  counter++;
  const name = `rotation/secret-${counter}`;
  const { versionId } = local.aws.secrets.put(name, 'value-one-0123456789abcdef');
  return { name, current: versionId };
}

/** createSecret's call: store the pending value under the rotation token. */
function putPending(name: string, token: string, value: string) {
  return local.client.send(
    new PutSecretValueCommand({
      SecretId: name,
      ClientRequestToken: token,
      SecretString: value,
      VersionStages: ['AWSPENDING'],
    }),
  );
}

describe('local Secrets Manager rotation calls over the wire', () => {
  it('DescribeSecret reports rotation settings and the versions with their stages', async () => {
    const { name, current } = secret();
    local.aws.secrets.setRotation(name, {
      enabled: true,
      lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:rotate',
      automaticallyAfterDays: 90,
      scheduleExpression: 'rate(90 days)',
      lastRotatedDate: Date.UTC(2026, 0, 2),
    });
    const token = local.aws.secrets.beginRotation(name);

    const out = await local.client.send(new DescribeSecretCommand({ SecretId: name }));

    expect(out.RotationEnabled).toBe(true);
    expect(out.RotationLambdaARN).toBe('arn:aws:lambda:us-east-1:123456789012:function:rotate');
    expect(out.RotationRules).toEqual({
      AutomaticallyAfterDays: 90,
      ScheduleExpression: 'rate(90 days)',
    });
    expect(out.LastRotatedDate?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(out.VersionIdsToStages).toEqual({ [current]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
  });

  it('reports rotation disabled by default', async () => {
    const { name } = secret();

    const out = await local.client.send(new DescribeSecretCommand({ SecretId: name }));

    expect(out.RotationEnabled).toBe(false);
    expect(out.RotationRules).toBeUndefined();
  });

  it('the AWSPENDING stub has no value until PutSecretValue stores it with the token', async () => {
    const { name } = secret();
    const token = local.aws.secrets.beginRotation(name);

    const before = await errorName(
      local.client.send(
        new GetSecretValueCommand({ SecretId: name, VersionId: token, VersionStage: 'AWSPENDING' }),
      ),
    );
    const put = await local.client.send(
      new PutSecretValueCommand({
        SecretId: name,
        ClientRequestToken: token,
        SecretString: 'value-two-0123456789abcdef',
        VersionStages: ['AWSPENDING'],
      }),
    );
    const after = await local.client.send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }),
    );

    expect(before).toBe('ResourceNotFoundException');
    expect(put).toMatchObject({ VersionId: token, VersionStages: ['AWSPENDING'] });
    expect(after.SecretString).toBe('value-two-0123456789abcdef');
    expect(local.aws.secrets.get(name)?.stages.AWSCURRENT).not.toBe(token);
  });

  it('PutSecretValue is idempotent for the same token and value, and refuses another value', async () => {
    const { name } = secret();
    const token = '0123456789abcdef0123456789abcdef';
    const put = (value: string) =>
      local.client.send(
        new PutSecretValueCommand({
          SecretId: name,
          ClientRequestToken: token,
          SecretString: value,
          VersionStages: ['AWSPENDING'],
        }),
      );

    await put('value-two-0123456789abcdef');
    const again = await errorName(put('value-two-0123456789abcdef'));
    const other = await errorName(put('value-three-0123456789abcd'));

    expect(again).toBe('ok');
    expect(other).toBe('ResourceExistsException');
    expect(local.aws.secrets.get(name)?.versions).toHaveLength(2);
  });

  // Review, 4 December (sixth session): the endpoint moved the repeat's labels; AWS ignores it.
  it('PutSecretValue repeated with the same token and value leaves the labels as they were', async () => {
    const { name, current } = secret();
    const token = '0123456789abcdef0123456789abcdef';
    await putPending(name, token, 'value-two-0123456789abcdef');

    await local.client.send(
      new PutSecretValueCommand({
        SecretId: name,
        ClientRequestToken: token,
        SecretString: 'value-two-0123456789abcdef',
        VersionStages: ['AWSCURRENT'],
      }),
    );

    expect(local.aws.secrets.get(name)?.stages).toMatchObject({
      AWSCURRENT: current,
      AWSPENDING: token,
    });
  });

  it('PutSecretValue refuses a missing or wrong RotationToken where one is required', async () => {
    const { name } = secret();
    local.aws.secrets.requireRotationToken(name, 'the-rotation-token-0123456789');
    const put = (token: string, RotationToken?: string) =>
      local.client.send(
        new PutSecretValueCommand({
          SecretId: name,
          ClientRequestToken: token,
          SecretString: 'value-two-0123456789abcdef',
          VersionStages: ['AWSPENDING'],
          RotationToken,
        }),
      );

    const missing = await errorName(put('0123456789abcdef0123456789abcde1'));
    const wrong = await errorName(put('0123456789abcdef0123456789abcde2', 'another-token-012345'));
    const right = await errorName(
      put('0123456789abcdef0123456789abcde3', 'the-rotation-token-0123456789'),
    );

    expect([missing, wrong, right]).toEqual([
      'AccessDeniedException',
      'AccessDeniedException',
      'ok',
    ]);
  });

  it('PutSecretValue without stages makes the version AWSCURRENT and the old one AWSPREVIOUS', async () => {
    const { name, current } = secret();

    const put = await local.client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'value-two-0123456789abcdef' }),
    );

    expect(local.aws.secrets.get(name)?.stages).toEqual({
      AWSCURRENT: put.VersionId,
      AWSPREVIOUS: current,
    });
  });

  it('UpdateSecretVersionStage moves AWSCURRENT only with the right RemoveFromVersionId', async () => {
    const { name, current } = secret();
    const token = local.aws.secrets.beginRotation(name);
    await putPending(name, token, 'value-two-0123456789abcdef');
    const move = (removeFrom: string | undefined) =>
      errorName(
        local.client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: name,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            RemoveFromVersionId: removeFrom,
          }),
        ),
      );

    const withoutRemove = await move(undefined);
    const wrongRemove = await move(token);
    const right = await move(current);
    const again = await move(token);

    expect(withoutRemove).toBe('InvalidParameterException');
    expect(wrongRemove).toBe('InvalidParameterException');
    expect(right).toBe('ok');
    expect(again).toBe('ok');
    const stages = local.aws.secrets.get(name)?.stages;
    expect(stages?.AWSCURRENT).toBe(token);
    expect(stages?.AWSPREVIOUS).toBe(current);
    const described = await local.client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.LastRotatedDate).toBeInstanceOf(Date);
  });

  it('UpdateSecretVersionStage removes a label, but never AWSCURRENT', async () => {
    const { name, current } = secret();
    const token = local.aws.secrets.beginRotation(name);
    await putPending(name, token, 'v2-0123456789abcdef');

    const removePending = await errorName(
      local.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: token,
        }),
      ),
    );
    const removeCurrent = await errorName(
      local.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: current,
        }),
      ),
    );

    expect(removePending).toBe('ok');
    expect(removeCurrent).toBe('InvalidParameterException');
    expect(local.aws.secrets.get(name)?.stages).toEqual({ AWSCURRENT: current });
  });

  it('fault knobs: AccessDenied and throttling on the rotation calls', async () => {
    const { name } = secret();

    local.aws.faults.set({ accessDenied: true, actions: ['secretsmanager.PutSecretValue'] });
    const denied = await errorName(
      local.client.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'x-0123456789abcdef' }),
      ),
    );
    local.aws.faults.set({ throttle: true, actions: ['secretsmanager.UpdateSecretVersionStage'] });
    const throttled = await errorName(
      local.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: 'x',
        }),
      ),
    );

    expect(denied).toBe('AccessDeniedException');
    expect(throttled).toBe('ThrottlingException');
    expect(local.aws.secrets.get(name)?.versions).toHaveLength(1);
  });
});

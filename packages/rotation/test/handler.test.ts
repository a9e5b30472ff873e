import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import type { RotationEvent } from '@cdn-origin-guard/rotation';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../../test/aws-local/index.js';
import {
  type Account,
  albForwards,
  allValues,
  createAccount,
  expectNoValueIn,
  HEADER,
  invoke,
  lambdaContext,
  localClients,
  rejection,
  rotate,
  rotateUntilFinish,
  setOriginHeader,
  stageValue,
  useRotationTestbed,
} from './support.js';

const INITIAL = 'initial-origin-verify-0123456789abcdef';
const OTHER_VALUE = 'other-site-origin-verify-fedcba9876543210';

const bed = useRotationTestbed();
const { handlerFor, events } = bed;
let aws: LocalAws;
beforeEach(() => {
  aws = bed.aws;
});

/** Everything a rotation could leak through: log lines and the error's message, stack and fields. */
function outputs(error?: Error): string[] {
  return error === undefined
    ? bed.lines
    : [...bed.lines, error.message, error.stack ?? '', JSON.stringify(error)];
}

// Outside review, 4 December (third session): a response the SDK cannot parse fails with V8's
// JSON error, whose message quotes about ten characters of the body: of GetSecretValue, the
// start of the secret, which replacing whole known values did not catch.
describe('rotation handler: a response the SDK cannot parse', () => {
  it('fails without quoting any of the body (no 8 characters of the secret anywhere)', async () => {
    // A value sharing no 8 characters with the log lines' own text.
    const value = 'Zq7pX2mK9vR4tW8nB3yH6jL1cF5dG0sA';
    const account = createAccount(aws, value);
    const handler = handlerFor(account);
    aws.faults.set({ unquotedSecretString: true, actions: ['secretsmanager.GetSecretValue'] });

    const error = await rejection(rotate(handler, aws, account));

    expect(error.failure).toBe('aws-error');
    expect(error.message).toMatch(/could not be parsed \(not quoted here: it may hold a secret\)/);
    const shown = outputs(error);
    for (let i = 0; i + 8 <= value.length; i++)
      for (const text of shown) expect(text).not.toContain(value.slice(i, i + 8));
  });
});

describe('rotation handler: a full rotation', () => {
  it('creates a 64-character base64url value, sets ALB then CloudFront, and promotes it', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);

    const token = await rotate(handler, aws, account);

    const stages = aws.secrets.get(account.secretId)?.stages;
    expect(stages?.AWSCURRENT).toBe(token);
    const next = stageValue(aws, account, 'AWSCURRENT');
    expect(next).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(stageValue(aws, account, 'AWSPREVIOUS')).toBe(INITIAL);
    const origins = aws.cloudfront.origins(account.distributionId);
    expect(origins.map((o) => o.headers)).toEqual([
      { 'X-Origin-Verify': next, 'X-Team': 'web' },
      { 'X-Origin-Verify': next },
      {},
      { 'X-Api-Key': 'untouched' },
    ]);
    // [AWSCURRENT, AWSPREVIOUS]: the same two values setSecret put there, so finishSecret leaves the rule alone.
    expect(aws.elbv2.rule(account.ruleArn).conditions[0]?.HttpHeaderConfig?.Values?.sort()).toEqual(
      [next, INITIAL].sort(),
    );
    expect(aws.callCount('elbv2.ModifyRule')).toBe(1);
    expect(aws.elbv2.rule(account.ruleArn).conditions[1]?.PathPatternConfig?.Values).toEqual([
      '/*',
    ]);
    expect(aws.callCount('secretsmanager.PutSecretValue')).toBe(1);
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(1);
    expectNoValueIn(outputs(), allValues(aws, account));
  });

  it('calls in the order that drops nothing: ALB rule, then CloudFront, then the stage move', async () => {
    const account = createAccount(aws, INITIAL);

    await rotate(handlerFor(account), aws, account);

    const order = aws.recentCalls
      .map((c) => c.action)
      .filter((a) =>
        [
          'elbv2.ModifyRule',
          'cloudfront.UpdateDistribution',
          'secretsmanager.UpdateSecretVersionStage',
        ].includes(a),
      );
    expect(order).toEqual([
      'elbv2.ModifyRule',
      'cloudfront.UpdateDistribution',
      'secretsmanager.UpdateSecretVersionStage',
    ]);
  });

  it('logs one JSON line per event with step, secret ARN and version id, and a done line per step', async () => {
    const account = createAccount(aws, INITIAL);

    const token = await rotate(handlerFor(account), aws, account);

    const done = events().filter((e) => e.event === 'done');
    expect(done.map((e) => e.step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    for (const e of events()) {
      expect(e).toMatchObject({ secretArn: account.secretArn, versionId: token });
    }
    const updated = events().find((e) => e.event === 'distribution-updated');
    expect(updated).toMatchObject({
      distributionIds: [account.distributionId],
      originIds: ['alb', 'alb-dualstack'],
    });
    expect(events().find((e) => e.event === 'alb-rules-widened')?.ruleArns).toEqual([
      account.ruleArn,
    ]);
  });

  it('keeps the other keys of a JSON secret and replaces only jsonKey', async () => {
    const account = createAccount(aws, INITIAL, { jsonKey: 'originVerify' });

    await rotate(handlerFor(account, { jsonKey: 'originVerify' }), aws, account);

    const current = JSON.parse(
      aws.secrets.get(account.secretId)?.versions.find((v) => v.stages.includes('AWSCURRENT'))
        ?.secretString ?? '{}',
    ) as Record<string, unknown>;
    expect(current.username).toBe('kept');
    expect(current.port).toBe(443);
    expect(current.originVerify).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(aws.cloudfront.origins(account.distributionId)[0]?.headers['X-Origin-Verify']).toBe(
      current.originVerify,
    );
    expectNoValueIn(outputs(), allValues(aws, account, 'originVerify'));
  });

  it('uses the configured length and alphabet', async () => {
    const account = createAccount(aws, INITIAL);

    await rotate(
      handlerFor(account, { secretLength: 40, alphabet: 'abcdefghijklmnopqrstuvwxyz0123456789' }),
      aws,
      account,
    );

    expect(stageValue(aws, account, 'AWSCURRENT')).toMatch(/^[a-z0-9]{40}$/);
  });
});

/** The rule goes back to the initial value since setSecret (an IaC re-apply): what finishSecret repairs. */
async function ruleDriftsBack(account: Account): Promise<void> {
  const { ModifyRuleCommand } = await import('@aws-sdk/client-elastic-load-balancing-v2');
  await localClients(aws).elbv2.send(
    new ModifyRuleCommand({
      RuleArn: account.ruleArn,
      Conditions: [
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: HEADER, Values: [INITIAL] } },
      ],
    }),
  );
}

describe('rotation handler: idempotent steps', () => {
  it('finishSecret puts back [AWSCURRENT, AWSPREVIOUS] on a rule changed since setSecret', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const { token, pending } = await rotateUntilFinish(handler, aws, account);
    await ruleDriftsBack(account);

    await invoke(handler, account, 'finishSecret', token);

    expect(aws.elbv2.rule(account.ruleArn).conditions[0]?.HttpHeaderConfig?.Values).toEqual([
      pending,
      INITIAL,
    ]);
  });

  it('finishSecret retried after ModifyRule failed still puts the rule in step (rules before the stage moves)', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const { token, pending } = await rotateUntilFinish(handler, aws, account);
    await ruleDriftsBack(account);

    aws.faults.set({ throttle: true, actions: ['elbv2.ModifyRule'] });
    const error = await rejection(invoke(handler, account, 'finishSecret', token));
    const movedOnFailure = aws.secrets.get(account.secretId)?.stages.AWSCURRENT === token;
    aws.faults.clear();
    await invoke(handler, account, 'finishSecret', token); // Secrets Manager's retry

    expect(error.failure).toBe('aws-error');
    expect(movedOnFailure).toBe(false);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
    expect(albForwards(aws, account, pending)).toBe(true);
    expect(aws.elbv2.rule(account.ruleArn).conditions[0]?.HttpHeaderConfig?.Values).toEqual([
      pending,
      INITIAL,
    ]);
  });

  it('with ruleArns only, AWSPREVIOUS is its own value: three rotations, each leaving exactly AWSCURRENT and AWSPREVIOUS', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account, { listenerArns: [], ruleArns: [account.ruleArn] });
    const accepted: string[][] = [];
    const expected: string[][] = [];

    for (let i = 0; i < 3; i++) {
      await rotate(handler, aws, account);
      accepted.push(
        [...(aws.elbv2.rule(account.ruleArn).conditions[0]?.HttpHeaderConfig?.Values ?? [])].sort(),
      );
      expected.push(
        [stageValue(aws, account, 'AWSCURRENT'), stageValue(aws, account, 'AWSPREVIOUS')].sort(),
      );
    }

    expect(accepted).toEqual(expected);
    expect(albForwards(aws, account, INITIAL)).toBe(false);
  });

  it('every step run twice gives the same result with no extra writes', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);

    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await invoke(handler, account, step, token);
      await invoke(handler, account, step, token);
    }

    expect(aws.callCount('secretsmanager.PutSecretValue')).toBe(1);
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(1);
    expect(aws.callCount('secretsmanager.UpdateSecretVersionStage')).toBe(1);
    expect(aws.callCount('elbv2.ModifyRule')).toBe(1);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
    expect(events().filter((e) => e.event === 'pending-exists')).toHaveLength(1);
    expect(events().filter((e) => e.event === 'already-current')).toHaveLength(1);
  });
});

// Review, 4 December (sixth session): the event's RotationToken was never passed on, and AWS
// requires it of a rotation function calling Secrets Manager through an assumed role
// (cross-account rotation): createSecret's PutSecretValue would have been refused there.
describe('rotation handler: the event RotationToken', () => {
  it('is passed on with PutSecretValue, and never logged or put in an error', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const ROTATION_TOKEN = 'rotation-token-a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const token = aws.secrets.beginRotation(account.secretId);
    aws.secrets.requireRotationToken(account.secretId, ROTATION_TOKEN);
    const event = (RotationToken?: string) => ({
      Step: 'createSecret',
      SecretId: account.secretArn,
      ClientRequestToken: token,
      ...(RotationToken === undefined ? {} : { RotationToken }),
    });

    const refused = await rejection(handler(event(), lambdaContext()));
    const wrong = await rejection(
      handler(event('another-rotation-token-0123456789'), lambdaContext()),
    );
    await handler(event(ROTATION_TOKEN), lambdaContext());

    expect([refused.failure, wrong.failure]).toEqual(['aws-error', 'aws-error']);
    expect(aws.secrets.get(account.secretId)?.stages.AWSPENDING).toBe(token);
    expect(stageValue(aws, account, 'AWSPENDING')).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expectNoValueIn([...outputs(wrong), refused.message], [ROTATION_TOKEN]);
  });
});

describe('rotation handler: failures keep production serving', () => {
  it('retries UpdateDistribution after PreconditionFailed with a fresh ETag', async () => {
    const account = createAccount(aws, INITIAL);
    aws.faults.set({ preconditionFailedNext: 1 });

    const token = await rotate(handlerFor(account), aws, account);

    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(2);
    expect(aws.callCount('cloudfront.GetDistributionConfig')).toBeGreaterThanOrEqual(2);
    expect(events().find((e) => e.event === 'distribution-updated')?.attempts).toBe(2);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
  });

  it('gives up after maxUpdateAttempts PreconditionFailed answers with update-conflict', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account, { maxUpdateAttempts: 2 });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    aws.faults.set({ preconditionFailedNext: 5 });

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'update-conflict' });
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(2);
    expect(aws.cloudfront.origins(account.distributionId)[0]?.headers['X-Origin-Verify']).toBe(
      INITIAL,
    );
    expectNoValueIn(outputs(error), allValues(aws, account));
  });

  it('fails testSecret while the distribution is not deployed, leaves AWSCURRENT, and a later retry completes', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account, { deployWaitMs: 200 });
    aws.cloudfront.setDeployDelay(0, account.distributionId);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    await invoke(handler, account, 'setSecret', token);
    aws.cloudfront.holdDeployment(account.distributionId);
    aws.cloudfront.touch(account.distributionId);
    const pending = stageValue(aws, account, 'AWSPENDING');

    const error = await rejection(invoke(handler, account, 'testSecret', token));

    expect(error).toMatchObject({ failure: 'not-deployed' });
    expect(error.message).toContain(account.distributionId);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
    // Production still serves: edges send either value and the ALB forwards both.
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(albForwards(aws, account, pending)).toBe(true);
    expect(albForwards(aws, account, 'someone-else-0123456789')).toBe(false);
    expectNoValueIn(outputs(error), allValues(aws, account));

    aws.cloudfront.holdDeployment(account.distributionId, false);
    await invoke(handler, account, 'testSecret', token);
    await invoke(handler, account, 'finishSecret', token);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
  });

  it('waits for a slow deployment within deployWaitMs', async () => {
    const account = createAccount(aws, INITIAL);
    aws.cloudfront.setDeployDelay(150, account.distributionId);

    await rotate(handlerFor(account, { deployWaitMs: 5_000 }), aws, account);

    expect(aws.callCount('cloudfront.GetDistribution')).toBeGreaterThan(1);
  });

  it('fails setSecret on AccessDenied from UpdateDistribution, with CloudFront and AWSCURRENT unchanged', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    aws.faults.set({ accessDenied: true, actions: ['cloudfront.UpdateDistribution'] });

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ failure: 'aws-error', awsCode: 'AccessDenied' });
    expect(error.message).toContain('UpdateDistribution');
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(INITIAL);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(events().at(-1)).toMatchObject({
      level: 'error',
      event: 'failed',
      awsCode: 'AccessDenied',
    });
    expectNoValueIn(outputs(error), allValues(aws, account));
  });

  it('refuses a secret with rotation disabled before touching anything', async () => {
    const account = createAccount(aws, INITIAL);
    aws.secrets.setRotation(account.secretId, { enabled: false });
    const token = aws.secrets.beginRotation(account.secretId);

    const error = await rejection(invoke(handlerFor(account), account, 'createSecret', token));

    expect(error).toMatchObject({ failure: 'rotation-disabled' });
    expect(aws.callCount('secretsmanager.PutSecretValue')).toBe(0);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(INITIAL);
    expectNoValueIn(outputs(error), allValues(aws, account));
  });

  it('refuses a token that is not AWSPENDING, and one that is no version at all', async () => {
    const account = createAccount(aws, INITIAL, { previous: 'previous-origin-verify-0123456789' });
    const previousId = aws.secrets.get(account.secretId)?.stages.AWSPREVIOUS ?? '';
    const handler = handlerFor(account);

    const notPending = await rejection(invoke(handler, account, 'setSecret', previousId));
    const unknown = await rejection(
      invoke(handler, account, 'setSecret', '00000000-0000-4000-8000-000000000000'),
    );

    expect(notPending).toMatchObject({ failure: 'not-pending' });
    expect(notPending.message).toContain('AWSPREVIOUS');
    expect(unknown).toMatchObject({ failure: 'unknown-version' });
    expect(aws.callCount('elbv2.ModifyRule') + aws.callCount('cloudfront.UpdateDistribution')).toBe(
      0,
    );
    expectNoValueIn(outputs(notPending), allValues(aws, account));
  });

  it('fails setSecret before any change when the propagation wait cannot fit in the time left', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account, { propagationWaitMs: 60_000 });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(
      invoke(handler, account, 'setSecret', token, lambdaContext(30_000)),
    );

    expect(error).toMatchObject({ failure: 'wait-too-long' });
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(INITIAL);
    expect(error.message).toMatch(
      /Raise the function's timeout to at least \d+ s, or lower propagationWaitMs/,
    );
    expect(aws.callCount('elbv2.ModifyRule') + aws.callCount('cloudfront.UpdateDistribution')).toBe(
      0,
    );
  });

  it('waits propagationWaitMs between the ALB rule and CloudFront', async () => {
    const account = createAccount(aws, INITIAL);
    const token = aws.secrets.beginRotation(account.secretId);
    const handler = handlerFor(account, { propagationWaitMs: 300 });
    await invoke(handler, account, 'createSecret', token);

    await invoke(handler, account, 'setSecret', token);

    const at = (action: string) => aws.recentCalls.find((c) => c.action === action)?.at ?? 0;
    expect(at('cloudfront.UpdateDistribution') - at('elbv2.ModifyRule')).toBeGreaterThanOrEqual(
      290,
    );
  });

  it('requires a 2xx from the test URL', async () => {
    const { createServer } = await import('node:http');
    let status = 503;
    const server = createServer((_req, res) => {
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const account = createAccount(aws, INITIAL);
      const handler = handlerFor(account, { testUrl: `http://127.0.0.1:${port}/healthz` });
      const token = aws.secrets.beginRotation(account.secretId);
      await invoke(handler, account, 'createSecret', token);
      await invoke(handler, account, 'setSecret', token);

      const error = await rejection(invoke(handler, account, 'testSecret', token));
      status = 200;
      await invoke(handler, account, 'testSecret', token);

      expect(error).toMatchObject({ failure: 'test-request-failed' });
      expect(error.message).toContain('503');
    } finally {
      server.close();
    }
  });

  it('names the origins it looked for when a distribution has none of them', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account, { originIds: ['nope'] });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ failure: 'no-matching-origin' });
    expect(error.message).toContain('id nope');
    expect(aws.callCount('cloudfront.UpdateDistribution') + aws.callCount('elbv2.ModifyRule')).toBe(
      0,
    );
  });

  it('reports an unexpected error as internal-error, with known values redacted', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    const pending = stageValue(aws, account, 'AWSPENDING');
    let calls = 0;
    const brokenClock = {
      getRemainingTimeInMillis: () => {
        calls++;
        throw new Error(`clock broke near ${pending}`);
      },
    };

    const error = await rejection(invoke(handler, account, 'setSecret', token, brokenClock));

    expect(calls).toBe(1);
    expect(error).toMatchObject({ failure: 'internal-error' });
    expect(error.message).toContain('clock broke near [redacted]');
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(0);
    expectNoValueIn(outputs(error), allValues(aws, account));
  });

  it('rejects a malformed event with a clear error', async () => {
    const account = createAccount(aws, INITIAL);

    const error = await rejection(
      handlerFor(account)(
        { Step: 'rotate', SecretId: account.secretArn, ClientRequestToken: 'x' },
        lambdaContext(),
      ),
    );

    expect(error).toMatchObject({ failure: 'bad-event' });
    expect(error.message).toContain('Step is "rotate", not a rotation step');
    expect(error.message).toContain('createSecret | setSecret | testSecret | finishSecret');
  });

  // Outside review, 4 December (fourth session): these failed as internal-error "stages.includes is not a function".
  it.each(['__proto__', 'constructor', 'toString'])(
    'refuses the token %j as no version of the secret',
    async (token) => {
      const account = createAccount(aws, INITIAL);

      const error = await rejection(invoke(handlerFor(account), account, 'createSecret', token));

      expect(error).toMatchObject({ failure: 'unknown-version' });
      expect(error.message).toContain(`has no version ${token}`);
      expect(aws.callCount('secretsmanager.PutSecretValue')).toBe(0);
    },
  );

  it.each([
    [{ Step: 'createSecret' }, ['SecretId is missing', 'ClientRequestToken is missing']],
    [
      { Step: 'createSecret', SecretId: 42, ClientRequestToken: 'x' },
      ['SecretId is a number, not a string'],
    ],
    [
      { SecretId: 'arn:x', ClientRequestToken: '' },
      ['Step is missing', 'ClientRequestToken is empty'],
    ],
  ])('names each missing or invalid field of the event %j', async (event, problems) => {
    const account = createAccount(aws, INITIAL);

    const error = await rejection(
      handlerFor(account)(event as unknown as RotationEvent, lambdaContext()),
    );

    expect(error).toMatchObject({ failure: 'bad-event' });
    for (const problem of problems) expect(error.message).toContain(problem);
    expect(aws.callCount('secretsmanager.DescribeSecret')).toBe(0);
  });
});

// Outside review, 3 December: each of these changed a value CloudFront still sends, or another
// site's configuration, without a word.
describe('rotation handler: what it must not touch', () => {
  it('fails setSecret before any change when CloudFront sends a value of an abandoned rotation', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = bed.handlerFor(account);
    const first = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', first);
    await invoke(handler, account, 'setSecret', first);
    const abandoned = stageValue(aws, account, 'AWSPENDING');
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(abandoned);
    // Rotation 1 never finishes. RotateSecret refuses to start another while AWSPENDING is on
    // its version, so the operator removes the label (CancelRotateSecret would leave it), then
    // a new rotation starts.
    expect(() => aws.secrets.beginRotation(account.secretId)).toThrow(/InvalidRequestException/);
    await localClients(aws).secretsManager.send(
      new UpdateSecretVersionStageCommand({
        SecretId: account.secretArn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: first,
      }),
    );
    const second = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', second);
    const rulesBefore = JSON.stringify(aws.elbv2.rule(account.ruleArn).conditions);

    const error = await rejection(invoke(handler, account, 'setSecret', second));

    expect(error).toMatchObject({ failure: 'cloudfront-out-of-step' });
    expect(error.message).toContain('origin(s) alb');
    expect(JSON.stringify(aws.elbv2.rule(account.ruleArn).conditions)).toBe(rulesBefore);
    expect(albForwards(aws, account, abandoned)).toBe(true);
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(abandoned);
    expectNoValueIn(bed.lines, allValues(aws, account));
  });

  it('fails setSecret and testSecret before any change when an origin not selected sends this secret', async () => {
    const account = createAccount(aws, INITIAL);
    // The same ALB through a custom domain (usual for an HTTPS origin): not the ALB's DNS name.
    const d = aws.cloudfront.addDistribution({
      origins: [
        { id: 'alb', domainName: account.loadBalancerDnsName, headers: { [HEADER]: INITIAL } },
        { id: 'alb-custom', domainName: 'origin.example.com', headers: { [HEADER]: INITIAL } },
      ],
    });
    // The account's own distribution sends the secret to the ALB too: listed (else
    // unlisted-distribution, below).
    const both = [d.id, account.distributionId];
    const handler = bed.handlerFor(account, { distributionIds: both });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ failure: 'unselected-origin' });
    expect(error.message).toContain('alb-custom');
    expect(aws.cloudfront.deployedHeader(d.id, HEADER, 'alb')).toBe(INITIAL);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    const testError = await rejection(invoke(handler, account, 'testSecret', token));
    expect(testError).toMatchObject({ failure: 'unselected-origin' });
    // Named, it rotates with the rest.
    const named = bed.handlerFor(account, {
      distributionIds: both,
      originIds: ['alb', 'alb-dualstack', 'alb-custom'],
    });
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const)
      await invoke(named, account, step, token);
    const current = stageValue(aws, account, 'AWSCURRENT');
    expect(aws.cloudfront.deployedHeader(d.id, HEADER, 'alb-custom')).toBe(current);
  });

  it('leaves alone an origin not selected that sends another secret', async () => {
    const account = createAccount(aws, INITIAL);
    const d = aws.cloudfront.addDistribution({
      origins: [
        { id: 'alb', domainName: account.loadBalancerDnsName, headers: { [HEADER]: INITIAL } },
        { id: 'other-site', domainName: 'b.example.com', headers: { [HEADER]: OTHER_VALUE } },
      ],
    });
    await rotate(
      bed.handlerFor(account, { distributionIds: [account.distributionId, d.id] }),
      aws,
      account,
    );
    expect(aws.cloudfront.deployedHeader(d.id, HEADER, 'other-site')).toBe(OTHER_VALUE);
    expect(aws.cloudfront.deployedHeader(d.id, HEADER, 'alb')).toBe(
      stageValue(aws, account, 'AWSCURRENT'),
    );
  });

  it('refuses an event for a secret that is not one of its secretIds, before any change', async () => {
    const a = createAccount(aws, INITIAL);
    const b = createAccount(aws, OTHER_VALUE);
    const handler = bed.handlerFor(a, { secretIds: [a.secretId] });
    const token = aws.secrets.beginRotation(b.secretId);

    const error = await rejection(invoke(handler, b, 'createSecret', token));

    expect(error).toMatchObject({ failure: 'unexpected-secret' });
    // createSecret stored nothing: the pending version RotateSecret labelled has no value.
    expect(stageValue(aws, b, 'AWSPENDING')).toBe('');
    expect(albForwards(aws, a, INITIAL)).toBe(true);
    // Its own secret, by ARN or by name, rotates.
    await rotate(handler, aws, a);
    expect(albForwards(aws, a, stageValue(aws, a, 'AWSCURRENT'))).toBe(true);
  });
});

// Outside review, round 1: setSecret read only the distribution's stored configuration, so while
// a change was deploying it narrowed the ALB rule to values the edges did not all send yet.
describe('rotation handler: setSecret while CloudFront deploys', () => {
  it('fails setSecret before any change while a distribution still deploys a header change, and the retry goes on once it is Deployed', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    await rotate(handler, aws, account); // the ALB rule holds [AWSCURRENT, AWSPREVIOUS]
    const current = stageValue(aws, account, 'AWSCURRENT');
    const previous = stageValue(aws, account, 'AWSPREVIOUS');
    // A drift back to AWSPREVIOUS deploys; its fix to AWSCURRENT is still deploying.
    await setOriginHeader(aws, account.distributionId, previous);
    aws.cloudfront.holdDeployment(account.distributionId);
    await setOriginHeader(aws, account.distributionId, current);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    const rulesBefore = JSON.stringify(aws.elbv2.rule(account.ruleArn).conditions);
    const writesBefore =
      aws.callCount('elbv2.ModifyRule') + aws.callCount('cloudfront.UpdateDistribution');

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'not-deployed' });
    expect(error.message).toContain(`${account.distributionId} is InProgress`);
    expect(error.message).toContain('Nothing was changed');
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(previous);
    expect(albForwards(aws, account, previous)).toBe(true);
    expect(JSON.stringify(aws.elbv2.rule(account.ruleArn).conditions)).toBe(rulesBefore);
    expect(aws.callCount('elbv2.ModifyRule') + aws.callCount('cloudfront.UpdateDistribution')).toBe(
      writesBefore,
    );
    expectNoValueIn(outputs(error), allValues(aws, account));

    // Deployed: Secrets Manager's retry completes the rotation.
    aws.cloudfront.holdDeployment(account.distributionId, false);
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const)
      await invoke(handler, account, step, token);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
    expect(albForwards(aws, account, previous)).toBe(false);
  });

  it('a setSecret retried while its own CloudFront update deploys goes on, writing nothing again', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    aws.cloudfront.setDeployDelay(600_000, account.distributionId);
    await invoke(handler, account, 'setSecret', token);
    const pending = stageValue(aws, account, 'AWSPENDING');

    await invoke(handler, account, 'setSecret', token); // Secrets Manager's retry

    expect(aws.cloudfront.status(account.distributionId)).toBe('InProgress');
    expect(aws.cloudfront.origins(account.distributionId)[0]?.headers['X-Origin-Verify']).toBe(
      pending,
    );
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(1);
    expect(aws.callCount('elbv2.ModifyRule')).toBe(1);
    expect(events().filter((e) => e.event === 'cloudfront-already-updated')).toHaveLength(1);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(albForwards(aws, account, pending)).toBe(true);
  });
});

// Outside review, 4 December (fourth session): setSecret moved CloudFront to the pending value without looking
// at the rules again after the wait, testSecret looked at distributions only, and finishSecret
// promoted the pending value whatever CloudFront sent.
describe('rotation handler: each step checks what the steps before it did', () => {
  it('setSecret puts the pending value back in a rule changed during the wait, before CloudFront sends it', async () => {
    const account = createAccount(aws, INITIAL);
    let revert: Promise<void> | undefined;
    const handler = handlerFor(account, {
      log: (line) => {
        bed.lines.push(line);
        if ((JSON.parse(line) as { event: string }).event !== 'waiting-for-apps') return;
        // An IaC re-apply during the wait: every other call waits until it is done.
        aws.faults.set({
          outage: 'hang',
          actions: ['secretsmanager', 'cloudfront', 'elbv2.DescribeRules'],
        });
        revert = ruleDriftsBack(account).then(() => aws.faults.clear());
      },
    });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    await invoke(handler, account, 'setSecret', token);

    const pending = stageValue(aws, account, 'AWSPENDING');
    expect(revert).toBeDefined();
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(pending);
    expect(albForwards(aws, account, pending)).toBe(true);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(events().find((e) => e.event === 'alb-rules-rewidened')).toMatchObject({
      level: 'warn',
      modifiedRuleArns: [account.ruleArn],
    });
    expectNoValueIn(bed.lines, allValues(aws, account));
  });

  // Review, 4 December (fifth session): testSecret failed with the rule refusing the value
  // CloudFront already sends, and left it so until Secrets Manager retried the rotation.
  it('testSecret puts back a rule that no longer accepts the pending value CloudFront sends, and says so', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    await invoke(handler, account, 'setSecret', token);
    const pending = stageValue(aws, account, 'AWSPENDING');
    await ruleDriftsBack(account);
    expect(albForwards(aws, account, pending)).toBe(false);

    await invoke(handler, account, 'testSecret', token);

    expect(albForwards(aws, account, pending)).toBe(true);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(events().find((e) => e.event === 'alb-rules-rewidened')).toMatchObject({
      level: 'warn',
      step: 'testSecret',
      modifiedRuleArns: [account.ruleArn],
    });
    await invoke(handler, account, 'finishSecret', token);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
    expect(albForwards(aws, account, pending)).toBe(true);
    expectNoValueIn(bed.lines, allValues(aws, account));
  });

  it('finishSecret right after createSecret fails with not-updated, changing nothing; the rotation then completes and a re-run of finishSecret succeeds', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'finishSecret', token));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'not-updated' });
    expect(error.message).toContain(account.distributionId);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
    expect(aws.callCount('elbv2.ModifyRule')).toBe(0);
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(INITIAL);
    expectNoValueIn(outputs(error), allValues(aws, account));

    for (const step of ['setSecret', 'testSecret', 'finishSecret', 'finishSecret'] as const)
      await invoke(handler, account, step, token);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
  });

  it('finishSecret fails with not-deployed while a distribution still deploys, and its retry promotes', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account, { deployWaitMs: 100 });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    await invoke(handler, account, 'setSecret', token);
    await invoke(handler, account, 'testSecret', token);
    aws.cloudfront.holdDeployment(account.distributionId);
    aws.cloudfront.touch(account.distributionId);

    const error = await rejection(invoke(handler, account, 'finishSecret', token));

    expect(error).toMatchObject({ failure: 'not-deployed' });
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
    aws.cloudfront.holdDeployment(account.distributionId, false);
    await invoke(handler, account, 'finishSecret', token);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
  });
});

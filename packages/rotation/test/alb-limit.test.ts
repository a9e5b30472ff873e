/**
 * The ALB allows at most 5 condition values per rule, and a rotation needs 2 header values in
 * the header rule. A rule whose other conditions use more than 3 values can never be widened:
 * setSecret fails before any change with `condition-limit`, naming the rule, the limit and the
 * fix. Real SDK v3 clients against the local AWS endpoint.
 */
import { ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { forward, httpHeaderCondition, type LocalAws } from '../../../test/aws-local/index.js';
import {
  type Account,
  allValues,
  createAccount,
  expectNoValueIn,
  invoke,
  localClients,
  rejection,
  rotate,
  rotateUntilFinish,
  stageValue,
  TARGET_GROUP,
  useRotationTestbed,
} from './support.js';

const INITIAL = 'initial-origin-verify-0123456789abcdef';

const bed = useRotationTestbed();
const { handlerFor } = bed;
let aws: LocalAws;
beforeEach(() => {
  aws = bed.aws;
});

/** A second header rule of ours on `account`'s listener, with 4 other condition values. */
function addFullRule(account: Account): string {
  return aws.elbv2.addRule(account.listenerArn, {
    priority: 2,
    conditions: [
      httpHeaderCondition('X-Origin-Verify', [INITIAL]),
      { Field: 'host-header', HostHeaderConfig: { Values: ['a.example.com', 'b.example.com'] } },
      { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*', '/v2/*'] } },
    ],
    actions: [forward(TARGET_GROUP)],
  }).arn;
}

function headerValues(ruleArn: string): readonly string[] | undefined {
  return aws.elbv2.rule(ruleArn).conditions[0]?.HttpHeaderConfig?.Values;
}

describe('rotation handler: the ALB condition-value limit', () => {
  it('fails setSecret before any change when a header rule uses 4 other condition values', async () => {
    const account = createAccount(aws, INITIAL);
    const fullRule = addFullRule(account);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await rejection(invoke(handler, account, 'setSecret', token));

      expect(error).toMatchObject({ name: 'RotationError', failure: 'condition-limit' });
      expect(error.message).toContain(fullRule);
      expect(error.message).toContain('uses 4 condition values');
      expect(error.message).toContain('at most 5 condition values');
      expect(error.message).toContain('Free a condition value');
      expect(error.message).toContain('Nothing was changed');
      expectNoValueIn(
        [...bed.lines, error.message, error.stack ?? '', JSON.stringify(error)],
        allValues(aws, account),
      );
    }
    // Nothing changed: not the rule with room (found first), not CloudFront, not AWSCURRENT.
    expect(aws.callCount('elbv2.ModifyRule')).toBe(0);
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(0);
    expect(headerValues(account.ruleArn)).toEqual([INITIAL]);
    expect(headerValues(fullRule)).toEqual([INITIAL]);
    expect(aws.cloudfront.origins(account.distributionId)[0]?.headers['X-Origin-Verify']).toBe(
      INITIAL,
    );
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
    expect(bed.events().at(-1)).toMatchObject({
      event: 'failed',
      failure: 'condition-limit',
    });

    // Freeing a condition value is the fix: the retried step and the rotation then complete.
    const conditions = aws.elbv2.rule(fullRule).conditions;
    await localClients(aws).elbv2.send(
      new ModifyRuleCommand({
        RuleArn: fullRule,
        Conditions: [
          conditions[0] ?? {},
          { Field: 'host-header', HostHeaderConfig: { Values: ['*.example.com'] } },
          conditions[2] ?? {},
        ],
      }),
    );
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const)
      await invoke(handler, account, step, token);
    const next = stageValue(aws, account, 'AWSCURRENT');
    expect([...(headerValues(fullRule) ?? [])].sort()).toEqual([next, INITIAL].sort());
    expect([...(headerValues(account.ruleArn) ?? [])].sort()).toEqual([next, INITIAL].sort());
  });

  it('fails finishSecret before AWSCURRENT moves when a rule changed since setSecret is over the limit', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = handlerFor(account);
    const { token, pending } = await rotateUntilFinish(handler, aws, account);
    await localClients(aws).elbv2.send(
      new ModifyRuleCommand({
        RuleArn: account.ruleArn,
        Conditions: [
          httpHeaderCondition('X-Origin-Verify', [pending]),
          {
            Field: 'host-header',
            HostHeaderConfig: { Values: ['a.example.com', 'b.example.com'] },
          },
          { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*', '/v2/*'] } },
        ],
      }),
    );
    const modifies = aws.callCount('elbv2.ModifyRule');

    const error = await rejection(invoke(handler, account, 'finishSecret', token));

    expect(error).toMatchObject({ failure: 'condition-limit' });
    expect(error.message).toContain(account.ruleArn);
    expect(aws.callCount('secretsmanager.UpdateSecretVersionStage')).toBe(0);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
    expect(aws.callCount('elbv2.ModifyRule')).toBe(modifies);
    expectNoValueIn(
      [...bed.lines, error.message, error.stack ?? '', JSON.stringify(error)],
      allValues(aws, account),
    );
  });

  it('applies to a rule named in ruleArns too', async () => {
    const account = createAccount(aws, INITIAL);
    const fullRule = addFullRule(account);
    const handler = handlerFor(account, { listenerArns: [], ruleArns: [fullRule] });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ failure: 'condition-limit' });
    expect(error.message).toContain(fullRule);
    expect(aws.callCount('elbv2.ModifyRule') + aws.callCount('cloudfront.UpdateDistribution')).toBe(
      0,
    );
  });

  it('rotates a rule with exactly 3 other condition values (a path reported both ways counts once)', async () => {
    const account = createAccount(aws, INITIAL);
    const rule = aws.elbv2.addRule(account.listenerArn, {
      priority: 2,
      conditions: [
        httpHeaderCondition('X-Origin-Verify', [INITIAL]),
        { Field: 'host-header', HostHeaderConfig: { Values: ['a.example.com', 'b.example.com'] } },
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] }, Values: ['/api/*'] },
      ],
      actions: [forward(TARGET_GROUP)],
    }).arn;

    await rotate(handlerFor(account), aws, account);

    const values = [stageValue(aws, account, 'AWSCURRENT'), INITIAL].sort();
    expect([...(headerValues(rule) ?? [])].sort()).toEqual(values);
    expect(aws.elbv2.rule(rule).conditions[1]?.HostHeaderConfig?.Values).toHaveLength(2);
  });
});

/**
 * A listener shared by two sites, each with its own CloudFront distribution and secret on the
 * same header, told apart by path: rotating site A through `listenerArns` changes only the
 * rule that holds A's values (AWSCURRENT, AWSPREVIOUS or the pending value), never site B's.
 * Real SDK v3 clients against the local AWS endpoint.
 */
import { ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { forward, httpHeaderCondition, type LocalAws } from '../../../test/aws-local/index.js';
import {
  type Account,
  albForwards,
  allValues,
  createAccount,
  expectNoValueIn,
  HEADER,
  invoke,
  localClients,
  rejection,
  rotate,
  stageValue,
  TARGET_GROUP,
  useRotationTestbed,
} from './support.js';

const INITIAL = 'initial-origin-verify-0123456789abcdef';
const PREVIOUS = 'previous-origin-verify-0123456789abcdef';
const OTHER_SITE_SECRET = 'other-site-origin-verify-fedcba9876543210';

const bed = useRotationTestbed();
const { handlerFor, events } = bed;
let aws: LocalAws;
beforeEach(() => {
  aws = bed.aws;
});

/** Site B on `account`'s listener: its own rule on the same header, with its own secret. */
function addSiteB(account: Account): { arn: string; forwards: () => boolean } {
  const rule = aws.elbv2.addRule(account.listenerArn, {
    priority: 3,
    conditions: [
      httpHeaderCondition('X-Origin-Verify', [OTHER_SITE_SECRET]),
      { Field: 'path-pattern', PathPatternConfig: { Values: ['/site-b/*'] } },
    ],
    actions: [forward(TARGET_GROUP)],
  });
  const forwards = () =>
    aws.elbv2.evaluate(account.listenerArn, {
      path: '/site-b/x',
      headers: { [HEADER]: OTHER_SITE_SECRET },
    }).action.Type === 'forward';
  return { arn: rule.arn, forwards };
}

function headerValues(ruleArn: string): readonly string[] | undefined {
  return aws.elbv2.rule(ruleArn).conditions[0]?.HttpHeaderConfig?.Values;
}

function sorted(values: readonly string[] | undefined): string[] {
  return [...(values ?? [])].sort();
}

async function setRuleHeaderValues(ruleArn: string, values: string[]): Promise<void> {
  await localClients(aws).elbv2.send(
    new ModifyRuleCommand({
      RuleArn: ruleArn,
      Conditions: [
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: HEADER, Values: values } },
      ],
    }),
  );
}

describe('rotation handler: a listener shared with another site', () => {
  it("rotating site A leaves site B's header rule alone, and B's requests keep being forwarded", async () => {
    const account = createAccount(aws, INITIAL);
    const siteB = addSiteB(account);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);

    await invoke(handler, account, 'createSecret', token);
    await invoke(handler, account, 'setSecret', token);
    const pending = stageValue(aws, account, 'AWSPENDING');

    expect(headerValues(siteB.arn)).toEqual([OTHER_SITE_SECRET]);
    expect(siteB.forwards()).toBe(true);
    expect(headerValues(account.ruleArn)).toEqual([INITIAL, pending]);

    for (const step of ['testSecret', 'finishSecret'] as const)
      await invoke(handler, account, step, token);
    aws.secrets.endRotation(account.secretId);
    await rotate(handler, aws, account);

    expect(headerValues(siteB.arn)).toEqual([OTHER_SITE_SECRET]);
    expect(siteB.forwards()).toBe(true);
    expect(albForwards(aws, account, stageValue(aws, account, 'AWSCURRENT'))).toBe(true);
    expect(albForwards(aws, account, INITIAL)).toBe(false);
    const leftAlone = events().filter((e) => e.event === 'alb-rules-left-alone');
    expect(leftAlone.length).toBeGreaterThan(0);
    for (const e of leftAlone) expect(e.ruleArns).toEqual([siteB.arn]);
    expect(events().find((e) => e.event === 'alb-rules-widened')?.ruleArns).toEqual([
      account.ruleArn,
    ]);
    expectNoValueIn(bed.lines, [...allValues(aws, account), OTHER_SITE_SECRET]);
  });

  it('finds its rule by AWSPREVIOUS alone', async () => {
    const account = createAccount(aws, INITIAL, { previous: PREVIOUS });
    const siteB = addSiteB(account);
    await setRuleHeaderValues(account.ruleArn, [PREVIOUS]);

    await rotate(handlerFor(account), aws, account);

    expect(sorted(headerValues(account.ruleArn))).toEqual(
      sorted([stageValue(aws, account, 'AWSCURRENT'), INITIAL]),
    );
    expect(headerValues(siteB.arn)).toEqual([OTHER_SITE_SECRET]);
  });

  it('finds its rule by the pending value alone, so a re-run of setSecret still finds it', async () => {
    const account = createAccount(aws, INITIAL);
    const siteB = addSiteB(account);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    const pending = stageValue(aws, account, 'AWSPENDING');
    await setRuleHeaderValues(account.ruleArn, [pending]);

    await invoke(handler, account, 'setSecret', token);

    expect(headerValues(account.ruleArn)).toEqual([INITIAL, pending]);
    expect(headerValues(siteB.arn)).toEqual([OTHER_SITE_SECRET]);
  });

  it('fails with no-matching-rule, changing nothing, when the only header rules hold other values', async () => {
    const account = createAccount(aws, INITIAL);
    const siteB = addSiteB(account);
    await setRuleHeaderValues(account.ruleArn, ['someone-else-0123456789abcdef']);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'no-matching-rule' });
    expect(error.message).toContain(account.listenerArn);
    expect(error.message).toContain('left alone');
    expect(error.message).toContain(account.ruleArn);
    expect(error.message).toContain(siteB.arn);
    expect(aws.callCount('elbv2.ModifyRule')).toBe(1); // the arrangement above
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(0);
    expect(headerValues(siteB.arn)).toEqual([OTHER_SITE_SECRET]);
    expectNoValueIn(
      [...bed.lines, error.message, error.stack ?? '', JSON.stringify(error)],
      [...allValues(aws, account), OTHER_SITE_SECRET, 'someone-else-0123456789abcdef'],
    );
  });

  it('still updates a rule named in ruleArns whatever it holds, keeping the values that are not its own', async () => {
    const account = createAccount(aws, INITIAL);
    const siteB = addSiteB(account);

    await rotate(
      handlerFor(account, { listenerArns: [], ruleArns: [account.ruleArn, siteB.arn] }),
      aws,
      account,
    );

    const values = sorted([stageValue(aws, account, 'AWSCURRENT'), INITIAL]);
    expect(sorted(headerValues(account.ruleArn))).toEqual(values);
    expect(sorted(headerValues(siteB.arn))).toEqual(sorted([...values, OTHER_SITE_SECRET]));
    expect(siteB.forwards()).toBe(true);
  });

  // Outside review, 3 December: a rule holding this secret's value and another site's was
  // given this secret's values only, and the other site's requests were denied from setSecret on.
  it("keeps another site's value in a rule both sites share, through a whole rotation and the next", async () => {
    const account = createAccount(aws, INITIAL);
    await setRuleHeaderValues(account.ruleArn, [INITIAL, OTHER_SITE_SECRET]);
    const otherForwards = () =>
      aws.elbv2.evaluate(account.listenerArn, { headers: { [HEADER]: OTHER_SITE_SECRET } }).action
        .Type === 'forward';
    expect(otherForwards()).toBe(true);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    await invoke(handler, account, 'setSecret', token);
    expect(otherForwards()).toBe(true);
    expect(sorted(headerValues(account.ruleArn))).toEqual(
      sorted([INITIAL, stageValue(aws, account, 'AWSPENDING'), OTHER_SITE_SECRET]),
    );
    for (const step of ['testSecret', 'finishSecret'] as const)
      await invoke(handler, account, step, token);
    aws.secrets.endRotation(account.secretId);
    expect(otherForwards()).toBe(true);
    await rotate(handler, aws, account);
    expect(otherForwards()).toBe(true);
    expect(albForwards(aws, account, stageValue(aws, account, 'AWSCURRENT'))).toBe(true);
  });

  // Review, 4 December (seventh session): ModifyRule sends another site's values back; an AWS
  // message echoing them reached the log line and the thrown error unredacted.
  it("redacts another site's value from a ModifyRule error that echoes the request", async () => {
    const account = createAccount(aws, INITIAL);
    await setRuleHeaderValues(account.ruleArn, [INITIAL, OTHER_SITE_SECRET]);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    aws.faults.set({ echoRequest: true, actions: ['elbv2.ModifyRule'] });

    const error = await rejection(invoke(handler, account, 'setSecret', token));
    aws.faults.clear();

    expect(error.message).toContain('ValidationError');
    expect(error.message).toContain('[redacted]');
    expectNoValueIn(
      [error.message, String(error.stack), ...bed.lines],
      [...allValues(aws, account), OTHER_SITE_SECRET],
    );
  });

  it('fails before any change when a shared rule has no room for the rotation next to the other values', async () => {
    const account = createAccount(aws, INITIAL);
    await setRuleHeaderValues(account.ruleArn, [
      INITIAL,
      OTHER_SITE_SECRET,
      `${OTHER_SITE_SECRET}-2`,
    ]);
    const handler = handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    const error = await rejection(invoke(handler, account, 'setSecret', token));
    expect(error).toMatchObject({ failure: 'condition-limit' });
    expect(sorted(headerValues(account.ruleArn))).toEqual(
      sorted([INITIAL, OTHER_SITE_SECRET, `${OTHER_SITE_SECRET}-2`]),
    );
    expectNoValueIn([error.message], allValues(aws, account));
  });
});

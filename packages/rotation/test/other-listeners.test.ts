/**
 * Another listener of the same ALB checking this secret (a second HTTPS listener for an origin's
 * custom port, HTTP:80 for a `match-viewer` origin). CloudFront origins are selected ALB-wide
 * (by the ALB's DNS name) and all switched to the new value, but only the rules of
 * `listenerArns` / `ruleArns` are changed: until 4 December (seventh session, review) such a
 * listener was left on the old value, the rotation reported success, and every request arriving
 * there was refused from then on. setSecret now refuses before any change, as it does for an
 * origin left out of its selection. Real SDK v3 clients against the local AWS endpoint.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  fixedResponse,
  forward,
  httpHeaderCondition,
  type LocalAws,
} from '../../../test/aws-local/index.js';
import {
  type Account,
  createAccount,
  expectNoValueIn,
  HEADER,
  invoke,
  rejection,
  rotate,
  stageValue,
  TARGET_GROUP,
  useRotationTestbed,
} from './support.js';

const INITIAL = 'initial-origin-verify-0123456789abcdef';
const OTHER_SITE_SECRET = 'other-site-origin-verify-fedcba9876543210';

const bed = useRotationTestbed();
let aws: LocalAws;
beforeEach(() => {
  aws = bed.aws;
});

/** The load balancer ARN of `account`'s listener. */
const loadBalancerOf = (account: Account) =>
  account.listenerArn.replace(':listener/', ':loadbalancer/').replace(/\/[^/]+$/, '');

/** A second listener (port 8443) on `account`'s ALB, its rule checking the header for `value`. */
function addSecondListener(account: Account, value: string) {
  const listener = aws.elbv2.addListener(loadBalancerOf(account), {
    port: 8443,
    defaultActions: [fixedResponse()],
  });
  const rule = aws.elbv2.addRule(listener.arn, {
    priority: 1,
    conditions: [httpHeaderCondition('X-Origin-Verify', [value])],
    actions: [forward(TARGET_GROUP)],
  });
  const forwards = (sent: string) =>
    aws.elbv2.evaluate(listener.arn, { headers: { [HEADER]: sent } }).action.Type === 'forward';
  return { listenerArn: listener.arn, ruleArn: rule.arn, forwards };
}

/** What CloudFront's ALB origin of `account` sends. */
const originValue = (account: Account) =>
  aws.cloudfront.edgeHeader(account.distributionId, 'X-Origin-Verify', 'alb');

describe('another listener of the same ALB checking this secret', () => {
  it('is refused by setSecret before anything changes, naming the listener and the fix', async () => {
    const account = createAccount(aws, INITIAL);
    const second = addSecondListener(account, INITIAL);
    const handler = bed.handlerFor(account); // listenerArns: the 443 listener only
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error.failure).toBe('unselected-listener');
    expect(error.message).toContain(second.listenerArn);
    expect(error.message).toContain('(port 8443)');
    expect(error.message).toContain('before CloudFront was pointed at the new value');
    expect(error.message).toContain('Add the listener to listenerArns');
    expectNoValueIn([error.message, String(error.stack), ...bed.lines], [INITIAL]);
    // Nothing changed: CloudFront still sends AWSCURRENT, both listeners still accept it.
    expect(originValue(account)).toBe(INITIAL);
    expect(aws.elbv2.rule(account.ruleArn).conditions[0]?.HttpHeaderConfig?.Values).toEqual([
      INITIAL,
    ]);
    expect(second.forwards(INITIAL)).toBe(true);
  });

  it.each([
    ['in another case', INITIAL.toUpperCase()],
    ['as a wildcard pattern', `${INITIAL.slice(0, 30)}*`],
  ])(
    'is refused when the other rule holds the value %s (ALB matches it alike)',
    async (_how, held) => {
      const account = createAccount(aws, INITIAL);
      const second = addSecondListener(account, held);
      const handler = bed.handlerFor(account);
      const token = aws.secrets.beginRotation(account.secretId);
      await invoke(handler, account, 'createSecret', token);

      const error = await rejection(invoke(handler, account, 'setSecret', token));

      expect(second.forwards(INITIAL)).toBe(true);
      expect(error.failure).toBe('unselected-listener');
      expectNoValueIn([error.message], [INITIAL, held]);
    },
  );

  it.each([
    ['matches the value by a regular expression', '^initial-'],
    ['has a regular expression the rotation cannot read', '(?i)^initial-'],
  ])('is refused when the other rule %s', async (_how, pattern) => {
    const account = createAccount(aws, INITIAL);
    const listener = aws.elbv2.addListener(loadBalancerOf(account), {
      port: 8443,
      defaultActions: [fixedResponse()],
    });
    aws.elbv2.addRule(listener.arn, {
      priority: 1,
      conditions: [
        {
          Field: 'http-header',
          HttpHeaderConfig: { HttpHeaderName: 'X-Origin-Verify', RegexValues: [pattern] },
        },
      ],
      actions: [forward(TARGET_GROUP)],
    });
    const handler = bed.handlerFor(account);
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error.failure).toBe('unselected-listener');
  });

  it('leaves alone a rule that accepts the new value too (a wildcard), or only AWSPREVIOUS', async () => {
    const account = createAccount(aws, INITIAL);
    const anyValue = addSecondListener(account, '*');
    await rotate(bed.handlerFor(account), aws, account);
    // The value now AWSPREVIOUS, on a third listener: it already refuses what CloudFront sends.
    const stale = aws.elbv2.addListener(loadBalancerOf(account), {
      port: 9443,
      defaultActions: [fixedResponse()],
    });
    aws.elbv2.addRule(stale.arn, {
      priority: 1,
      conditions: [httpHeaderCondition('X-Origin-Verify', [INITIAL])],
      actions: [forward(TARGET_GROUP)],
    });

    await rotate(bed.handlerFor(account), aws, account);

    expect(anyValue.forwards(stageValue(aws, account, 'AWSCURRENT'))).toBe(true);
  });

  it('rotates both when both listeners are given, each forwarding the new value', async () => {
    const account = createAccount(aws, INITIAL);
    const second = addSecondListener(account, INITIAL);
    const handler = bed.handlerFor(account, {
      listenerArns: [account.listenerArn, second.listenerArn],
    });

    await rotate(handler, aws, account);

    const now = stageValue(aws, account, 'AWSCURRENT');
    expect(now).not.toBe(INITIAL);
    expect(originValue(account)).toBe(now);
    expect(second.forwards(now)).toBe(true);
  });

  it("counts a listener whose rule is named in ruleArns as the rotation's", async () => {
    const account = createAccount(aws, INITIAL);
    const second = addSecondListener(account, INITIAL);
    const handler = bed.handlerFor(account, { ruleArns: [second.ruleArn] });

    await rotate(handler, aws, account);

    expect(second.forwards(stageValue(aws, account, 'AWSCURRENT'))).toBe(true);
  });

  // Review of that fix (same session): naming one rule of a listener in ruleArns counted the whole
  // listener as the rotation's, and a second rule there on the same secret stayed behind.
  it('is refused for another rule of a listener whose only named rule is in ruleArns', async () => {
    const account = createAccount(aws, INITIAL);
    const api = aws.elbv2.addRule(account.listenerArn, {
      priority: 7,
      conditions: [
        httpHeaderCondition('X-Origin-Verify', [INITIAL]),
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } },
      ],
      actions: [forward(TARGET_GROUP)],
    });
    const handler = bed.handlerFor(account, { listenerArns: [], ruleArns: [account.ruleArn] });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error.failure).toBe('unselected-listener');
    expect(error.message).toContain(`rule ${api.arn}`);
    expect(originValue(account)).toBe(INITIAL);
  });

  it("leaves alone another listener whose rule checks another site's secret", async () => {
    const account = createAccount(aws, INITIAL);
    const other = addSecondListener(account, OTHER_SITE_SECRET);

    await rotate(bed.handlerFor(account), aws, account);

    expect(stageValue(aws, account, 'AWSCURRENT')).not.toBe(INITIAL);
    expect(other.forwards(OTHER_SITE_SECRET)).toBe(true);
  });
});

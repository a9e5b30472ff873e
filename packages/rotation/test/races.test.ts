/**
 * The rotation racing other changes to the same ALB and distributions (outside review, 8th
 * session): a rule narrowed again while CloudFront deploys the pending value, a distribution
 * changed after finishSecret saw it Deployed, a listener added during setSecret's wait. Real
 * SDK clients over the wire against the local endpoint.
 */
import type { MiddlewareStack } from '@smithy/types';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  fixedResponse,
  forward,
  httpHeaderCondition,
  type LocalAws,
} from '../../../test/aws-local/index.js';
import {
  albForwards,
  createAccount,
  HEADER,
  invoke,
  localClients,
  rejection,
  rotationHandlerFor,
  setOriginHeader,
  setRuleHeaderValues,
  stageValue,
  TARGET_GROUP,
  useRotationTestbed,
} from './support.js';

const INITIAL = 'initial-origin-verify-0123456789abcdef';
const bed = useRotationTestbed();
let aws: LocalAws;
beforeEach(() => {
  aws = bed.aws;
});

describe('the rotation racing other changes', () => {
  it('puts a rule narrowed during the CloudFront deployment back at once, not after Deployed', async () => {
    const account = createAccount(aws, INITIAL);
    const handler = bed.handlerFor(account, { deployWaitMs: 200 });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    aws.cloudfront.setDeployDelay(600_000, account.distributionId); // a slow deployment
    await invoke(handler, account, 'setSecret', token);
    const pending = stageValue(aws, account, 'AWSPENDING');
    await setRuleHeaderValues(aws, account, [INITIAL]);
    expect(albForwards(aws, account, pending)).toBe(false);

    const error = await rejection(invoke(handler, account, 'testSecret', token));

    expect(error.failure).toBe('not-deployed');
    // The edges already on the pending value are forwarded again while CloudFront deploys.
    expect(albForwards(aws, account, pending)).toBe(true);
    expect(albForwards(aws, account, INITIAL)).toBe(true);
    expect(bed.events().filter((e) => e.event === 'alb-rules-rewidened')).not.toHaveLength(0);

    // finishSecret puts it back the same way before it waits, and moves nothing.
    await setRuleHeaderValues(aws, account, [INITIAL]);
    expect((await rejection(invoke(handler, account, 'finishSecret', token))).failure).toBe(
      'not-deployed',
    );
    expect(albForwards(aws, account, pending)).toBe(true);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
  });

  it('reads every distribution on every poll: one reverted after it was seen Deployed stops finishSecret', async () => {
    const account = createAccount(aws, INITIAL);
    const second = aws.cloudfront.addDistribution({
      origins: [
        {
          id: 'alb',
          domainName: account.loadBalancerDnsName,
          headers: { 'X-Origin-Verify': INITIAL },
        },
      ],
    });
    const clients = localClients(aws);
    let armed = false;
    let polls = 0;
    // After both distributions were read once: someone puts the first back on the old value
    // (deployed at once), and the second's deployment completes.
    (clients.cloudFront.middlewareStack as MiddlewareStack<object, object>).add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (
          armed &&
          (context as { commandName?: string }).commandName === 'GetDistributionCommand' &&
          ++polls === 2
        ) {
          await setOriginHeader(aws, account.distributionId, INITIAL);
          aws.cloudfront.holdDeployment(second.id, false);
        }
        return result;
      },
      { step: 'initialize', name: 'revertAfterFirstPass' },
    );
    const handler = rotationHandlerFor(aws, account, {
      distributionIds: [account.distributionId, second.id],
      propagationWaitMs: 0,
      pollIntervalMs: 20,
      deployWaitMs: 2_000,
      clients,
      log: (line) => bed.lines.push(line),
    });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    await invoke(handler, account, 'setSecret', token);
    await invoke(handler, account, 'testSecret', token);
    aws.cloudfront.holdDeployment(second.id);
    aws.cloudfront.touch(second.id); // InProgress (someone else's change) when finishSecret runs
    armed = true;

    const error = await rejection(invoke(handler, account, 'finishSecret', token));

    expect(error.failure).toBe('not-updated');
    expect(error.message).toContain(account.distributionId);
    expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).not.toBe(token);
  });

  it('checks the other listeners again after the wait, before CloudFront is pointed at the pending value', async () => {
    const account = createAccount(aws, INITIAL);
    let added: { arn: string } | undefined;
    const handler = bed.handlerFor(account, {
      log: (line) => {
        bed.lines.push(line);
        if ((JSON.parse(line) as { event: string }).event !== 'waiting-for-apps') return;
        // A deploy adds HTTPS:8443 during the wait, with a rule accepting only AWSCURRENT.
        const lb = account.listenerArn
          .replace(':listener/', ':loadbalancer/')
          .replace(/\/[^/]+$/, '');
        added = aws.elbv2.addListener(lb, { port: 8443, defaultActions: [fixedResponse()] });
        aws.elbv2.addRule(added.arn, {
          priority: 1,
          conditions: [httpHeaderCondition(HEADER, [INITIAL])],
          actions: [forward(TARGET_GROUP)],
        });
      },
    });
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);

    const error = await rejection(invoke(handler, account, 'setSecret', token));

    expect(error.failure).toBe('unselected-listener');
    expect(added).toBeDefined();
    // CloudFront still sends the value every listener forwards.
    expect(aws.cloudfront.deployedHeader(account.distributionId, HEADER, 'alb')).toBe(INITIAL);
    expect(aws.elbv2.evaluate(added!.arn, { headers: { [HEADER]: INITIAL } }).action.Type).toBe(
      'forward',
    );
  });

  it('fails setSecret before any change when a distribution not listed sends the secret to the ALB', async () => {
    const account = createAccount(aws, INITIAL);
    // A second site's distribution on the same ALB, sending the same secret, not listed.
    const unlisted = aws.cloudfront.addDistribution({
      origins: [
        {
          id: 'alb',
          domainName: `dualstack.${account.loadBalancerDnsName}`,
          headers: { 'X-Origin-Verify': INITIAL },
        },
      ],
    });
    // One sending another value is no concern.
    aws.cloudfront.addDistribution({
      origins: [
        {
          id: 'alb',
          domainName: account.loadBalancerDnsName,
          headers: { 'X-Origin-Verify': 'another-site-origin-verify-0123456789' },
        },
      ],
    });
    const token = await expectUnlistedRefused(bed.handlerFor(account), account, unlisted.id);

    // Listed, it rotates with the rest.
    const listed = bed.handlerFor(account, {
      distributionIds: [account.distributionId, unlisted.id],
    });
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const)
      await invoke(listed, account, step, token);
    const current = stageValue(aws, account, 'AWSCURRENT');
    expect(aws.cloudfront.deployedHeader(unlisted.id, HEADER, 'alb')).toBe(current);
  });

  /**
   * Start a rotation and expect setSecret to refuse it with `unlisted-distribution` naming
   * `unlistedId`, before any change (no value in the message). Returns the rotation's token.
   */
  async function expectUnlistedRefused(
    handler: ReturnType<typeof bed.handlerFor>,
    account: Parameters<typeof bed.handlerFor>[0],
    unlistedId: string,
  ): Promise<string> {
    const token = aws.secrets.beginRotation(account.secretId);
    await invoke(handler, account, 'createSecret', token);
    const error = await rejection(invoke(handler, account, 'setSecret', token));
    expect(error.failure).toBe('unlisted-distribution');
    expect(error.message).toContain(unlistedId);
    expect(error.message).not.toContain(INITIAL);
    expect(aws.callCount('elbv2.ModifyRule')).toBe(0);
    expect(aws.callCount('cloudfront.UpdateDistribution')).toBe(0);
    return token;
  }

  // Review, 5 December: only origins on the ALB's DNS names were looked at, so a distribution
  // reaching the ALB through a name of its own (a CNAME), or any with originIds-only options,
  // was left on the old value and cut off two rotations later.
  it.each([
    ['the default options', false],
    ['originIds-only options', true],
  ])(
    'fails setSecret when an unlisted distribution sends the secret through a CNAME of the ALB, with %s',
    async (_n, originIdsOnly) => {
      const account = createAccount(aws, INITIAL);
      const unlisted = aws.cloudfront.addDistribution({
        origins: [
          { id: 'app', domainName: 'origin.example.com', headers: { 'X-Origin-Verify': INITIAL } },
        ],
      });
      const handler = bed.handlerFor(
        account,
        originIdsOnly
          ? { originIds: ['alb', 'alb-dualstack'], listenerArns: [], ruleArns: [account.ruleArn] }
          : {},
      );
      await expectUnlistedRefused(handler, account, unlisted.id);
    },
  );
});

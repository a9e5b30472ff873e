/**
 * An abandoned rotation, cleaned up as the README says (origins back on AWSCURRENT, deployed,
 * then AWSPENDING removed): its value, left in the ALB rule by its setSecret, is no value of any
 * accepted label any more, and the next rotation removes it from the rule, while a value of
 * another site sharing the rule is kept. Real SDK v3 clients against the local AWS endpoint.
 */
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../../test/aws-local/index.js';
import { MAX_FORMER_VERSIONS_READ } from '../src/constants.js';
import {
  type Account,
  albForwards,
  allValues,
  createAccount,
  expectNoValueIn,
  invoke,
  localClients,
  rejection,
  rotate,
  setOriginHeader,
  setRuleHeaderValues,
  stageValue,
  useRotationTestbed,
} from './support.js';

const INITIAL = 'initial-origin-verify-0123456789abcdef';
const OTHER_SITE_SECRET = 'other-site-origin-verify-fedcba9876543210';

const bed = useRotationTestbed();
const { handlerFor, events } = bed;
let aws: LocalAws;
beforeEach(() => {
  aws = bed.aws;
});

function sorted(values: readonly string[] | undefined): string[] {
  return [...(values ?? [])].sort();
}

function ruleValues(account: Account): string[] {
  return sorted(aws.elbv2.rule(account.ruleArn).conditions[0]?.HttpHeaderConfig?.Values);
}

/** What the secret's accepted labels hold: AWSCURRENT and AWSPREVIOUS. */
function acceptedValues(account: Account): string[] {
  return sorted([stageValue(aws, account, 'AWSCURRENT'), stageValue(aws, account, 'AWSPREVIOUS')]);
}

/**
 * A rotation that stops after setSecret, cleaned up as the README says: origins back on
 * AWSCURRENT, deployed, then AWSPENDING removed. Returns its value (now in no label).
 */
async function abandonRotation(account: Account): Promise<string> {
  const handler = handlerFor(account);
  const token = aws.secrets.beginRotation(account.secretId);
  await invoke(handler, account, 'createSecret', token);
  await invoke(handler, account, 'setSecret', token);
  const abandoned = stageValue(aws, account, 'AWSPENDING');
  await setOriginHeader(aws, account.distributionId, stageValue(aws, account, 'AWSCURRENT'));
  await localClients(aws).secretsManager.send(
    new UpdateSecretVersionStageCommand({
      SecretId: account.secretArn,
      VersionStage: 'AWSPENDING',
      RemoveFromVersionId: token,
    }),
  );
  return abandoned;
}

// Outside review, 4 December (fourth session): a value of this secret in no accepted label was kept in the rule
// as another site's on every rotation, so the ALB forwarded it for good, and a second abandoned
// rotation made every later one fail with condition-limit.
describe('rotation handler: after an abandoned rotation', () => {
  it('the next rotation removes the abandoned value from the ALB rule', async () => {
    const account = createAccount(aws, INITIAL);
    const abandoned = await abandonRotation(account);
    expect(albForwards(aws, account, abandoned)).toBe(true);

    await rotate(handlerFor(account), aws, account);

    expect(albForwards(aws, account, abandoned)).toBe(false);
    expect(ruleValues(account)).toEqual(acceptedValues(account));
    expect(events().find((e) => e.event === 'alb-former-values-found')).toMatchObject({
      step: 'setSecret',
      ruleArns: [account.ruleArn],
      count: 1,
    });
    expectNoValueIn(bed.lines, allValues(aws, account));
  });

  it('two abandoned rotations in a row, then three rotations: each leaves exactly AWSCURRENT and AWSPREVIOUS', async () => {
    const account = createAccount(aws, INITIAL);
    const abandoned = [await abandonRotation(account), await abandonRotation(account)];
    const handler = handlerFor(account);
    const accepted: string[][] = [];
    const expected: string[][] = [];

    for (let i = 0; i < 3; i++) {
      await rotate(handler, aws, account);
      accepted.push(ruleValues(account));
      expected.push(acceptedValues(account));
    }

    expect(accepted).toEqual(expected);
    for (const value of abandoned) expect(albForwards(aws, account, value)).toBe(false);
    expectNoValueIn(bed.lines, allValues(aws, account));
  });

  // Review, 4 December (sixth session): the endpoint never paged, so the paging of
  // ListSecretVersionIds only ever met the repeated-token fault, never a real second page.
  it('finds the abandoned values across pages of ListSecretVersionIds, one version a page', async () => {
    const account = createAccount(aws, INITIAL);
    const abandoned = [await abandonRotation(account), await abandonRotation(account)];
    aws.secrets.setListPageSize(1);
    aws.resetCalls();

    await rotate(handlerFor(account), aws, account);

    expect(aws.callCount('secretsmanager.ListSecretVersionIds')).toBeGreaterThanOrEqual(4);
    for (const value of abandoned) expect(albForwards(aws, account, value)).toBe(false);
    expect(ruleValues(account)).toEqual(acceptedValues(account));
  });

  it("in a rule both sites share, drops the abandoned value and keeps the other site's", async () => {
    const account = createAccount(aws, INITIAL);
    await setRuleHeaderValues(aws, account, [INITIAL, OTHER_SITE_SECRET]);
    const abandoned = await abandonRotation(account);
    expect(ruleValues(account)).toEqual(sorted([INITIAL, abandoned, OTHER_SITE_SECRET]));
    const handler = handlerFor(account);

    await rotate(handler, aws, account);
    await rotate(handler, aws, account);

    expect(ruleValues(account)).toEqual(sorted([...acceptedValues(account), OTHER_SITE_SECRET]));
    expect(albForwards(aws, account, abandoned)).toBe(false);
    expect(albForwards(aws, account, OTHER_SITE_SECRET)).toBe(true);
    expectNoValueIn(bed.lines, [...allValues(aws, account), OTHER_SITE_SECRET]);
  });

  // Review, 4 December (fifth session): a NextToken that never changes paged until the
  // Lambda's timeout, with no line logged.
  it('fails setSecret, named and changing nothing, when ListSecretVersionIds pages for ever', async () => {
    const account = createAccount(aws, INITIAL);
    const abandoned = await abandonRotation(account);
    const before = ruleValues(account);
    aws.faults.set({ repeatNextToken: true, actions: ['secretsmanager.ListSecretVersionIds'] });
    aws.resetCalls();

    const error = await rejection(rotate(handlerFor(account), aws, account));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'aws-error' });
    expect(error.message).toMatch(/ListSecretVersionIds of .* kept paging/);
    expect(aws.callCount('secretsmanager.ListSecretVersionIds')).toBe(2);
    expect(ruleValues(account)).toEqual(before);
    expect(albForwards(aws, account, abandoned)).toBe(true);
  });

  it('fails, named and changing nothing, when DescribeRules pages for ever', async () => {
    const account = createAccount(aws, INITIAL);
    const before = ruleValues(account);
    aws.faults.set({ repeatNextToken: true, actions: ['elbv2.DescribeRules'] });
    aws.resetCalls();

    const error = await rejection(rotate(handlerFor(account), aws, account));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'aws-error' });
    expect(error.message).toMatch(/DescribeRules \(.*\) kept paging/);
    expect(aws.callCount('elbv2.DescribeRules')).toBe(2);
    expect(ruleValues(account)).toEqual(before);
  });

  // Review, thirteenth session: a ListDistributions page truncated without a NextMarker ended
  // the search for distributions that still send the secret there, silently.
  it('fails setSecret, named and changing nothing, when ListDistributions is truncated without a marker', async () => {
    const account = createAccount(aws, INITIAL);
    const before = ruleValues(account);
    aws.faults.set({ truncatedWithoutMarker: true, actions: ['cloudfront.ListDistributions'] });

    const error = await rejection(rotate(handlerFor(account), aws, account));

    expect(error).toMatchObject({ name: 'RotationError', failure: 'aws-error' });
    expect(error.message).toMatch(
      /ListDistributions said more distributions follow but gave no NextMarker/,
    );
    expect(ruleValues(account)).toEqual(before);
  });

  // Review, 4 December (fifth session): a version under a staging label of its own (a value
  // pinned for another consumer, which apps may accept with `secretStages`) was taken for an
  // older value and dropped from the rule.
  it('keeps in the rule a value of this secret that a staging label of its own still holds', async () => {
    const account = createAccount(aws, INITIAL);
    const PINNED = 'pinned-origin-verify-00112233445566778899';
    const pinned = aws.secrets.stagePending(account.secretId, PINNED);
    aws.secrets.moveStage(account.secretId, 'PINNED', pinned);
    aws.secrets.endRotation(account.secretId); // AWSPENDING removed; PINNED stays
    await setRuleHeaderValues(aws, account, [INITIAL, PINNED]);

    await rotate(handlerFor(account), aws, account);

    expect(albForwards(aws, account, PINNED)).toBe(true);
    expect(ruleValues(account)).toEqual(sorted([...acceptedValues(account), PINNED]));
  });

  it(`reads at most ${MAX_FORMER_VERSIONS_READ} older versions to tell another site's value from an old one of this secret`, async () => {
    // Each account its own value: a distribution sending another secret's value is not its.
    const ALONE = 'alone-site-origin-verify-0123456789abcdef';
    const shared = createAccount(aws, INITIAL);
    const alone = createAccount(aws, ALONE);
    for (const account of [shared, alone]) {
      for (let i = 0; i < MAX_FORMER_VERSIONS_READ + 5; i++)
        aws.secrets.put(account.secretId, `older-origin-verify-${i}-0123456789abcdef`);
      aws.secrets.put(account.secretId, account === shared ? INITIAL : ALONE);
    }
    await setRuleHeaderValues(aws, shared, [INITIAL, OTHER_SITE_SECRET]);
    const secretReadsOfSetSecret = async (account: Account): Promise<number> => {
      const handler = handlerFor(account);
      const token = aws.secrets.beginRotation(account.secretId);
      await invoke(handler, account, 'createSecret', token);
      const before = aws.callCount('secretsmanager.GetSecretValue');
      await invoke(handler, account, 'setSecret', token);
      return aws.callCount('secretsmanager.GetSecretValue') - before;
    };

    const extraReads =
      (await secretReadsOfSetSecret(shared)) - (await secretReadsOfSetSecret(alone));

    expect(extraReads).toBeGreaterThan(0);
    // setSecret reads the rules twice: before the wait, and again right before CloudFront.
    expect(extraReads).toBeLessThanOrEqual(2 * MAX_FORMER_VERSIONS_READ);
    expect(ruleValues(shared)).toEqual(
      sorted([INITIAL, stageValue(aws, shared, 'AWSPENDING'), OTHER_SITE_SECRET]),
    );
  });
});

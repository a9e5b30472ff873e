/**
 * Assertions and the testbed shared by the rotation tests; the account itself is in `account.ts` (also used by
 * the demo, so it does not import vitest).
 */
import {
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { RotationHandler, RotationOptions } from '@cdn-origin-guard/rotation';
import { expect } from 'vitest';
import { useLocalAws } from '../../../test/aws/support.js';
import type { LocalAws } from '../../../test/aws-local/index.js';
import { type Account, HEADER, localClients, rotationHandlerFor } from './account.js';

export * from './account.js';

/**
 * Someone else (an infrastructure-as-code re-apply) sets the account rule's header condition to
 * `values` alone, its path condition kept (`/*`), through the ELBv2 API.
 */
export async function setRuleHeaderValues(
  aws: LocalAws,
  account: Account,
  values: string[],
): Promise<void> {
  await localClients(aws).elbv2.send(
    new ModifyRuleCommand({
      RuleArn: account.ruleArn,
      Conditions: [
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: HEADER, Values: values } },
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } },
      ],
    }),
  );
}

/**
 * Someone else (an infrastructure-as-code apply, or an operator) puts `value` in the header of
 * every origin of distribution `id` that has it, through the CloudFront API.
 */
export async function setOriginHeader(aws: LocalAws, id: string, value: string): Promise<void> {
  const { cloudFront } = localClients(aws);
  const read = await cloudFront.send(new GetDistributionConfigCommand({ Id: id }));
  for (const origin of read.DistributionConfig?.Origins?.Items ?? [])
    for (const header of origin.CustomHeaders?.Items ?? [])
      if (header.HeaderName?.toLowerCase() === HEADER) header.HeaderValue = value;
  await cloudFront.send(
    new UpdateDistributionCommand({
      Id: id,
      IfMatch: read.ETag,
      DistributionConfig: read.DistributionConfig,
    }),
  );
}

/** No value in any of `texts` (log lines, error messages and stacks). */
export function expectNoValueIn(texts: readonly string[], values: readonly string[]): void {
  for (const text of texts) for (const value of values) expect(text).not.toContain(value);
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & Record<string, unknown>> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & Record<string, unknown>,
  );
}

/** A rotation log line, parsed. */
export interface RotationEvent {
  readonly step: string;
  readonly event: string;
  readonly [field: string]: unknown;
}

/** What {@link useRotationTestbed} gives a test file. */
export interface RotationTestbed {
  /** The local AWS endpoint (CloudFront deploys at once); valid inside a test. */
  readonly aws: LocalAws;
  /** The current test's rotation log lines (a fresh list for each test). */
  readonly lines: string[];
  /** The current test's log lines, parsed. */
  events(): RotationEvent[];
  /** A handler for `account` with short waits, logging into {@link RotationTestbed.lines}. */
  handlerFor(account: Account, extra?: Partial<RotationOptions>): RotationHandler;
}

/**
 * For a rotation test file: the local AWS endpoint (started before the tests, reset before each,
 * CloudFront deploying at once) and handlers whose log lines each test can read.
 */
export function useRotationTestbed(): RotationTestbed {
  let lines: string[] = [];
  const local = useLocalAws({
    beforeEachTest: (aws) => {
      // Each test's account alone: the setSecret step flags any distribution sending this
      // secret's values, and tests share initial values.
      aws.cloudfront.removeAllDistributions();
      aws.cloudfront.setDeployDelay(0);
      lines = [];
    },
  });
  return {
    get aws() {
      return local.aws;
    },
    get lines() {
      return lines;
    },
    events: () => lines.map((line) => JSON.parse(line) as RotationEvent),
    handlerFor: (account, extra = {}) =>
      rotationHandlerFor(local.aws, account, {
        propagationWaitMs: 0,
        pollIntervalMs: 20,
        deployWaitMs: 2_000,
        log: (line) => lines.push(line),
        ...extra,
      }),
  };
}

/**
 * The ready `handler` export: configured from CDN_ORIGIN_GUARD_ROTATION_* on first use, with
 * its own SDK clients found through the AWS SDK's environment (endpoints, region, credentials),
 * as in Lambda. One full rotation against the local endpoint.
 */
import { handler } from '@cdn-origin-guard/rotation';
import { describe, expect, it } from 'vitest';
import { useLocalAws } from '../../../test/aws/support.js';
import { setEnv } from '../../../test/aws-local/index.js';
import { createAccount, rotate, stageValue } from './support.js';

const local = useLocalAws({ env: true });

describe('handler (configured from the environment)', () => {
  // Outside review, 4 December (fourth session): a bad configuration threw before any promise
  // existed, so a caller's `.catch` never ran. First in this file: the handler keeps the
  // configuration of its first successful call.
  it('rejects its promise on a bad configuration instead of throwing', async () => {
    const restore = setEnv({
      CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS: undefined,
      CDN_ORIGIN_GUARD_ROTATION_RULE_ARNS: undefined,
      CDN_ORIGIN_GUARD_ROTATION_PROPAGATION_WAIT_MS: 'soon',
    });
    try {
      let returned: unknown;
      const call = () => {
        returned = handler(
          { SecretId: 'x', ClientRequestToken: 't', Step: 'createSecret' },
          { getRemainingTimeInMillis: () => 900_000 },
        );
      };

      expect(call).not.toThrow();
      await expect(returned).rejects.toThrow(/option `CDN_ORIGIN_GUARD_ROTATION_/);
    } finally {
      restore();
    }
  });

  it('rotates with the default clients and the environment configuration', async () => {
    const aws = local.aws;
    const account = createAccount(aws, 'initial-origin-verify-0123456789abcdef');
    const lines: string[] = [];
    const restore = setEnv({
      CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS: account.distributionId,
      CDN_ORIGIN_GUARD_ROTATION_RULE_ARNS: account.ruleArn,
      CDN_ORIGIN_GUARD_ROTATION_PROPAGATION_WAIT_MS: '0',
      CDN_ORIGIN_GUARD_ROTATION_POLL_INTERVAL_MS: '20',
    });
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      const token = await rotate(handler, aws, account);

      expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
      const next = stageValue(aws, account, 'AWSCURRENT');
      expect(aws.cloudfront.origins(account.distributionId)[0]?.headers['X-Origin-Verify']).toBe(
        next,
      );
      expect(aws.callCount('elbv2.DescribeLoadBalancers')).toBeGreaterThan(0);
      expect(aws.recentCalls.every((c) => c.accessKeyId === 'test')).toBe(true);
      expect(lines.filter((l) => l.includes('"event":"done"'))).toHaveLength(4);
      for (const line of lines) expect(line).not.toContain(next);
    } finally {
      console.log = log;
      restore();
    }
  });
});

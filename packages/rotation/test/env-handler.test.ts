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

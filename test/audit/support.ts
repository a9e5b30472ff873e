/**
 * Shared set-up of the audit tests: a fresh local AWS endpoint holding one scenario account,
 * a probe target, and the environment that points the SDK at them.
 * @module
 */
import { type LocalAws, setEnv, startLocalAws } from '../aws-local/index.js';
import { type AccountOptions, buildAccount, type Hole, type Scenario } from './scenarios.js';
import { type ProbeTarget, startProbeTarget } from './target.js';

/** A running account. */
export interface Account {
  readonly aws: LocalAws;
  readonly scenario: Scenario;
  readonly target: ProbeTarget;
  /** Environment for a child process (the CLI): the SDK's endpoint and test credentials. */
  readonly env: Record<string, string>;
  /** Every secret value stored, to check none leaks into output. */
  secretValues(): string[];
  close(): Promise<void>;
}

/**
 * Start a local endpoint and a probe target (200 when the direct-reachability hole is open,
 * the ALB's fixed 403 otherwise), build the account, point `process.env` at it.
 */
export async function openAccount(
  holes: readonly Hole[],
  options: Omit<AccountOptions, 'holes' | 'port'> = {},
): Promise<Account> {
  const aws = await startLocalAws();
  const target = await startProbeTarget(holes.includes('direct-reachability') ? 200 : 403);
  const scenario = buildAccount(aws, { ...options, holes, port: target.port });
  const env = {
    ...aws.env(),
    AWS_ENDPOINT_URL: aws.url,
    AWS_EC2_METADATA_DISABLED: 'true',
  } as Record<string, string>;
  const restore = setEnv(env);
  return {
    aws,
    scenario,
    target,
    env,
    secretValues: () =>
      (aws.secrets.get(scenario.secretId)?.versions ?? [])
        .map((v) => v.secretString)
        .filter((v) => v !== ''),
    async close() {
      restore();
      await Promise.all([aws.close(), target.close()]);
    },
  };
}

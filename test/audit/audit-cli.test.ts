/**
 * The `cdn-origin-guard` bin as a child process against scenario accounts on the local AWS
 * endpoint (found through AWS_ENDPOINT_URL): stdout, --json and exit codes.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECK_IDS, HOLES } from './scenarios.js';
import { type Account, openAccount } from './support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CLI = 'packages/audit/src/cli.ts';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the bin (async: the local endpoint lives in this process). */
function cli(args: readonly string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { cwd: root, env: env as NodeJS.ProcessEnv, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let account: Account | undefined;
afterEach(async () => {
  await account?.close();
  account = undefined;
});

const baseEnv = () => ({ ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' });

describe('cdn-origin-guard audit (CLI)', () => {
  it("prints the story's six holes as a table with the fix on each failing line and exits 1", async () => {
    account = await openAccount(HOLES);
    const { scenario } = account;

    const run = await cli(
      [
        'audit',
        '--alb',
        scenario.albName,
        '--secret-id',
        scenario.secretId,
        '--probe',
        '--probe-address',
        '127.0.0.1',
      ],
      { ...baseEnv(), ...account.env },
    );

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain(`cdn-origin-guard audit: ${scenario.albName} (us-east-1): FAIL`);
    expect(run.stdout).toContain('7 fail, 0 warn, 3 pass, 0 skipped');
    expect(run.stdout).toMatch(/FAIL {2}.*allows port \d+ from 0\.0\.0\.0\/0/);
    expect(run.stdout).toMatch(/fix: aws ec2 revoke-security-group-ingress/);
    expect(run.stdout).toMatch(/FAIL {2}.*at or over the ceiling/);
    expect(run.stdout).toMatch(/FAIL {2}.*evaluated before the header check/);
    expect(run.stdout).toMatch(/FAIL {2}.*was served \(200\)/);
    expect(run.stdout).toMatch(
      /FAIL {2}.*allows port 8080 from 0\.0\.0\.0\/0, and targets i-0\w+ \(54\.210\.33\.7\) have a public address/,
    );
    expect(run.stdout).not.toContain('\x1b[');
    for (const value of account.secretValues()) {
      expect(run.stdout).not.toContain(value);
      expect(run.stderr).not.toContain(value);
    }
  });

  it('prints the correct setup as JSON (schemaVersion 1), all PASS, and exits 0', async () => {
    account = await openAccount([]);
    const { scenario } = account;

    const run = await cli(
      [
        'audit',
        '--alb',
        scenario.albArn,
        '--secret-id',
        scenario.secretId,
        '--distribution',
        scenario.distributionId,
        '--probe',
        '--probe-address',
        '127.0.0.1',
        '--json',
      ],
      { ...baseEnv(), ...account.env },
    );

    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json).toMatchObject({
      schemaVersion: 1,
      tool: 'cdn-origin-guard',
      command: 'audit',
      region: 'us-east-1',
      status: 'PASS',
      exitCode: 0,
      summary: { PASS: 10, WARN: 0, FAIL: 0, SKIPPED: 0 },
      loadBalancer: { arn: scenario.albArn, name: scenario.albName, dnsName: scenario.dnsName },
    });
    expect(json.checks.map((c: { id: string }) => c.id)).toEqual(CHECK_IDS);
  });

  it('exits 2 with a clear message when the load balancer does not exist', async () => {
    account = await openAccount([]);

    const run = await cli(['audit', '--alb', 'no-such-alb', '--json'], {
      ...baseEnv(),
      ...account.env,
    });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'no load balancer named no-such-alb in us-east-1: check --alb and --region',
    );
    expect(JSON.parse(run.stdout)).toMatchObject({
      exitCode: 2,
      error: { code: 'ERR_CDN_ORIGIN_GUARD_AUDIT_NOT_FOUND' },
    });
  });

  it('exits 2 with a clear message when there are no credentials', async () => {
    account = await openAccount([]);
    const env: Record<string, string | undefined> = {
      ...baseEnv(),
      ...account.env,
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ])
      delete env[name];

    const run = await cli(['audit', '--alb', account.scenario.albName], env);

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no usable AWS credentials \(CredentialsProviderError\)/);
    expect(account.aws.callCount()).toBe(0);
  });

  it('exits 2 with the usage on a bad command line', async () => {
    const unknown = await cli(['audit', '--alb', 'x', '--fix-everything'], baseEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--fix-everything'");
    expect(unknown.stderr).toContain('Usage: cdn-origin-guard audit');
  });
});

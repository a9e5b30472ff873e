/**
 * The AWS-side packages as an outsider gets them: `@cdn-origin-guard/audit` and
 * `@cdn-origin-guard/rotation` (and the core both depend on) packed with `npm pack`, installed
 * from the tarballs into a scratch project with their own SDK clients, then the audit's
 * `cdn-origin-guard` bin run from `node_modules/.bin`, and the rotation's Lambda `handler` (ESM
 * and CommonJS builds) run through a whole rotation, against the local AWS endpoint (127.0.0.1
 * only; the audit's probe goes to a local stand-in for the ALB).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, rotate, stageValue } from '../../packages/rotation/test/account.js';
import { HOLES } from '../audit/scenarios.js';
import { type Account, openAccount } from '../audit/support.js';
import { setEnv, startLocalAws } from '../aws-local/index.js';
import { NPM_INSTALL, packWorkspaces } from './npm.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let scratch: string;
let app: string;
let bin: string;

beforeAll(() => {
  if (!existsSync(join(root, 'packages', 'audit', 'dist', 'esm', 'cli.js')))
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
  scratch = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-aws-side-pack-'));
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  packWorkspaces(root, ['core', 'audit', 'rotation'], tarballs);
  app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ops', private: true }));
  execFileSync('npm', [...NPM_INSTALL, ...readdirSync(tarballs).map((f) => join(tarballs, f))], {
    cwd: app,
    stdio: 'ignore',
  });
  bin = join(app, 'node_modules', '.bin', 'cdn-origin-guard');
}, 240_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

let account: Account | undefined;
afterEach(async () => {
  await account?.close();
  account = undefined;
});

/** Run the installed bin (async: the local endpoint lives in this process). */
function audit(a: Account): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['audit', '--alb', a.scenario.albName, '--secret-id', a.scenario.secretId];
  return new Promise((resolve) => {
    execFile(
      bin,
      [...args, '--probe', '--probe-address', '127.0.0.1'],
      {
        cwd: join(scratch, 'app'),
        env: { ...process.env, ...a.env, NO_COLOR: '1', FORCE_COLOR: '0' },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the audit bin from the packed tarball', () => {
  it("finds the story's holes, the targets behind the ALB among them, and exits 1", async () => {
    account = await openAccount(HOLES);

    const run = await audit(account);

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/Targets behind the ALB\s+FAIL/);
    expect(run.stdout).toMatch(
      /allows port 8080 from 0\.0\.0\.0\/0, and targets i-0\w+ \(54\.210\.33\.7\) have a public address/,
    );
    for (const value of account.secretValues())
      expect(run.stdout + run.stderr).not.toContain(value);
  }, 90_000);

  it('passes the fixed account and exits 0', async () => {
    account = await openAccount([]);

    const run = await audit(account);

    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/Targets behind the ALB\s+PASS/);
  }, 90_000);
});

type RotationModule = typeof import('@cdn-origin-guard/rotation');

describe('the rotation handler from the packed tarball', () => {
  const installed = () => join(app, 'node_modules', '@cdn-origin-guard', 'rotation');
  const load: Record<'ESM' | 'CommonJS', () => Promise<RotationModule>> = {
    ESM: async () =>
      (await import(
        pathToFileURL(join(installed(), 'dist', 'esm', 'index.js')).href
      )) as RotationModule,
    CommonJS: async () => {
      const require = createRequire(join(app, 'package.json'));
      expect(require.resolve('@cdn-origin-guard/rotation')).toBe(
        join(installed(), 'dist', 'cjs', 'index.js'),
      );
      return require('@cdn-origin-guard/rotation') as RotationModule;
    },
  };

  it.each(['ESM', 'CommonJS'] as const)(
    'the %s build rotates the secret, the ALB rule and the CloudFront header, configured from the environment',
    async (build) => {
      const rotation = await load[build]();
      const aws = await startLocalAws();
      const initial = 'initial-origin-verify-0123456789abcdef';
      const account = createAccount(aws, initial);
      const restore = setEnv({
        ...aws.env(),
        CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS: account.distributionId,
        CDN_ORIGIN_GUARD_ROTATION_RULE_ARNS: account.ruleArn,
        CDN_ORIGIN_GUARD_ROTATION_PROPAGATION_WAIT_MS: '0',
        CDN_ORIGIN_GUARD_ROTATION_POLL_INTERVAL_MS: '20',
      });
      const lines: string[] = [];
      const log = console.log;
      console.log = (line: string) => lines.push(line);
      try {
        const token = await rotate(rotation.handler, aws, account);

        expect(aws.secrets.get(account.secretId)?.stages.AWSCURRENT).toBe(token);
        const next = stageValue(aws, account, 'AWSCURRENT');
        expect(next).not.toBe(initial);
        expect(aws.cloudfront.origins(account.distributionId)[0]?.headers['X-Origin-Verify']).toBe(
          next,
        );
        const forwarded = aws.elbv2.evaluate(account.listenerArn, {
          headers: { 'x-origin-verify': next },
        });
        expect(forwarded.action.Type).toBe('forward');
        expect(lines.filter((l) => l.includes('"event":"done"'))).toHaveLength(4);
        for (const line of lines) expect(line).not.toContain(next);
      } finally {
        console.log = log;
        restore();
        await aws.close();
      }
    },
    60_000,
  );
});

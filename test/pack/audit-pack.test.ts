/**
 * The audit as an outsider gets it: `@cdn-origin-guard/audit` (and the core it depends on) packed
 * with `npm pack`, installed from the tarballs into a scratch project, and its
 * `cdn-origin-guard` bin run from `node_modules/.bin` against scenario accounts on the local AWS
 * endpoint (127.0.0.1 only; the probe goes to a local stand-in for the ALB).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HOLES } from '../audit/scenarios.js';
import { type Account, openAccount } from '../audit/support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let scratch: string;
let bin: string;

beforeAll(() => {
  if (!existsSync(join(root, 'packages', 'audit', 'dist', 'esm', 'cli.js')))
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
  scratch = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-audit-pack-'));
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  execFileSync(
    'npm',
    [
      'pack',
      '--silent',
      '--pack-destination',
      tarballs,
      '--workspace',
      'packages/core',
      '--workspace',
      'packages/audit',
    ],
    { cwd: root, stdio: 'ignore' },
  );
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ops', private: true }));
  execFileSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...readdirSync(tarballs).map((f) => join(tarballs, f)),
    ],
    { cwd: app, stdio: 'ignore' },
  );
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

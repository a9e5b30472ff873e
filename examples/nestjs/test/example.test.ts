import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const builtPackage = fileURLToPath(
  new URL('../../../packages/nestjs/dist/esm/index.js', import.meta.url),
);

const SECRET = 'Ex4mple-Origin-Verify-Value-0123456789abcdef';
const WRONG_SECRET = 'Wr0ng-Origin-Verify-Value-0123456789abcdef';
const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
const THROUGH_CLOUDFRONT = {
  'x-forwarded-for': '198.51.100.23, 130.176.12.34',
  'x-amz-cf-id': CF_ID,
  'x-origin-verify': SECRET,
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Running {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Start `src/main.ts` as a real process with only the given guard environment. */
function run(env: Record<string, string>): Running {
  const parentEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('CDN_ORIGIN_GUARD_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { ...parentEnv, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function listeningUrl(running: Running, timeoutMs = 25_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(running.stdout());
    if (match) return match[1]!;
    if (running.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`example did not start:\n${running.stdout()}\n${running.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the NestJS example app', () => {
  let running: Running;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(builtPackage))
      throw new Error('packages/nestjs is not built; run `node scripts/build.mjs` first.');
    running = run({
      CDN_ORIGIN_GUARD_SECRET: SECRET,
      CDN_ORIGIN_GUARD_RANGES: '130.176.0.0/17,2600:9000:eee::/48',
      PORT: String(await freePort()),
    });
    url = await listeningUrl(running);
  });

  afterAll(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
  });

  it('answers a request through our CloudFront distribution', async () => {
    const res = await fetch(`${url}/`, { headers: THROUGH_CLOUDFRONT });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('denies a direct request with the uniform response', async () => {
    const res = await fetch(`${url}/`);

    expect(res.status).toBe(403);
    expect(await res.text()).toBe('Forbidden');
  });

  it('lets the ALB health check in on /healthz, and nobody forwarded', async () => {
    const alb = await fetch(`${url}/healthz`);
    const forwarded = await fetch(`${url}/healthz`, {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });

    expect(alb.status).toBe(200);
    expect(forwarded.status).toBe(403);
  });

  it('tells the viewer, edge and request id on /whoami', async () => {
    const res = await fetch(`${url}/whoami`, { headers: THROUGH_CLOUDFRONT });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      viewerAddress: '198.51.100.23',
      edgeAddress: '130.176.12.34',
      cfId: CF_ID,
    });
  });

  it('writes one JSON deny line with the reason to stdout, never the secret', async () => {
    const res = await fetch(`${url}/whoami?probe=1`, {
      headers: { ...THROUGH_CLOUDFRONT, 'x-origin-verify': WRONG_SECRET },
    });
    expect(res.status).toBe(403);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const lines = running
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'cdn-origin-guard deny',
        reason: 'invalid-secret',
        path: '/whoami',
        peer: '127.0.0.1',
      }),
    );
    expect(running.stdout()).not.toContain(SECRET);
    expect(running.stdout()).not.toContain(WRONG_SECRET);
  });

  it('closes on SIGTERM and exits 0', async () => {
    running.child.kill('SIGTERM');

    expect(await running.exited).toBe(0);
    expect(running.stdout()).toContain('SIGTERM received');
  });

  it('exits 1 naming the variable when the environment is wrong', async () => {
    const bad = run({
      CDN_ORIGIN_GUARD_SECRET: SECRET,
      CDN_ORIGIN_GUARD_PROXY_HOPS: 'two',
      PORT: String(await freePort()),
    });

    expect(await bad.exited).toBe(1);
    expect(bad.stderr()).toMatch(/CDN_ORIGIN_GUARD_PROXY_HOPS/);
    expect(bad.stderr() + bad.stdout()).not.toContain(SECRET);
  });
});

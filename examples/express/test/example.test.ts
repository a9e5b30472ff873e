import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Started as `npm start --workspace examples/express` would: from its directory, so the
// published package names resolve through node_modules to packages/*/dist.
const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
const BUILT = fileURLToPath(
  new URL('../../../packages/express/dist/esm/index.js', import.meta.url),
);

const SECRET = 'S3cr3t-Origin-Verify-Value-0123456789abcdef';
const OUR_CLOUDFRONT = {
  'x-forwarded-for': '198.51.100.23, 130.176.12.34',
  'x-amz-cf-id': 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
  'x-origin-verify': SECRET,
};
const GUARD_ENV = {
  CDN_ORIGIN_GUARD_SECRET: SECRET,
  CDN_ORIGIN_GUARD_RANGES: '130.176.0.0/17,2600:9000:eee::/48',
};

interface Started {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<number | null>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: EXAMPLE_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    output.stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    output.stderr += s;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output, exited };
}

/** Resolve when `test` passes on the output so far; reject if the process exits first. */
async function waitFor(started: Started, test: () => boolean, ms = 20_000): Promise<void> {
  let gone = false;
  started.exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + ms;
  while (!test()) {
    if (gone || Date.now() > deadline)
      throw new Error(
        `${gone ? 'exited' : 'timed out'} before the expected output.\nstdout: ${started.output.stdout}\nstderr: ${started.output.stderr}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(() => {
  if (!existsSync(BUILT))
    throw new Error('packages are not built: run `node scripts/build.mjs` before these tests');
});

describe('examples/express, started as a process', () => {
  let app: Started;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    app = start({ ...GUARD_ENV, PORT: String(port) });
    await waitFor(app, () => app.output.stdout.includes('listening on http://'));
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(() => {
    if (app.child.exitCode === null) app.child.kill('SIGKILL');
  });

  it('prints the address it listens on, on 127.0.0.1 by default', () => {
    expect(app.output.stdout).toContain(`listening on ${base}`);
  });

  it('answers GET / with 200 {"ok":true} for a request through our CloudFront', async () => {
    const res = await fetch(`${base}/`, { headers: OUR_CLOUDFRONT });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('answers GET /whoami with the viewer, edge and cf-id from the decision', async () => {
    const res = await fetch(`${base}/whoami`, { headers: OUR_CLOUDFRONT });

    expect(await res.json()).toEqual({
      viewerAddress: '198.51.100.23',
      edgeAddress: '130.176.12.34',
      cfId: OUR_CLOUDFRONT['x-amz-cf-id'],
    });
  });

  it('lets the ALB health check GET /healthz through (loopback peer, no X-Forwarded-For)', async () => {
    const res = await fetch(`${base}/healthz`);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('denies a forged X-Forwarded-For with 403 and logs one JSON line: reason, method, path, peer, no secret', async () => {
    const res = await fetch(`${base}/admin?x=1`, {
      headers: { ...OUR_CLOUDFRONT, 'x-forwarded-for': '130.176.12.34, 203.0.113.9' },
    });
    await waitFor(app, () => app.output.stdout.includes('"reason":"edge-not-cloudfront"'));

    expect(res.status).toBe(403);
    expect(await res.text()).toBe('Forbidden');
    const denies = jsonLines(app.output.stdout).filter((l) => l.reason === 'edge-not-cloudfront');
    expect(denies).toEqual([
      expect.objectContaining({
        msg: 'cdn-origin-guard denied request',
        method: 'GET',
        path: '/admin',
        peer: '127.0.0.1',
      }),
    ]);
    expect(app.output.stdout + app.output.stderr).not.toContain(SECRET);
  });

  it('closes gracefully on SIGTERM and exits 0', async () => {
    app.child.kill('SIGTERM');

    expect(await app.exited).toBe(0);
  });
});

describe('examples/express startup failures', () => {
  it('exits non-zero with a message naming a bad variable (CDN_ORIGIN_GUARD_PROXY_HOPS=abc)', async () => {
    const app = start({ ...GUARD_ENV, CDN_ORIGIN_GUARD_PROXY_HOPS: 'abc', PORT: '0' });

    const code = await app.exited;

    expect(code).not.toBe(0);
    expect(app.output.stderr).toContain('CDN_ORIGIN_GUARD_PROXY_HOPS');
    expect(app.output.stdout).not.toContain('listening on');
    expect(app.output.stdout + app.output.stderr).not.toContain(SECRET);
  });

  it('exits 1 with a clear error when the secret source cannot load (Secrets Manager unreachable)', async () => {
    const closedPort = await freePort();
    const app = start({
      CDN_ORIGIN_GUARD_SECRET_ID: 'prod/cloudfront/origin-verify',
      CDN_ORIGIN_GUARD_RANGES: GUARD_ENV.CDN_ORIGIN_GUARD_RANGES,
      CDN_ORIGIN_GUARD_TIMEOUT_MS: '2000',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret-access-key',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${closedPort}`,
      PORT: '0',
    });

    const code = await app.exited;

    expect(code).toBe(1);
    expect(app.output.stderr).toMatch(/could not load .*prod\/cloudfront\/origin-verify/);
    expect(app.output.stdout).not.toContain('listening on');
  });
});

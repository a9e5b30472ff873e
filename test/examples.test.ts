/**
 * The three example apps (examples/express, examples/fastify, examples/nestjs), each started as
 * a real process the way `npm start --workspace examples/<fw>` starts it: `tsx src/main.ts` from
 * the example's own directory, so the published package names resolve through node_modules to
 * packages/<name>/dist (build first: `node scripts/build.mjs`; `npm test` does).
 *
 * The same behaviours run over every framework; only the shape of a deny line differs (Express
 * and Nest print one flat JSON line with `reason`, Fastify logs through pino with the fields
 * under `cdnOriginGuard`). The frameworks run concurrently, each on its own free port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';

/** A deny line, flattened: `msg` and `level` plus the guard's reason, method, path and peer. */
type Deny = Record<string, unknown>;

interface Example {
  readonly name: 'express' | 'fastify' | 'nestjs';
  /** Where `npm start --workspace examples/<name>` runs. */
  readonly dir: string;
  /** The built adapter the example imports; missing means the build has not run. */
  readonly built: string;
  /** The deny lines among the complete lines of `stdout`. */
  readonly denies: (stdout: string) => Deny[];
  /** What every deny line carries besides the guard's fields. */
  readonly denyLog: { readonly msg: string; readonly level: string | number };
  /**
   * Whether the guard sees requests for paths no route matches. Express middleware and the
   * Fastify onRequest hook run before routing; Nest runs guards on matched routes only, so its
   * router answers an unknown path with 404 and there is nothing for the guard to protect.
   */
  readonly guardsUnknownPaths: boolean;
}

const fromRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** The complete JSON lines of `stdout` (a line still being written is left out). */
function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Express and Nest: one flat JSON line per deny, with `reason`. */
const flatDenies = (stdout: string): Deny[] => jsonLines(stdout).filter((l) => 'reason' in l);

/** Fastify: pino lines whose guard fields sit under `cdnOriginGuard`. */
const pinoDenies = (stdout: string): Deny[] =>
  jsonLines(stdout).flatMap((l) =>
    typeof l.cdnOriginGuard === 'object' && l.cdnOriginGuard !== null
      ? [{ ...l, ...(l.cdnOriginGuard as Deny) }]
      : [],
  );

const EXAMPLES: readonly Example[] = [
  {
    name: 'express',
    dir: fromRoot('examples/express'),
    built: fromRoot('packages/express/dist/esm/index.js'),
    denies: flatDenies,
    denyLog: { msg: 'cdn-origin-guard denied request', level: 'warn' },
    guardsUnknownPaths: true,
  },
  {
    name: 'fastify',
    dir: fromRoot('examples/fastify'),
    built: fromRoot('packages/fastify/dist/esm/index.js'),
    denies: pinoDenies,
    denyLog: { msg: 'cdn-origin-guard denied request', level: 30 },
    guardsUnknownPaths: true,
  },
  {
    name: 'nestjs',
    dir: fromRoot('examples/nestjs'),
    built: fromRoot('packages/nestjs/dist/esm/index.js'),
    denies: flatDenies,
    denyLog: { msg: 'cdn-origin-guard deny', level: 'info' },
    guardsUnknownPaths: true,
  },
];

const SECRET = 'S3cr3t-Origin-Verify-Value-0123456789abcdef';
const WRONG_SECRET = 'Wr0ng-Origin-Verify-Value-0123456789abcdef';
const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
const OUR_CLOUDFRONT = {
  'x-forwarded-for': '198.51.100.23, 130.176.12.34',
  'x-amz-cf-id': CF_ID,
  'x-origin-verify': SECRET,
};
const GUARD_ENV = {
  CDN_ORIGIN_GUARD_SECRET: SECRET,
  CDN_ORIGIN_GUARD_RANGES: '130.176.0.0/17,2600:9000:eee::/48',
};

const FORGED = { ...OUR_CLOUDFRONT, 'x-forwarded-for': '130.176.12.34, 203.0.113.9' };
/** Requests every example denies (`unknownPath`: only where the guard sees unrouted paths). */
const DENIED = [
  {
    what: 'a forged X-Forwarded-For',
    url: '/?x=1',
    headers: FORGED,
    reason: 'edge-not-cloudfront',
  },
  {
    what: 'a forged X-Forwarded-For to a path no route matches',
    url: '/admin?x=1',
    headers: FORGED,
    reason: 'edge-not-cloudfront',
    unknownPath: true,
  },
  {
    what: 'a wrong X-Origin-Verify',
    url: '/whoami?probe=1',
    headers: { ...OUR_CLOUDFRONT, 'x-origin-verify': WRONG_SECRET },
    reason: 'invalid-secret',
  },
];

interface Started {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<number | null>;
}

/** Every process started here, so none outlives the suite. */
const children = new Set<ChildProcess>();
/** Ports already handed out, so two concurrent frameworks never get the same one. */
const handedOut = new Set<number>();

async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, 'close');
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Start the example with only PATH, HOME and `env`: nothing leaks in from the test runner. */
function start(example: Example, env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: example.dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
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
async function waitFor(started: Started, test: () => boolean, ms = 55_000): Promise<void> {
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

beforeAll(() => {
  const missing = EXAMPLES.filter((e) => !existsSync(e.built)).map((e) => e.built);
  if (missing.length > 0)
    throw new Error(
      `packages are not built (missing ${missing.join(', ')}): run \`node scripts/build.mjs\` first`,
    );
});

afterAll(async () => {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((child) => once(child, 'exit')));
});

describe.concurrent.each(EXAMPLES.map((e) => [e.name, e] as const))('examples/%s', (_, example) => {
  // One process for the whole block: its tests run in order and SIGTERM ends it last.
  describe.sequential('started as a process', () => {
    let app: Started;
    let base: string;

    beforeAll(async () => {
      const port = await freePort();
      app = start(example, { ...GUARD_ENV, PORT: String(port) });
      await waitFor(app, () => app.output.stdout.includes('listening on http://'));
      base = `http://127.0.0.1:${port}`;
    });

    /**
     * Send a request and wait for its deny line(s): those written since it was sent for its
     * path (a line for an earlier request can still be on its way through the pipe).
     */
    async function denied(url: string, headers: Record<string, string>) {
      const mark = app.output.stdout.length;
      const res = await fetch(`${base}${url}`, { headers });
      const bare = url.split('?', 1)[0];
      const lines = () =>
        example.denies(app.output.stdout.slice(mark)).filter((d) => d.path === bare);
      await waitFor(app, () => lines().length > 0);
      return { res, denies: lines() };
    }

    it('prints the address it listens on: PORT, on 127.0.0.1 by default', ({ expect }) => {
      expect(app.output.stdout).toContain(`listening on ${base}\n`);
    });

    it('answers GET / with 200 {"ok":true} for a request through our CloudFront', async ({
      expect,
    }) => {
      const res = await fetch(`${base}/`, { headers: OUR_CLOUDFRONT });

      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    });

    it('denies a direct request (no CloudFront headers) with the uniform 403 Forbidden', async ({
      expect,
    }) => {
      const res = await fetch(`${base}/`);

      expect(res.status).toBe(403);
      expect(await res.text()).toBe('Forbidden');
    });

    it('answers GET /whoami with the viewer, edge and cf-id from the decision', async ({
      expect,
    }) => {
      const res = await fetch(`${base}/whoami`, { headers: OUR_CLOUDFRONT });

      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        viewerAddress: '198.51.100.23',
        edgeAddress: '130.176.12.34',
        cfId: CF_ID,
      });
    });

    it('lets the ALB health check GET /healthz through (loopback peer, no X-Forwarded-For), and nobody forwarded', async ({
      expect,
    }) => {
      const alb = await fetch(`${base}/healthz`);
      const forwarded = await fetch(`${base}/healthz`, {
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });

      expect(alb.status).toBe(200);
      expect(await alb.json()).toEqual({ ok: true });
      expect(forwarded.status).toBe(403);
      expect(await forwarded.text()).toBe('Forbidden');
    });

    it("denies a bot's target the router cannot decode (/%zz) with the uniform 403, not the router's 400", async ({
      expect,
    }) => {
      const res = await fetch(`${base}/%zz`, { headers: { 'x-forwarded-for': '203.0.113.9' } });

      expect(res.status).toBe(403);
      expect(await res.text()).toBe('Forbidden');
    });

    for (const { what, url, headers, reason } of DENIED.filter(
      (c) => example.guardsUnknownPaths || !c.unknownPath,
    )) {
      const path = url.split('?', 1)[0];

      it(`denies ${what} (${path}) with 403 and logs one deny line: ${reason}, method, path, peer, never a secret`, async ({
        expect,
      }) => {
        const { res, denies } = await denied(url, headers);

        expect(res.status).toBe(403);
        expect(await res.text()).toBe('Forbidden');
        expect(denies).toEqual([
          expect.objectContaining({
            ...example.denyLog,
            reason,
            method: 'GET',
            path,
            peer: '127.0.0.1',
          }),
        ]);
        const all = app.output.stdout + app.output.stderr;
        expect(all).not.toContain(SECRET);
        expect(all).not.toContain(WRONG_SECRET);
      });
    }

    if (!example.guardsUnknownPaths)
      it('leaves a path no route matches (/admin) to the router: 404, as guards run on routes', async ({
        expect,
      }) => {
        const res = await fetch(`${base}/admin?x=1`, { headers: FORGED });

        expect(res.status).toBe(404);
      });

    it('closes gracefully on SIGTERM, saying so, and exits 0', async ({ expect }) => {
      app.child.kill('SIGTERM');

      expect(await app.exited).toBe(0);
      expect(app.output.stdout).toContain('SIGTERM received');
    });
  });

  // Each test starts and waits for its own process, so these run concurrently.
  describe('startup failures', () => {
    it('exits 1 with a message naming a bad variable (CDN_ORIGIN_GUARD_PROXY_HOPS=abc)', async ({
      expect,
    }) => {
      const app = start(example, { ...GUARD_ENV, CDN_ORIGIN_GUARD_PROXY_HOPS: 'abc', PORT: '0' });

      expect(await app.exited).toBe(1);
      expect(app.output.stderr).toContain('CDN_ORIGIN_GUARD_PROXY_HOPS');
      expect(app.output.stdout).not.toContain('listening on');
      expect(app.output.stdout + app.output.stderr).not.toContain(SECRET);
    });

    it('exits 1 with a clear error when the secret source cannot load (Secrets Manager unreachable)', async ({
      expect,
    }) => {
      const closedPort = await freePort();
      const app = start(example, {
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

      expect(await app.exited).toBe(1);
      expect(app.output.stderr).toMatch(/could not load .*prod\/cloudfront\/origin-verify/);
      expect(app.output.stdout).not.toContain('listening on');
    });
  });
});

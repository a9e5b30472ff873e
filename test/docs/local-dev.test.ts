/**
 * The README's "On your own machine" recipe works as written: its `server.mjs` block, run with
 * the environment and answered as its `sh` block says (a bare request denied, one carrying what
 * CloudFront and the ALB would send allowed as `verified`). Outside review, 4 December (seventh
 * session): every snippet before it named `secretId` and `ranges: 'prefix-list'` in code, so
 * the recipe's variables were read by no server a reader had.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### On your own machine'));
/** The first fenced block of `lang` in the section. */
function fenced(lang: string): string {
  for (const m of section.matchAll(/```(\w+)\n([\s\S]*?)```/g))
    if (m[1] === lang) return m[2] ?? '';
  throw new Error(`no \`\`\`${lang} block under "On your own machine"`);
}

const SERVER = fenced('js');
const SHELL = fenced('sh');
/** `NAME=value` pairs before `node server.mjs` in the shell block. */
const ENV = Object.fromEntries(
  [...(/^(.*?)node server\.mjs/m.exec(SHELL)?.[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map((m) => [
    m[1],
    m[2],
  ]),
);
/** Every `-H 'Name: value'` of the shell block's allowed request. */
const HEADERS = Object.fromEntries(
  [...SHELL.matchAll(/-H '([^:]+): ([^']+)'/g)].map((m) => [m[1], m[2]]),
);

const scratch = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-local-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill();
  rmSync(scratch, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `fetch` until the server answers (at most 10 s). */
async function firstAnswer(url: string, init?: RequestInit): Promise<Response> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe("the README's local-development recipe", () => {
  it('names a static secret and ranges, and the headers of an allowed request', () => {
    expect(Object.keys(ENV).sort()).toEqual(['CDN_ORIGIN_GUARD_RANGES', 'CDN_ORIGIN_GUARD_SECRET']);
    expect(Object.keys(HEADERS).sort()).toEqual([
      'X-Amz-Cf-Id',
      'X-Forwarded-For',
      'X-Origin-Verify',
    ]);
  });

  it('runs as written: a bare request is denied, the one the README sends is verified', async () => {
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    writeFileSync(join(scratch, 'server.mjs'), SERVER);
    const port = await freePort();
    const output: string[] = [];
    child = spawn(process.execPath, ['server.mjs'], {
      cwd: scratch,
      env: { ...process.env, ...ENV, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const url = `http://127.0.0.1:${port}/`;

    const bare = await firstAnswer(url);
    const allowed = await fetch(url, { headers: HEADERS });

    expect(bare.status).toBe(403);
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe('hello (verified)');
    expect(output.join('')).toContain('reason=missing-forwarded-for');
    expect(SHELL).toContain('# hello (verified)');
  });
});

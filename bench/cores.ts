/**
 * `npm run bench:cores -- <rev> <rev> ...`: the warm `verify` of several revisions of the core,
 * side by side in one process per Node version, as paired ratios against the first revision.
 * Used for before/after figures of a hot-path change (issues 12 and 14), where the machine's
 * speed drifts by more than the change between two separate runs.
 *
 * Each revision's `packages/core/src` is taken with `git archive` into
 * `bench/.tmp/cores/<rev>/` (`.` means the working tree's `packages/core/src`). A child process
 * per Node binary (this one, plus `BENCH_NODES` or the pinned Node 22 and 24 under `.tools/`)
 * loads every revision, checks that each verifies the section 1 inputs, and times them with the
 * micro harness, order rotating each round; this repeats in `BENCH_CORES_PROCESSES` processes
 * (default 4) with the revisions in a different order each time (JIT decisions differ per
 * process), and the rounds are pooled. Figures: median (p25–p75) per call, and the per-round
 * ratio to the first revision, median (p25–p75).
 *
 * Child mode (internal): `node --import ./bench/lib/register.mjs bench/cores.ts --child dir...`.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchGuardOptions, CLOUDFRONT_LIKE, legitRequest, prng, SEED } from './lib/fixtures.js';
import { compare } from './lib/harness.js';
import { otherNodes, runNodeScript } from './lib/node.js';
import { table } from './lib/report.js';
import { formatNs, summarize } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const POOL = 256;

/** The verifier module of a core source directory, loaded under the bench loader. */
interface VerifierModule {
  createOriginVerifier(options: unknown): {
    verify(input: unknown): { reason: string; allowed: boolean };
  };
}

/** Child: time `verify` of each directory's core; prints `{ dir: perRoundNs[] }` as JSON. */
async function child(dirs: readonly string[]): Promise<void> {
  const rand = prng(SEED + 2);
  const peers = ['10.0.1.23', '10.0.2.187', '10.0.3.74'];
  const inputs = Array.from({ length: POOL }, (_, i) => ({
    headers: legitRequest(rand, CLOUDFRONT_LIKE).headers,
    remoteAddress: peers[i % peers.length],
    method: 'GET',
    path: '/products/42?ref=home',
  }));
  const candidates = [];
  for (const dir of dirs) {
    const mod = (await import(pathToFileURL(join(dir, 'verifier.ts')).href)) as VerifierModule;
    const verifier = mod.createOriginVerifier(benchGuardOptions());
    for (const input of inputs) {
      const reason = verifier.verify(input).reason;
      if (reason !== 'verified') throw new Error(`bench: ${dir} did not verify: ${reason}`);
    }
    candidates.push({
      name: dir,
      fn: (i: number) => verifier.verify(inputs[i & (POOL - 1)]).allowed,
    });
  }
  const rounds = Number(process.env.BENCH_CORES_ROUNDS) || 21;
  const results = compare(candidates, { warmupMs: 300, batchMs: 5, samples: rounds });
  console.log(JSON.stringify(Object.fromEntries(results.map((r) => [r.name, r.samples]))));
}

/** `packages/core/src` of `rev` (or the working tree's for `.`), as a directory. */
function coreSource(rev: string): string {
  if (rev === '.') return join(ROOT, 'packages', 'core', 'src');
  const safe = rev.replace(/[^A-Za-z0-9._-]/g, '_');
  const dir = join(ROOT, 'bench', '.tmp', 'cores', safe);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', rev, 'packages/core/src'], { cwd: ROOT });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  return join(dir, 'packages', 'core', 'src');
}

function quartiles(values: readonly number[]): string {
  const s = summarize(values);
  return `${s.median.toFixed(3)} (${s.p25.toFixed(3)}–${s.p75.toFixed(3)})`;
}

async function main(revs: readonly string[]): Promise<void> {
  if (revs.length < 2)
    throw new Error(
      'usage: npm run bench:cores -- <base rev> <rev> [<rev>...] (`.` = working tree)',
    );
  const dirs = revs.map(coreSource);
  for (const dir of dirs)
    if (!existsSync(join(dir, 'verifier.ts'))) throw new Error(`bench: no verifier.ts in ${dir}`);
  const processes = Number(process.env.BENCH_CORES_PROCESSES) || 4;
  const rows: string[][] = [];
  for (const node of [process.execPath, ...otherNodes()]) {
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    const pooled = dirs.map(() => [] as number[]);
    const ratios = dirs.map(() => [] as number[]);
    for (let p = 0; p < processes; p++) {
      // A different order per process: the first revision loaded is not always the same one.
      const order = dirs.map((_, i) => (i + p) % dirs.length);
      if (p % 2 === 1) order.reverse();
      const out = await runNodeScript(
        fileURLToPath(import.meta.url),
        ['--child', ...order.map((i) => dirs[i]!)],
        [],
        600_000,
        node,
      );
      const samples = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number[]>;
      const base = samples[dirs[0]!]!;
      dirs.forEach((dir, i) => {
        const mine = samples[dir]!;
        pooled[i]!.push(...mine);
        ratios[i]!.push(...mine.map((x, k) => x / base[k]!));
      });
    }
    dirs.forEach((_, i) => {
      const s = summarize(pooled[i]!);
      rows.push([
        version,
        revs[i]!,
        `${formatNs(s.median)} (${formatNs(s.p25)}–${formatNs(s.p75)})`,
        i === 0 ? '1 (base)' : quartiles(ratios[i]!),
      ]);
    });
  }
  console.log(
    table(
      [
        'Node',
        'core revision',
        'verify / call, median (p25–p75)',
        `ratio to ${revs[0]}, per round`,
      ],
      rows,
    ),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') await child(args.slice(1));
  else await main(args);
}

/**
 * Heap after 10^4 warm verifies vs after 10^6, with a full GC before each reading.
 *
 * Needs `--expose-gc`: `node --expose-gc --import ./bench/lib/register.mjs bench/memory.ts [--json]`
 * (or `--import tsx`). `bench/run.ts`
 * starts it as a child process and reads the JSON line it prints with `--json`.
 * @module
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createOriginVerifier } from '../packages/core/src/verifier.js';
import { benchGuardOptions, CLOUDFRONT_LIKE, legitRequest, prng, SEED } from './lib/fixtures.js';
import { runNodeScript } from './lib/node.js';
import { progress, type Section, type Target, verdict } from './lib/report.js';
import { formatInt, formatMb } from './lib/stats.js';

/** What the child prints. */
export interface MemoryResult {
  readonly first: number;
  readonly total: number;
  /** `heapUsed` after `first` verifies and a full GC, in bytes. */
  readonly heapAfterFirst: number;
  /** `heapUsed` after `total` verifies and a full GC, in bytes. */
  readonly heapAfterTotal: number;
  /** Decisions by reason over the run (a mix of allowed and denied). */
  readonly byReason: Readonly<Record<string, number>>;
}

/** Accepted growth of the heap between the two readings. */
export const MEMORY_LIMIT_BYTES = 2 * 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

function settledHeap(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

/** Runs `total` verifies in chunks (yielding to the event loop between chunks, as a server would). */
export async function measureMemory(first = 10_000, total = 1_000_000): Promise<MemoryResult> {
  if (!gc) throw new Error('bench/memory.ts needs node --expose-gc');
  const verifier = createOriginVerifier(benchGuardOptions());
  const rand = prng(SEED + 4);
  // 90 % legitimate, 5 % with a wrong secret, 5 % from an edge that is not CloudFront; peers
  // and viewers vary, so decisions carry many different address strings.
  const inputs = Array.from({ length: 1024 }, (_, i) => {
    const r = legitRequest(rand, CLOUDFRONT_LIKE);
    const headers = { ...r.headers };
    if (i % 20 === 7) headers['x-origin-verify'] = 'not-the-secret-value-0123456789';
    if (i % 20 === 13) headers['x-forwarded-for'] = `${r.viewer}, 192.0.2.${i % 250}`;
    return { headers, remoteAddress: `10.0.${i % 3}.${(i * 7) % 250}`, method: 'GET', path: '/' };
  });
  const chunk = 10_000;
  let done = 0;
  const runUntil = async (n: number) => {
    while (done < n) {
      const end = Math.min(n, done + chunk);
      for (; done < end; done++) verifier.verify(inputs[done & 1023]!);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await runUntil(first);
  const heapAfterFirst = settledHeap();
  await runUntil(total);
  const heapAfterTotal = settledHeap();
  const stats = verifier.stats();
  await verifier.close();
  return {
    first,
    total,
    heapAfterFirst,
    heapAfterTotal,
    byReason: Object.fromEntries(Object.entries(stats.byReason).filter(([, n]) => n > 0)),
  };
}

/** Runs this file in a child with `--expose-gc` and reports the two readings. */
export async function benchMemory(quick: boolean): Promise<Section> {
  const total = quick ? 300_000 : 1_000_000;
  progress(`memory: ${formatInt(total)} verifies in a child process`);
  const out = await runNodeScript(
    fileURLToPath(import.meta.url),
    ['--json', `--total=${total}`],
    ['--expose-gc'],
  );
  const r = JSON.parse(out.trim().split('\n').pop()!) as MemoryResult;
  const delta = r.heapAfterTotal - r.heapAfterFirst;
  const target: Target = {
    goal: `heap after ${r.total === 1_000_000 ? '10^6' : formatInt(r.total)} verifies within ${formatMb(MEMORY_LIMIT_BYTES)} of heap after 10^4`,
    figure: `${formatMb(r.heapAfterFirst)} → ${formatMb(r.heapAfterTotal)} (delta ${delta >= 0 ? '+' : ''}${formatMb(delta)})`,
    pass: delta <= MEMORY_LIMIT_BYTES,
  };
  const md = [
    `One verifier (the benchmark's static configuration) in a child process started with \`--expose-gc\`; ${formatInt(r.total)} \`verify\` calls in chunks of 10,000 with a \`setImmediate\` between chunks; inputs cycle through 1,024 requests (90 % legitimate, 5 % wrong secret, 5 % edge not CloudFront; varied peers, viewers and edges). \`heapUsed\` is read after four \`gc()\` calls.`,
    '',
    `| reading | heapUsed |`,
    `| --- | --- |`,
    `| after ${formatInt(r.first)} verifies | ${formatMb(r.heapAfterFirst)} |`,
    `| after ${formatInt(r.total)} verifies | ${formatMb(r.heapAfterTotal)} |`,
    `| delta | ${delta >= 0 ? '+' : ''}${formatMb(delta)} (${(delta / (r.total - r.first)).toFixed(3)} bytes per verify) |`,
    '',
    `Decisions: ${Object.entries(r.byReason)
      .map(([k, n]) => `${k} ${formatInt(n)}`)
      .join(', ')}.`,
    '',
    `**${verdict(target.pass)}**: ${target.goal}: ${target.figure}.`,
  ].join('\n');
  return { title: '6. Memory', markdown: md, targets: [target] };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const total = Number(process.argv.find((a) => a.startsWith('--total='))?.slice(8)) || 1_000_000;
  const result = await measureMemory(10_000, total);
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
  else {
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
    console.log(
      `heap after ${result.first} verifies: ${mb(result.heapAfterFirst)}; after ${result.total}: ${mb(result.heapAfterTotal)}; delta ${mb(result.heapAfterTotal - result.heapAfterFirst)}`,
    );
    console.log(result.byReason);
  }
}

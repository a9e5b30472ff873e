/**
 * `npm run bench`: runs every benchmark, prints a PASS/MISS summary and writes
 * bench/RESULTS.md (quick and partial runs write bench/.tmp/RESULTS-quick.md instead, so the
 * committed full-run figures are never replaced by development ones).
 *
 * Options: `--quick` or `BENCH_QUICK=1` (a few minutes, for development and before/after
 * comparisons); `--only=micro,memory,http,inject,aws,fleet`; `--update` (with `--only`: replace just
 * those sections, and their target rows, in bench/RESULTS.md, keeping the others);
 * `BENCH_INJECT_ROUNDS` (per process, default 31, quick 21), `BENCH_INJECT_PROCESSES` (default 4,
 * quick 3), `BENCH_INJECT_PER_ROUND` (requests per variant
 * per round, default 512, quick 256), `BENCH_INJECT_WARMUP_MS`, `BENCH_PROFILE_MS` (0: no
 * profile); `BENCH_DURATION` (s per server run, default 5), `BENCH_PAIRS`
 * (rounds per framework, default 6), `BENCH_WARMUP` (s, default 3), `BENCH_CONNECTIONS`
 * (default 50), `BENCH_NOOP=0` (skip the pass-through middleware runs),
 * `BENCH_FRAMEWORKS`
 * (e.g. `express,fastify`), `BENCH_AWS_DURATION` (s, default 30), `BENCH_SAMPLES` (micro
 * rounds, default 31), `BENCH_FLEET_ROUNDS` (paired rotation rounds, default 31, quick 15),
 * `BENCH_FLEET_RTT_MS` (added per Secrets Manager call, default 20), `BENCH_SM_PRICE_PER_10K`
 * (USD, default 0.05), `BENCH_OUT` (output path).
 * All load goes to servers this run starts on 127.0.0.1 and stops.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { awsCallsConfig, benchAwsCalls } from './aws-calls.js';
import { benchFleet, fleetConfig } from './fleet.js';
import { benchHttp, httpConfig } from './http.js';
import { benchInject, injectConfig, injectMethodBullet } from './inject.js';
import { progress, type Section, targetVerdict, textTable } from './lib/report.js';
import { handWrittenSections, mergeResults } from './lib/results-file.js';
import { benchMemory } from './memory.js';
import { microOptions, runMicroChild } from './micro.js';

const PARTS = ['micro', 'memory', 'http', 'inject', 'aws', 'fleet'] as const;
type Part = (typeof PARTS)[number];

function parseArgs() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
  const only = args.find((a) => a.startsWith('--only='));
  const parts = only
    ? (only
        .slice('--only='.length)
        .split(',')
        .filter((p): p is Part => (PARTS as readonly string[]).includes(p)) as Part[])
    : [...PARTS];
  return { quick, parts, partial: only !== undefined, update: args.includes('--update') };
}

const require = createRequire(import.meta.url);

/** Installed versions of the packages the figures depend on. */
function versions(): string {
  const names = [
    'express',
    'fastify',
    '@nestjs/core',
    'autocannon',
    'ip-cidr',
    'proxy-addr',
    'typescript',
  ];
  return names
    .map((name) => {
      try {
        return `${name} ${(require(`${name}/package.json`) as { version: string }).version}`;
      } catch {
        return `${name} (not installed)`;
      }
    })
    .join(', ');
}

function machine(): string[] {
  const list = cpus();
  const byModel = new Map<string, number>();
  for (const c of list) byModel.set(c.model, (byModel.get(c.model) ?? 0) + 1);
  return [
    `- CPU: ${[...byModel].map(([m, n]) => `${n} × ${m}`).join(', ')} (${list.length} logical cores)`,
    `- Memory: ${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    `- OS: ${process.platform} ${process.arch}`,
    `- Node: ${process.version}, V8 ${process.versions.v8}`,
    `- Packages: ${versions()}`,
    `- Load average at start (1/5/15 min): ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')} (other processes share the machine)`,
  ];
}

async function main(): Promise<void> {
  const { quick, parts, partial, update } = parseArgs();
  const started = Date.now();
  const date = new Date();
  const http = httpConfig(quick);
  const aws = awsCallsConfig(quick);
  const micro = microOptions(quick);
  const inject = injectConfig(quick);
  progress(`${quick ? 'quick' : 'full'} run: ${parts.join(', ')}`);

  const sections: Section[] = [];
  if (parts.includes('micro')) sections.push(...(await runMicroChild(quick)));
  if (parts.includes('memory')) sections.push(await benchMemory(quick));
  if (parts.includes('http')) sections.push(await benchHttp(http));
  if (parts.includes('inject')) sections.push(...(await benchInject(inject)));
  if (parts.includes('aws')) sections.push(await benchAwsCalls(aws));
  if (parts.includes('fleet')) sections.push(await benchFleet(fleetConfig(quick)));
  sections.sort((a, b) => a.title.localeCompare(b.title, 'en', { numeric: true }));

  const elapsedS = (Date.now() - started) / 1000;
  const targets = sections.flatMap((s) => s.targets);
  const summaryRows = targets.map((t) => [targetVerdict(t), t.goal, t.figure]);

  const md = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\`${quick ? ' (quick mode: development figures, not for the README)' : ''} on ${date.toISOString()}; the run took ${elapsedS.toFixed(0)} s.`,
    '',
    '## Machine',
    '',
    ...machine(),
    '',
    '## Method',
    '',
    `- Micro-benchmarks run in one process with a small harness (bench/lib/harness.ts): each candidate gets its own compiled batch loop, ${micro.warmupMs} ms of warm-up, a batch size calibrated to about ${micro.batchMs} ms, then ${micro.samples} rounds in which every candidate runs one batch timed with \`process.hrtime.bigint()\` (order rotating each round). Figures are the median and the p25–p75 (or min–max) over rounds, per call; "CPU time" is \`process.cpuUsage()\` over the same batches. Ratios are taken per round, side by side, then summarised.`,
    "- The code measured is packages/*/src, transpiled on load by TypeScript's `transpileModule` with the build's options (bench/lib/register.mjs), i.e. the JavaScript `tsc` emits into dist. Micro-benchmarks, the memory run and every server run in such child processes; tsx (which wraps each closure in a `defineProperty` for `keepNames`) only runs the orchestrator and the load generator.",
    `- Whole-server runs: ${http.pairs} rounds of ${http.durationS} s per server and framework, plain and guarded${http.noop ? ' (and a pass-through middleware)' : ''} alternating; the AWS-call run loads for ${aws.durationS} s.`,
    ...(parts.includes('inject') ? [injectMethodBullet(inject)] : []),
    '- The machine is shared (other processes run during the benchmark), so absolute figures are noisy; the side-by-side ratios are the figures to quote.',
    '',
    '## Targets',
    '',
    '| | target | figure: median (spread) |',
    '| --- | --- | --- |',
    ...summaryRows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown, '']),
  ].join('\n');

  const committed = fileURLToPath(new URL('RESULTS.md', import.meta.url));
  const defaultOut = update
    ? committed
    : fileURLToPath(
        new URL(quick || partial ? '.tmp/RESULTS-quick.md' : 'RESULTS.md', import.meta.url),
      );
  const out = process.env.BENCH_OUT ?? defaultOut;
  mkdirSync(fileURLToPath(new URL('.tmp/', import.meta.url)), { recursive: true });
  if (update) {
    const numbers = sections.map((s) => s.title.split('.')[0]).join(', ');
    const load = loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ');
    const note = `Sections ${numbers} updated: by \`npm run bench -- --only=${parts.join(',')} --update${quick ? ' --quick' : ''}\` on ${date.toISOString()} (${elapsedS.toFixed(0)} s, load average at the end ${load}); the other sections are from the run above.`;
    const methodBullets = parts.includes('inject') ? [injectMethodBullet(inject)] : [];
    writeFileSync(
      out,
      mergeResults(readFileSync(committed, 'utf8'), { sections, note, methodBullets }),
    );
  } else {
    // A full run regenerates every measured section; sections written by hand are kept.
    const kept =
      out === committed && existsSync(committed)
        ? handWrittenSections(readFileSync(committed, 'utf8'))
        : '';
    writeFileSync(out, kept === '' ? md : `${md.trimEnd()}\n\n${kept}`);
  }

  console.log('');
  console.log(textTable(['', 'target', 'figure: median (spread)'], summaryRows));
  console.log('');
  console.log(
    `${targets.filter((t) => t.pass).length}/${targets.length} targets met; ${elapsedS.toFixed(0)} s; wrote ${out}`,
  );
}

await main();

/**
 * `npm run soak`: the long versions of the reliability scenarios in test/reliability, run one
 * after the other against servers started on 127.0.0.1 (the local AWS-protocol endpoint and
 * the Express and Fastify example apps), ending with a summary table. Exits 1 on any violation.
 *
 * Environment:
 * - `SOAK_SECONDS`: total time budget of the time-based parts (default 240). Mixed traffic gets
 *   a quarter of it (60 s by default), rotations and outages a fifth each, timing the rest.
 * - `SOAK_HOSTILE_CORE` (default 100000) and `SOAK_HOSTILE_HTTP` (default 100000, split between
 *   Express and Fastify): hostile-input counts, independent of `SOAK_SECONDS`.
 * - `RELIABILITY_SEED`: replay a run (printed at the start).
 * @module
 */
import { runHostileCore, runHostileHttp } from '../reliability/scenarios/hostile.js';
import { MIX, runMixed } from '../reliability/scenarios/mixed.js';
import { runOutage } from '../reliability/scenarios/outage.js';
import { runRotation } from '../reliability/scenarios/rotation.js';
import { runTiming } from '../reliability/scenarios/timing.js';
import { seedFromEnv } from '../reliability/support/traffic.js';

interface Row {
  readonly section: string;
  readonly figures: string;
  readonly violations: string[];
  readonly seconds: number;
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

const total = envInt('SOAK_SECONDS', 240);
const hostileCore = envInt('SOAK_HOSTILE_CORE', 100_000);
const hostileHttp = envInt('SOAK_HOSTILE_HTTP', 100_000);
const seed = seedFromEnv();
const rows: Row[] = [];
const started = Date.now();
let unhandled = 0;
process.on('unhandledRejection', (reason) => {
  unhandled++;
  console.error('unhandled rejection:', reason);
});
process.on('uncaughtException', (error) => {
  unhandled++;
  console.error('uncaught exception:', error);
});

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : String(n));
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : String(n));
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const log = (s: string) =>
  process.stderr.write(`[soak +${Math.round((Date.now() - started) / 1000)}s] ${s}\n`);

async function section(name: string, fn: () => Promise<Omit<Row, 'section' | 'seconds'>>) {
  log(`${name}...`);
  const t0 = Date.now();
  try {
    const r = await fn();
    rows.push({ section: name, ...r, seconds: (Date.now() - t0) / 1000 });
    log(
      `${name}: ${r.violations.length === 0 ? 'ok' : `${r.violations.length} violation(s)`} - ${r.figures}`,
    );
  } catch (error) {
    rows.push({
      section: name,
      figures: '',
      violations: [`threw: ${(error as Error).stack ?? String(error)}`],
      seconds: (Date.now() - t0) / 1000,
    });
    log(`${name}: threw ${(error as Error).message}`);
  }
}

log(
  `seed=${seed} SOAK_SECONDS=${total} SOAK_HOSTILE_CORE=${hostileCore} SOAK_HOSTILE_HTTP=${hostileHttp}`,
);

await section(`mixed traffic ${Math.max(10, Math.round(total / 4))} s`, async () => {
  const r = await runMixed({ seconds: Math.max(10, Math.round(total / 4)), seed });
  const rt = r.runtime;
  const v: string[] = [];
  if (r.load.violationCount > 0)
    v.push(
      `${r.load.violationCount} wrong decisions, e.g. ${JSON.stringify(r.load.violations.slice(0, 3))}`,
    );
  if (r.load.errors > 0) v.push(`${r.load.errors} requests without an answer`);
  if (r.getSecretValueCalls > r.getSecretValueBound)
    v.push(`GetSecretValue calls ${r.getSecretValueCalls} > bound ${r.getSecretValueBound}`);
  const retained = r.heapAfterGcEndMb - r.heapAfterGcStartMb;
  if (retained > 16) v.push(`heap after full GC grew by ${f1(retained)} MB`);
  const kinds = Object.entries(r.load.byKind)
    .map(([k, c]) => `${k} ${int(c.sent)} (${c.bad} wrong)`)
    .join(', ');
  return {
    violations: v,
    figures:
      `${int(r.load.requests)} requests, ${int((r.load.requests * 1000) / r.load.ms)} req/s; mix ${JSON.stringify(MIX)}; ${kinds}; ` +
      `legit p50/p99/max ${f2(r.load.latency.legit?.p50 ?? Number.NaN)}/${f2(r.load.latency.legit?.p99 ?? Number.NaN)}/${f1(r.load.latency.legit?.max ?? Number.NaN)} ms; ` +
      `heapUsed start/end/max ${f1(rt.heapStartMb)}/${f1(rt.heapEndMb)}/${f1(rt.heapMaxMb)} MB (slope ${f1(rt.heapSlopeMbPerMin)} MB/min); ` +
      `after major GCs (${rt.majorGcs}) ${f1(rt.afterMajorGcFirstMb)} -> ${f1(rt.afterMajorGcLastMb)} MB (slope ${f2(rt.afterMajorGcSlopeMbPerMin)} MB/min); ` +
      `after full GC ${f1(r.heapAfterGcStartMb)} -> ${f1(r.heapAfterGcEndMb)} MB; ` +
      `event-loop delay p50/p99/max ${f2(rt.loopP50Ms)}/${f2(rt.loopP99Ms)}/${f1(rt.loopMaxMs)} ms; ` +
      `GetSecretValue ${r.getSecretValueCalls} (bound ${r.getSecretValueBound})`,
  };
});

const rotations = Math.max(3, Math.round((total * 0.15) / 3.5));
await section(`rotation under load x${rotations}`, async () => {
  const r = await runRotation({ rotations, seed });
  const v: string[] = [];
  if (r.legit.denied > 0) v.push(`${r.legit.denied} legitimate requests denied`);
  if (r.load.errors > 0) v.push(`${r.load.errors} requests without an answer`);
  for (const s of r.steps) {
    if (!s.prevPrevRevoked || s.prevPrevDenied !== s.prevPrevProbes)
      v.push(`rotation ${s.rotation}: value from two rotations ago still accepted`);
    if (s.previousAllowed !== s.previousProbes)
      v.push(`rotation ${s.rotation}: previous value denied`);
    if (s.loadedAfterMs > 1_000 * 1.1 + 2_000)
      v.push(`rotation ${s.rotation}: loaded ${s.loadedAfterMs} ms after the rotation`);
  }
  const loaded = r.steps.map((s) => s.loadedAfterMs);
  return {
    violations: v,
    figures: `${int(r.load.requests)} legit requests, ${int((r.load.requests * 1000) / r.load.ms)} req/s, ${r.legit.denied} denied, p99 ${f2(r.load.latency.legit?.p99 ?? Number.NaN)} ms; ${r.steps.length} rotations, loaded after ${Math.min(...loaded)}-${Math.max(...loaded)} ms, value from two rotations ago denied ${r.steps.reduce((n, s) => n + s.prevPrevDenied, 0)}/${r.steps.reduce((n, s) => n + s.prevPrevProbes, 0)}; forced refreshes ${JSON.stringify(r.forcedRefreshes)}; GetSecretValue ${r.getSecretValueCalls}`,
  };
});

await section('rotation while another distribution sends wrong values (1 %)', async () => {
  const mismatchRefreshMs = 1_000;
  const r = await runRotation({
    rotations: Math.max(3, Math.round(rotations / 2)),
    seed: seed + 1,
    otherDistributionShare: 0.01,
    mismatchRefreshMs,
  });
  const v: string[] = [];
  const late = r.legitDenyDelaysMs.filter((d) => d > mismatchRefreshMs + 1_000);
  // Documented limitation: inside the forced-refresh window a new value is denied until the
  // trailing refresh. A deny after the window is a violation.
  if (late.length > 0)
    v.push(
      `${late.length} legitimate denies more than ${mismatchRefreshMs + 1_000} ms after the switch`,
    );
  if (r.load.errors > 0) v.push(`${r.load.errors} requests without an answer`);
  const other = r.load.byKind['other-distribution'];
  if (other && other.bad > 0) v.push(`${other.bad} requests of the other distribution not denied`);
  return {
    violations: v,
    figures: `${int(r.legit.sent)} legit, ${r.legit.denied} denied (limitation: all within ${f1(Math.max(0, ...r.legitDenyDelaysMs))} ms of a switch, window ${mismatchRefreshMs} ms); ${int(other?.sent ?? 0)} from the other distribution, all denied; forced refreshes ${JSON.stringify(r.forcedRefreshes)}; GetSecretValue ${r.getSecretValueCalls}`,
  };
});

await section('Secrets Manager + EC2 outage under load', async () => {
  const r = await runOutage({
    seed,
    baselineMs: 2_000,
    errorMs: Math.max(2_500, Math.round(total * 0.07 * 1000)),
    hangMs: Math.max(3_500, Math.round(total * 0.09 * 1000)),
    afterMs: 2_000,
  });
  const v: string[] = [];
  if (r.legit.denied > 0) v.push(`${r.legit.denied} legitimate requests denied`);
  if (r.load.errors > 0) v.push(`${r.load.errors} requests without an answer`);
  if (r.unhandledRejections > 0) v.push(`${r.unhandledRejections} unhandled rejections`);
  if (r.maxHanging > 10) v.push(`${r.maxHanging} AWS calls hanging at once`);
  for (const p of r.phases)
    if (p.name !== 'warm-up' && p.p99 >= r.timeoutMs)
      v.push(`${p.name}: p99 ${f1(p.p99)} ms >= timeoutMs ${r.timeoutMs}`);
  if (r.recoveryMs > r.recoveryBoundMs)
    v.push(`recovered after ${r.recoveryMs} ms > ${r.recoveryBoundMs} ms`);
  if (r.forcedDuringRecovery > 0) v.push('recovery needed a forced refresh');
  if (!r.newValueAccepted) v.push('value rotated at recovery not accepted over HTTP');
  return {
    violations: v,
    figures:
      `${int(r.legit.sent)} legit, ${r.legit.denied} denied; ` +
      r.phases
        .map(
          (p) =>
            `${p.name} ${int(p.legit)} req p50/p99/max ${f2(p.p50)}/${f2(p.p99)}/${f1(p.max)} ms`,
        )
        .join('; ') +
      `; hung AWS calls max ${r.maxHanging}; ${r.sourceErrors} failed loads; unhandled rejections ${r.unhandledRejections}; recovery + rotation served after ${r.recoveryMs} ms (bound ${r.recoveryBoundMs} ms, refresh ${r.secretRefreshMs} ms, timeout ${r.timeoutMs} ms); AWS calls ${JSON.stringify(r.awsCalls)}`,
  };
});

await section(`hostile input: ${int(hostileCore)} x verify()`, async () => {
  const r = runHostileCore({ runs: hostileCore, seed });
  const v: string[] = [];
  if (r.counterexample) v.push(`counterexample: ${r.counterexample}`);
  if (r.throws > 0) v.push(`${r.throws} throws`);
  if (r.runs < hostileCore) v.push(`only ${r.runs} runs`);
  return {
    violations: v,
    figures: `${int(r.runs)} cases in ${f1(r.ms / 1000)} s: ${int(r.allowed)} allowed, ${int(r.denied)} denied, ${r.mismatches} disagreements with the oracle, ${r.throws} throws`,
  };
});

for (const [framework, count] of [
  ['express', Math.ceil(hostileHttp / 2)],
  ['fastify', Math.floor(hostileHttp / 2)],
] as const) {
  if (count === 0) continue;
  await section(`hostile input: ${int(count)} raw HTTP requests to ${framework}`, async () => {
    const r = await runHostileHttp({ framework, count, seed });
    const v: string[] = [];
    if (r.serverErrors > 0) v.push(`${r.serverErrors} 5xx`);
    if (r.dropped > 0) v.push(`${r.dropped} clean requests without an answer`);
    if (r.mismatches > 0)
      v.push(`${r.mismatches} disagreements with the oracle: ${r.examples.join(' | ')}`);
    return {
      violations: v,
      figures: `${int(r.requests)} requests in ${f1(r.ms / 1000)} s: ${int(r.allowed)} allowed, ${int(r.denied)} denied (403), ${int(r.parserRejected)} refused by the HTTP parser (400/431), ${int(r.parserDropped)} dropped by it; 5xx ${r.serverErrors}; statuses ${JSON.stringify(r.byStatus)}`,
    };
  });
}

await section('timing of the secret comparison', async () => {
  const batches = Math.max(200, Math.round(total * 4));
  const r = runTiming({ batches, calls: 2000, seed });
  const v: string[] = [];
  const control = r.comparisons.at(-1)!;
  for (const c of r.comparisons.slice(0, -1)) {
    if (c.ratio < 0.8 || c.ratio > 1.25 || c.pairedRatio < 0.9 || c.pairedRatio > 1.1)
      v.push(`${c.name}: ratio ${f2(c.ratio)}, paired ${f2(c.pairedRatio)}`);
    if (c.aucSlowerBy5 > 0.7 || c.aucFasterBy5 > 0.7)
      v.push(`${c.name}: Mann-Whitney (±5 %) ${f2(c.aucSlowerBy5)}/${f2(c.aucFasterBy5)}`);
  }
  if (control.ratio < 1.3 || control.aucSlowerBy5 < 0.8)
    v.push('the control leak was not detected');
  return {
    violations: v,
    figures:
      `${batches} batch pairs x 2000 calls (${Math.round(2000 / 4)} via verify()): ` +
      r.comparisons
        .map(
          (c) =>
            `${c.name}: ${f1(c.medianA)} vs ${f1(c.medianB)} ns, ratio ${c.ratio.toFixed(3)}, paired ${c.pairedRatio.toFixed(3)}, p25 ${c.lowQuartileRatio.toFixed(3)}, MW ${c.auc.toFixed(2)} (±5 %: ${c.aucSlowerBy5.toFixed(2)}/${c.aucFasterBy5.toFixed(2)}), KS ${c.ks.toFixed(2)}`,
        )
        .join('; '),
  };
});

if (unhandled > 0)
  rows.push({
    section: 'process',
    figures: '',
    violations: [`${unhandled} unhandled rejections or exceptions`],
    seconds: 0,
  });

// Summary.
const width = Math.max(...rows.map((r) => r.section.length), 7);
const line = '-'.repeat(width + 24);
const out: string[] = [
  '',
  'SOAK SUMMARY',
  line,
  `${'section'.padEnd(width)}  ${'time'.padStart(7)}  verdict`,
  line,
];
for (const r of rows)
  out.push(
    `${r.section.padEnd(width)}  ${`${f1(r.seconds)}s`.padStart(7)}  ${r.violations.length === 0 ? 'PASS' : `FAIL (${r.violations.length})`}`,
  );
out.push(line, `total ${f1((Date.now() - started) / 1000)} s, seed ${seed}`, '');
for (const r of rows) {
  out.push(`## ${r.section}`, `   ${r.figures}`);
  for (const v of r.violations) out.push(`   VIOLATION: ${v}`);
}
const failed = rows.some((r) => r.violations.length > 0);
out.push('', failed ? 'RESULT: FAIL' : 'RESULT: PASS', '');
process.stdout.write(out.join('\n'));
process.exit(failed ? 1 : 0);

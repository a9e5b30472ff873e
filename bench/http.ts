/**
 * Whole-server overhead: hello-world Express 5, Fastify 5 and NestJS (Express platform) apps,
 * each with and without the guard, each in its own child process on 127.0.0.1, loaded with
 * autocannon from this process in alternating with/without runs of bounded duration.
 *
 * Run alone: `tsx bench/http.ts [--quick]` (BENCH_DURATION, BENCH_PAIRS as for `run.ts`).
 * @module
 */
import { pathToFileURL } from 'node:url';
import { type ChildServer, type LoadResult, loadServer, startChildServer } from './lib/child.js';
import { CLOUDFRONT_LIKE, legitRequest, prng, SEED } from './lib/fixtures.js';
import { progress, type Section, type Target, table, targetVerdict } from './lib/report.js';
import {
  decide,
  formatInt,
  formatPercent,
  medianCI,
  type Summary,
  summarize,
} from './lib/stats.js';
import type { Framework, GuardMode } from './server.js';

/** Run lengths. */
export interface HttpConfig {
  /** Seconds per measured run. */
  readonly durationS: number;
  /** With/without pairs per framework. */
  readonly pairs: number;
  /** Seconds of unmeasured load on each server first. */
  readonly warmupS: number;
  readonly connections: number;
  /** Also run a pass-through middleware (what any middleware costs), in the same rotation. */
  readonly noop: boolean;
}

/** Largest guard overhead accepted, as a fraction of the plain server's req/s. */
export const HTTP_TARGETS: Partial<Record<Framework, number>> = { fastify: 3, express: 2 };

const FRAMEWORKS: readonly { id: Framework; label: string }[] = [
  { id: 'express', label: 'Express 5' },
  { id: 'fastify', label: 'Fastify 5' },
  { id: 'nest', label: 'NestJS 12 (Express platform)' },
];

/** Ten legitimate CloudFront requests (8 IPv4 edges, 2 IPv6 on average), cycled by autocannon. */
function legitRequests() {
  const rand = prng(SEED + 3);
  return Array.from({ length: 10 }, () => {
    const { host: _host, ...headers } = legitRequest(rand, CLOUDFRONT_LIKE).headers;
    return { path: '/', headers };
  });
}

async function expectStatus(
  url: string,
  headers: Record<string, string>,
  status: number,
  label: string,
) {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  if (res.status !== status) throw new Error(`${label}: expected ${status}, got ${res.status}`);
}

/** One measured run: the load result and the server's CPU time per request. */
interface Run extends LoadResult {
  readonly cpuMicrosPerRequest: number;
}

interface FrameworkResult {
  readonly label: string;
  readonly plain: Run[];
  readonly guard: Run[];
  /** Empty when the pass-through variant is not run. */
  readonly noop: Run[];
  readonly verified: number;
  readonly denied: number;
}

async function runFramework(
  id: Framework,
  label: string,
  config: HttpConfig,
): Promise<FrameworkResult> {
  const requests = legitRequests();
  const modes: GuardMode[] = config.noop ? ['plain', 'guard', 'noop'] : ['plain', 'guard'];
  const servers: ChildServer[] = [];
  try {
    const started = await Promise.allSettled(modes.map((m) => startChildServer(id, m)));
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const guard = servers[1]!;
    // The guard must take the full verified path, and must be on.
    for (const r of requests)
      for (const [i, s] of servers.entries())
        await expectStatus(s.url, r.headers, 200, `${label} ${modes[i]}, legitimate request`);
    await expectStatus(guard.url, {}, 403, `${label} guard, direct request`);
    const before = await guard.stats();

    const run = async (s: ChildServer, durationS: number): Promise<Run> => {
      const cpu0 = await s.cpu();
      const r = await loadServer(s.url, {
        durationS,
        connections: config.connections,
        headers: {},
        requests,
      });
      const cpu1 = await s.cpu();
      return { ...r, cpuMicrosPerRequest: (cpu1.user - cpu0.user) / Math.max(1, r.total) };
    };
    progress(`http: ${label} warm-up`);
    for (const s of servers) await run(s, config.warmupS);
    const results: Record<GuardMode, Run[]> = { plain: [], guard: [], noop: [], direct: [] };
    for (let p = 0; p < config.pairs; p++) {
      // Rotate which goes first: plain–guard(–noop), guard(–noop)–plain, ...
      for (let j = 0; j < modes.length; j++) {
        const k = (p + j) % modes.length;
        const mode = modes[k]!;
        const r = await run(servers[k]!, config.durationS);
        if (r.errors > 0 || r.non2xx > 0)
          throw new Error(`${label} ${mode}: ${r.errors} errors, ${r.non2xx} non-2xx responses`);
        results[mode].push(r);
        progress(
          `http: ${label} round ${p + 1}/${config.pairs} ${mode}: ${formatInt(r.rps)} req/s, ${r.cpuMicrosPerRequest.toFixed(1)} µs user CPU/request`,
        );
      }
    }
    const after = await guard.stats();
    return {
      label,
      ...results,
      verified: (after?.byReason.verified ?? 0) - (before?.byReason.verified ?? 0),
      denied: (after?.denied ?? 0) - (before?.denied ?? 0),
    };
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Runs every framework and reports req/s with and without the guard. */
export async function benchHttp(config: HttpConfig): Promise<Section> {
  const rows: string[][] = [];
  const targets: Target[] = [];
  const notes: string[] = [];
  const only = process.env.BENCH_FRAMEWORKS?.split(',');
  for (const { id, label } of FRAMEWORKS) {
    if (only && !only.includes(id)) continue;
    let r: FrameworkResult;
    try {
      r = await runFramework(id, label, config);
    } catch (error) {
      if (id !== 'nest') throw error;
      notes.push(`${label} skipped: ${(error as Error).message}`);
      progress(`http: ${label} skipped: ${(error as Error).message}`);
      continue;
    }
    const plain = summarize(r.plain.map((x) => x.rps));
    const guard = summarize(r.guard.map((x) => x.rps));
    const overhead = summarize(r.plain.map((p, i) => (1 - r.guard[i]!.rps / p.rps) * 100));
    const cpuPlain = summarize(r.plain.map((x) => x.cpuMicrosPerRequest));
    const cpuGuard = summarize(r.guard.map((x) => x.cpuMicrosPerRequest));
    const cpuOverhead = summarize(
      r.plain.map((p, i) => (r.guard[i]!.cpuMicrosPerRequest / p.cpuMicrosPerRequest - 1) * 100),
    );
    const added = summarize(
      r.plain.map((p, i) => r.guard[i]!.cpuMicrosPerRequest - p.cpuMicrosPerRequest),
    );
    const noop = r.noop.length > 0 ? summarize(r.noop.map((x) => x.rps)) : undefined;
    const noopAdded =
      r.noop.length > 0
        ? summarize(r.plain.map((p, i) => r.noop[i]!.cpuMicrosPerRequest - p.cpuMicrosPerRequest))
        : undefined;
    const guardedRequests = r.guard.reduce((sum, x) => sum + x.total, 0);
    const range = (x: Summary) => `${formatPercent(x.min)} to ${formatPercent(x.max)}`;
    rows.push([
      label,
      `${formatInt(plain.median)} (${formatInt(plain.min)}–${formatInt(plain.max)})`,
      `${formatInt(guard.median)} (${formatInt(guard.min)}–${formatInt(guard.max)})`,
      `${formatPercent(overhead.median)} (${range(overhead)})`,
      `${cpuPlain.median.toFixed(1)} / ${cpuGuard.median.toFixed(1)} (${added.median >= 0 ? '+' : ''}${added.median.toFixed(1)})`,
      `${formatPercent(cpuOverhead.median)} (${range(cpuOverhead)})`,
      noop && noopAdded
        ? `${formatInt(noop.median)} req/s; ${noopAdded.median >= 0 ? '+' : ''}${noopAdded.median.toFixed(1)} µs`
        : '',
    ]);
    if (r.denied > 0 || r.verified < guardedRequests)
      notes.push(
        `${label}: ${r.denied} requests denied and ${r.verified} verified of ${guardedRequests} loaded: the guard did not take the verified path for every request.`,
      );
    else
      notes.push(
        `${label}: the guard verified all ${formatInt(r.verified)} requests of the measured and warm-up runs (0 denied).`,
      );
    const limit = HTTP_TARGETS[id];
    if (limit !== undefined) {
      // Judged on the median's confidence interval: with a handful of rounds swinging by tens of
      // per cent it straddles the limit, and the run can say neither pass nor miss.
      const ci = medianCI(r.plain.map((p, i) => (1 - r.guard[i]!.rps / p.rps) * 100));
      const decision = r.denied === 0 ? decide(ci, limit) : 'MISS';
      const interval =
        ci.rank > 0
          ? `95 % CI [${formatPercent(ci.lo)}, ${formatPercent(ci.hi)}]`
          : `no 95 % CI from ${ci.n} rounds`;
      targets.push({
        goal: `guard overhead on ${label} <= ${limit} % of req/s (autocannon)`,
        figure: `${formatPercent(overhead.median)} (${range(overhead)}, ${interval}; ${formatInt(guard.median)} vs ${formatInt(plain.median)} req/s); server user CPU per request ${formatPercent(cpuOverhead.median)} (${range(cpuOverhead)})`,
        pass: decision === 'PASS',
        ...(decision === 'UNDECIDED' ? { undecided: true } : {}),
      });
    }
  }
  const md = [
    `Each app answers \`GET /\` with \`hello world\` on 127.0.0.1, in its own child process; autocannon runs in the parent: ${config.connections} connections, pipelining 1, ${config.durationS} s per run after ${config.warmupS} s of warm-up per server, ${config.pairs} rounds alternating which goes first (plain, guard${config.noop ? ', and a pass-through middleware/hook/guard in the same place ("noop")' : ''}; the order rotates each round). Requests carry the headers of a legitimate CloudFront request (10 cycled: \`X-Forwarded-For\` client, viewer, edge; \`X-Amz-Cf-Id\`; the secret); the socket peer is 127.0.0.1, a trusted proxy. Guard: static secret (2 values), ${CLOUDFRONT_LIKE.all.length} static ranges, trustedProxies loopback + uniquelocal. Overhead = 1 − guard/plain req/s of the runs of one round, then the median over rounds (min to max). The server's own user CPU time per request (\`process.cpuUsage().user\` in the child, read before and after each run, divided by the requests answered) is given too: it measures the work the guard adds, and is much less sensitive than req/s to other processes on a shared machine (system time, mostly the loopback network stack, is left out).`,
    '',
    table(
      [
        'app',
        'plain req/s: median (min–max)',
        'guard req/s: median (min–max)',
        'req/s overhead, paired: median (min to max)',
        'server user CPU µs / request: plain / guard (paired difference)',
        'CPU / request overhead, paired: median (min to max)',
        'pass-through middleware: req/s; added user CPU / request',
      ],
      rows,
    ),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    ...targets.map((t) => `**${targetVerdict(t)}**: ${t.goal}: ${t.figure}.`),
  ].join('\n');
  return { title: '5. Whole server: req/s with and without the guard', markdown: md, targets };
}

/** Durations from the environment, with quick and full defaults. */
export function httpConfig(quick: boolean): HttpConfig {
  return {
    durationS: Number(process.env.BENCH_DURATION) || (quick ? 1 : 5),
    pairs: Number(process.env.BENCH_PAIRS) || (quick ? 2 : 6),
    warmupS: Number(process.env.BENCH_WARMUP) || (quick ? 0.5 : 3),
    connections: Number(process.env.BENCH_CONNECTIONS) || 50,
    noop: process.env.BENCH_NOOP !== '0',
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const s = await benchHttp(httpConfig(quick));
  console.log(`## ${s.title}\n\n${s.markdown}`);
}

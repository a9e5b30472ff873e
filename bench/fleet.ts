/**
 * Cost at fleet scale (issue 12 §4): AWS calls each refresh makes, counted by the local
 * AWS-protocol endpoint (test/aws-local) per action, scaled to a process-day and to fleets of
 * 10 to 10,000 processes per month with the Secrets Manager price as an input; and the
 * rotation pick-up time (first request with a new value to its first `verified`) measured in
 * paired rounds, before and after.
 *
 * "Before" is the per-stage path (one `GetSecretValue` per stage on every load), the only path
 * before this change and now the fallback when `DescribeSecret` is denied; "after" is the
 * source as shipped. Both are the real `secretsManagerSource` over the wire with the real SDK.
 *
 * Run alone: `tsx bench/fleet.ts [--quick]`, or `npm run bench -- --only=fleet [--update]`.
 * @module
 */
import { pathToFileURL } from 'node:url';
import {
  createOriginVerifier,
  ipRangesSource,
  type SecretSource,
  secretsManagerSource,
  type VerifyInput,
} from '../packages/core/src/index.js';
import { type LocalAws, setEnv, startLocalAws } from '../test/aws-local/index.js';
import { progress, type Section, type Target, table, targetVerdict } from './lib/report.js';
import { formatInt, medianCI, summarize } from './lib/stats.js';

/** Inputs of the fleet section. */
export interface FleetConfig {
  /** Paired rotation rounds (each mode once per round, in alternating order). */
  readonly rounds: number;
  /** Scheduled loads counted per mode. */
  readonly loads: number;
  /** Latency the local endpoint adds to every Secrets Manager call (a stand-in for AWS's round trip). */
  readonly rttMs: number;
  /** USD per 10,000 Secrets Manager API calls (an input, see the section text). */
  readonly pricePer10k: number;
}

/** The guard's defaults the per-day figures scale with. */
const SECRET_REFRESH_MS = 300_000;
const RANGES_REFRESH_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** `mismatchRefreshMs`: its floor, so each round's first request forces a refresh at once. */
const MISMATCH_WINDOW_MS = 1_000;
const MONTH_DAYS = 30;
const FLEETS = [10, 100, 1_000, 10_000] as const;

const GET = 'secretsmanager.GetSecretValue';
const DESCRIBE = 'secretsmanager.DescribeSecret';
const SECRET_ID = 'bench/fleet/origin-verify';
const EDGE = '3.10.17.130';

type Mode = 'before' | 'after' | 'describe-first';

/**
 * The shipped source, seen through a mode: `before` reads every stage on every load (the old
 * behaviour, the fallback path), `describe-first` asks DescribeSecret first even on a forced
 * load (what a forced load would cost without the direct read), `after` is the source as is.
 */
function sourceFor(mode: Mode, local: LocalAws): SecretSource {
  const inner = secretsManagerSource({ secretId: SECRET_ID, endpoint: local.url });
  if (mode === 'after') return inner;
  const forced = mode === 'before';
  return {
    name: inner.name,
    load: (signal) => inner.load(signal, { forced }),
    close: () => inner.close?.(),
  };
}

/** Calls by action made by `act`. */
async function callsOf(local: LocalAws, act: () => Promise<unknown>): Promise<Map<string, number>> {
  local.resetCalls();
  await act();
  return new Map([
    [GET, local.callCount(GET)],
    [DESCRIBE, local.callCount(DESCRIBE)],
  ]);
}

interface SecretCalls {
  /** Calls per scheduled load where nothing changed, by action. */
  readonly steady: Map<string, number>;
  /** Calls of the loads through one rotation (pending staged, then promoted), by action. */
  readonly rotation: Map<string, number>;
}

/** Count what `config.loads` unchanged loads and one rotation cost in one mode. */
async function countSecretCalls(
  mode: Mode,
  local: LocalAws,
  config: FleetConfig,
): Promise<SecretCalls> {
  const source = sourceFor(mode, local);
  const load = () => source.load(new AbortController().signal);
  try {
    await load();
    const total = await callsOf(local, async () => {
      for (let i = 0; i < config.loads; i++) await load();
    });
    const steady = new Map([...total].map(([k, v]) => [k, v / config.loads]));
    const rotation = await callsOf(local, async () => {
      local.secrets.stagePending(SECRET_ID, `bench-fleet-pending-${mode}-${Date.now()}-x`);
      await load();
      local.secrets.promote(SECRET_ID);
      await load();
    });
    return { steady, rotation };
  } finally {
    await source.close?.();
  }
}

/** A request through CloudFront (a seeded origin-facing address) and an ALB. */
function request(secret: string): VerifyInput {
  return {
    remoteAddress: '10.0.1.15',
    method: 'GET',
    path: '/',
    headers: {
      'x-forwarded-for': `198.51.100.23, ${EDGE}`,
      'x-amz-cf-id': 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
      'x-origin-verify': secret,
    },
  };
}

/**
 * Rotation pick-up time per mode: each round puts a new AWSCURRENT on the endpoint, then sends
 * the first request carrying it and times `check()` until it answers `verified`.
 */
async function pickUpTimes(
  local: LocalAws,
  config: FleetConfig,
  modes: readonly Mode[],
): Promise<Map<Mode, number[]>> {
  const verifiers = new Map(
    modes.map((mode) => [
      mode,
      createOriginVerifier({
        secret: sourceFor(mode, local),
        ranges: ['3.10.17.128/25'],
        mismatchRefreshMs: MISMATCH_WINDOW_MS,
        secretRefreshMs: DAY_MS,
      }),
    ]),
  );
  const times = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  try {
    for (const v of verifiers.values()) await v.ready();
    for (let round = 0; round < config.rounds; round++) {
      // Each verifier forces one refresh a round: a round starts a window after the last.
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, MISMATCH_WINDOW_MS + 50));
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const value = `bench-fleet-rotated-${mode}-${round}-${Date.now()}`;
        local.secrets.put(SECRET_ID, value);
        const start = performance.now();
        const decision = await verifiers.get(mode)?.check(request(value));
        const ms = performance.now() - start;
        if (decision?.reason !== 'verified')
          throw new Error(`fleet bench: ${mode} round ${round}: ${decision?.reason}`);
        times.get(mode)?.push(ms);
      }
    }
    return times;
  } finally {
    await Promise.all([...verifiers.values()].map((v) => v.close()));
  }
}

/** ip-ranges: one refresh of an unchanged document, status and body bytes, before (no ETag) and after. */
async function ipRangesRefresh(local: LocalAws): Promise<{ bytes200: number; bytes304: number }> {
  let bytes200 = 0;
  let bytes304 = -1;
  const source = ipRangesSource({
    url: local.ipRangesUrl,
    allowInsecureUrl: true,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      const body = await response.clone().arrayBuffer();
      if (response.status === 200) bytes200 = body.byteLength;
      if (response.status === 304) bytes304 = body.byteLength;
      return response;
    },
  });
  await source.load(new AbortController().signal);
  await source.load(new AbortController().signal);
  return { bytes200, bytes304 };
}

const usd = (n: number): string => `$${n < 1_000 ? n.toFixed(2) : formatInt(Math.round(n))}`;
const ms = (n: number): string => `${n.toFixed(1)} ms`;
const spread = (values: readonly number[]): string => {
  const s = summarize(values);
  return `${ms(s.median)} (${ms(s.p25)}–${ms(s.p75)})`;
};

/** The fleet-cost section. */
export async function benchFleet(config: FleetConfig): Promise<Section> {
  progress(
    `fleet: calls per refresh and rotation pick-up (${config.rounds} paired rounds, ${config.rttMs} ms added per Secrets Manager call)`,
  );
  const local = await startLocalAws();
  // Region and credentials for the SDK's default chain (the endpoint is passed to each source).
  const restoreEnv = setEnv(local.env());
  try {
    local.secrets.put(SECRET_ID, 'bench-fleet-initial-value-previous');
    local.secrets.put(SECRET_ID, 'bench-fleet-initial-value-current');
    local.faults.set({ latencyMs: config.rttMs, actions: ['secretsmanager'] });
    const before = await countSecretCalls('before', local, config);
    const after = await countSecretCalls('after', local, config);
    const modes: Mode[] = ['before', 'after', 'describe-first'];
    const times = await pickUpTimes(local, config, modes);
    local.faults.clear();
    const ipRanges = await ipRangesRefresh(local);

    const refreshesPerDay = DAY_MS / SECRET_REFRESH_MS;
    const rangesPerDay = DAY_MS / RANGES_REFRESH_MS;
    const perLoad = (c: SecretCalls) => (c.steady.get(GET) ?? 0) + (c.steady.get(DESCRIBE) ?? 0);
    const perDay = (c: SecretCalls) => perLoad(c) * refreshesPerDay;
    const dayBefore = perDay(before);
    const dayAfter = perDay(after);
    const monthly = (perProcessDay: number, n: number) => perProcessDay * MONTH_DAYS * n;
    const cost = (calls: number) => (calls / 10_000) * config.pricePer10k;
    const callsCell = (c: Map<string, number>) =>
      `${formatInt(c.get(DESCRIBE) ?? 0)} DescribeSecret + ${formatInt(c.get(GET) ?? 0)} GetSecretValue`;

    const pickBefore = times.get('before') ?? [];
    const pickAfter = times.get('after') ?? [];
    const pickDescribe = times.get('describe-first') ?? [];
    const diff = pickAfter.map((t, i) => t - (pickBefore[i] ?? Number.NaN));
    const diffCi = medianCI(diff);
    const diffDescribe = pickDescribe.map((t, i) => t - (pickBefore[i] ?? Number.NaN));
    const describeCi = medianCI(diffDescribe);
    // Not worse: the paired difference's CI stays below half a round trip (one more sequential
    // call, as describe-first shows, adds a whole one); straddling it is undecided.
    const bound = config.rttMs / 2;

    const targets: Target[] = [
      {
        goal: 'Secrets Manager steady state: one call per refresh (was one per stage)',
        figure: `${perLoad(after).toFixed(2)} calls per unchanged refresh (${callsCell(after.steady)}), was ${perLoad(before).toFixed(2)}; ${formatInt(monthly(dayAfter, 1_000))} vs ${formatInt(monthly(dayBefore, 1_000))} calls a month at 1,000 processes`,
        pass: perLoad(after) === 1 && (after.steady.get(GET) ?? 0) === 0,
      },
      {
        goal: 'rotation pick-up time (first request with the new value to verified) not worse',
        figure: `after − before ${ms(diffCi.median)} [${ms(diffCi.lo)}, ${ms(diffCi.hi)}] (median [95 % CI] of ${diff.length} paired rounds, judged against half a round trip, ${ms(bound)}; before ${spread(pickBefore)}, after ${spread(pickAfter)}; ${config.rttMs} ms per call)`,
        pass: diffCi.hi < bound,
        undecided: diffCi.lo < bound && diffCi.hi >= bound,
      },
    ];

    const md = [
      `The real \`secretsManagerSource\` and AWS SDK v3 client against the local AWS-protocol endpoint (test/aws-local), whose per-action counters count the calls. **Before** is the per-stage path (one \`GetSecretValue\` per stage on every load: the only path before this change, and now the fallback when \`DescribeSecret\` is denied); **after** is the source as shipped (scheduled refreshes: \`DescribeSecret\`, then \`GetSecretValue\` only for versions it has not read; first and forced loads: every stage at once). Default stages (AWSCURRENT, AWSPREVIOUS, AWSPENDING), the secret has AWSCURRENT and AWSPREVIOUS.`,
      '',
      '**Inputs** (assumptions, not measurements):',
      '',
      `- Price: **$${config.pricePer10k.toFixed(2)} per 10,000 Secrets Manager API calls** (AWS's published price for Secrets Manager API calls; \`DescribeSecret\` and \`GetSecretValue\` are billed alike; no free tier counted; not re-checked against the live pricing page: this machine has no internet). Set \`BENCH_SM_PRICE_PER_10K\` to recompute.`,
      `- The guard's defaults: \`secretRefreshMs\` ${formatInt(SECRET_REFRESH_MS)} (${refreshesPerDay} refreshes a day), \`rangesRefreshMs\` ${formatInt(RANGES_REFRESH_MS)} (${rangesPerDay} a day); a month is ${MONTH_DAYS} days; one long-lived process (each start adds one first load: 3 \`GetSecretValue\`).`,
      '- Forced (mismatch) refreshes are left out: they are rate-limited by `mismatchRefreshMs` and only a request that passed every other check can force one; each costs 3 `GetSecretValue`, before and after.',
      '',
      `**Calls per refresh** (measured: ${config.loads} unchanged scheduled loads per mode, then one rotation: AWSPENDING staged, load, promoted, load):`,
      '',
      table(
        ['', 'before', 'after'],
        [
          ['unchanged refresh', callsCell(before.steady), callsCell(after.steady)],
          ['through one rotation (2 loads)', callsCell(before.rotation), callsCell(after.rotation)],
          ['Secrets Manager calls per process per day', formatInt(dayBefore), formatInt(dayAfter)],
          [
            'ip-ranges: first load, then a refresh of the unchanged document',
            `200 with ${formatInt(ipRanges.bytes200)} bytes of body (local document; AWS's file is larger), then ${ipRanges.bytes304 < 0 ? 'no 304' : `304 Not Modified, ${formatInt(ipRanges.bytes304)} bytes`} (\`If-None-Match\`, already sent before this change; counts as a successful refresh)`,
            'same',
          ],
          [
            'prefix-list refresh, Version unchanged',
            '1 DescribeManagedPrefixLists, no GetManagedPrefixListEntries (entries skipped by Version, already before this change)',
            'same',
          ],
        ],
      ),
      '',
      `**Secrets Manager calls and cost per month** (${MONTH_DAYS} days, $${config.pricePer10k.toFixed(2)} per 10,000 calls; ip-ranges and EC2 prefix-list reads are not billed per call):`,
      '',
      table(
        ['processes', 'calls before', 'calls after', 'cost before', 'cost after', 'saved'],
        FLEETS.map((n) => {
          const b = monthly(dayBefore, n);
          const a = monthly(dayAfter, n);
          return [
            formatInt(n),
            formatInt(b),
            formatInt(a),
            usd(cost(b)),
            usd(cost(a)),
            usd(cost(b - a)),
          ];
        }),
      ),
      '',
      `**Rotation pick-up time**: the endpoint adds ${config.rttMs} ms to every Secrets Manager call (a stand-in for the round trip to AWS); each round puts a new AWSCURRENT, then times \`check()\` of the first request carrying it until it answers \`verified\` (a mismatch forces a refresh; \`mismatchRefreshMs\` ${MISMATCH_WINDOW_MS} ms, its floor, and one round a window). ${config.rounds} rounds, the modes in alternating order; paired differences per round, median with its 95 % CI. "describe-first" is what a forced load would cost if it asked \`DescribeSecret\` first (not shipped: the reason forced loads read every stage directly).`,
      '',
      table(
        ['mode', 'pick-up time: median (p25–p75)', 'minus before: median [95 % CI]'],
        [
          ['before (per-stage)', spread(pickBefore), '—'],
          [
            'after (as shipped)',
            spread(pickAfter),
            `${ms(diffCi.median)} [${ms(diffCi.lo)}, ${ms(diffCi.hi)}]`,
          ],
          [
            'describe-first (not shipped)',
            spread(pickDescribe),
            `${ms(describeCi.median)} [${ms(describeCi.lo)}, ${ms(describeCi.hi)}]`,
          ],
        ],
      ),
      '',
      'What changed: scheduled Secrets Manager refreshes ask `DescribeSecret` (its `VersionIdsToStages`) and read only versions not read before, by `VersionId`; first and forced loads still read every stage at once, so the pick-up time stays one round trip; `DescribeSecret` denied falls back to the per-stage reads, reported once through `onSourceError` (IAM: add `secretsmanager:DescribeSecret`); ip-ranges 304s counted by the local endpoint. A rotation pick-up that waits for a scheduled refresh (no request with the new value yet) is bounded by `secretRefreshMs`, as before.',
      '',
      targets.map((t) => `**${targetVerdict(t)}**: ${t.goal}: ${t.figure}.`).join('\n\n'),
    ].join('\n');
    return {
      title: '11. Cost at fleet scale: AWS calls per refresh and per month',
      markdown: md,
      targets,
    };
  } finally {
    restoreEnv();
    await local.close();
  }
}

/** Rounds and inputs from the environment, with quick and full defaults. */
export function fleetConfig(quick: boolean): FleetConfig {
  return {
    rounds: Number(process.env.BENCH_FLEET_ROUNDS) || (quick ? 15 : 31),
    loads: quick ? 10 : 20,
    rttMs: Number(process.env.BENCH_FLEET_RTT_MS) || 20,
    pricePer10k: Number(process.env.BENCH_SM_PRICE_PER_10K) || 0.05,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const s = await benchFleet(fleetConfig(quick));
  console.log(`## ${s.title}\n\n${s.markdown}`);
}

/**
 * Outages under load. The Express and Fastify example apps read the secret from Secrets
 * Manager and the ranges from the EC2 managed prefix list, both on the local endpoint. While
 * our CloudFront's traffic flows, Secrets Manager and EC2 go down: first answering server
 * errors, then hanging (never answering, for longer than `timeoutMs`). Then they come back and
 * the secret rotates at once.
 *
 * Measured: legitimate denies (must be 0: last-known-good values), latency of guarded requests
 * (no request may wait on a source), the endpoint's count of hung calls (no pile-up of pending
 * AWS calls), unhandled rejections in the process, and the time from recovery until both guards
 * have loaded the rotated secret without any request forcing it.
 * @module
 */
import { setEnv, startLocalAws } from '../../aws-local/index.js';
import { type RunningApp, startExpress, startFastify } from '../support/apps.js';
import { type LoadResult, sleep, startLoad, waitUntil } from '../support/load.js';
import { RawConnection } from '../support/raw-http.js';
import { Latencies } from '../support/stats.js';
import {
  cloudFrontHeaders,
  newSecret,
  prng,
  requestOfKind,
  serialize,
} from '../support/traffic.js';

export interface OutageOptions {
  readonly seed: number;
  readonly baselineMs?: number;
  readonly errorMs?: number;
  readonly hangMs?: number;
  readonly afterMs?: number;
  readonly concurrencyPerApp?: number;
  /** Share of requests from another distribution (they may force a refresh). Defaults to 0.02. */
  readonly otherDistributionShare?: number;
  readonly secretRefreshMs?: number;
  readonly timeoutMs?: number;
}

export interface OutageResult {
  readonly load: LoadResult;
  readonly legit: { sent: number; denied: number };
  /** Legitimate requests per phase: count, denies, latency in ms. */
  readonly phases: readonly {
    name: string;
    legit: number;
    denied: number;
    p50: number;
    p99: number;
    max: number;
  }[];
  readonly maxHanging: number;
  readonly hangingAtEnd: number;
  readonly unhandledRejections: number;
  readonly sourceErrors: number;
  /** ms from the endpoint's recovery (and rotation) until both guards served the new value. */
  readonly recoveryMs: number;
  readonly recoveryBoundMs: number;
  readonly newValueAccepted: boolean;
  /** Forced refreshes during recovery (must be 0: the scheduled refresh recovers by itself). */
  readonly forcedDuringRecovery: number;
  readonly awsCalls: Readonly<Record<string, number>>;
  readonly secretRefreshMs: number;
  readonly timeoutMs: number;
  readonly ms: number;
}

export async function runOutage(options: OutageOptions): Promise<OutageResult> {
  const started = Date.now();
  const secretRefreshMs = options.secretRefreshMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 400;
  let sourceErrors = 0;
  const guard = {
    secretRefreshMs,
    rangesRefreshMs: secretRefreshMs,
    timeoutMs,
    mismatchRefreshMs: 1_000,
    // The first AWS call also loads the SDK's credential chain, which can take longer than a
    // short `timeoutMs` on a busy machine: start anyway and wait for the sources below.
    failOnStartupError: false,
    onSourceError: () => {
      sourceErrors++;
    },
  };
  let unhandled = 0;
  const onUnhandled = () => {
    unhandled++;
  };
  process.on('unhandledRejection', onUnhandled);
  const aws = await startLocalAws();
  const restoreEnv = setEnv(aws.env());
  const id = 'prod/cloudfront/origin-verify';
  const v0 = newSecret('v0');
  const v1 = newSecret('v1');
  aws.secrets.put(id, v0);
  aws.secrets.put(id, v1);
  // Both CloudFront prefix lists (our edges are IPv4 and IPv6).
  const env = {
    CDN_ORIGIN_GUARD_SECRET_ID: id,
    CDN_ORIGIN_GUARD_RANGES: 'prefix-list',
    CDN_ORIGIN_GUARD_IPV6: 'true',
  };
  const apps: RunningApp[] = [];
  let phase = 'warm-up';
  const phaseStats = new Map<string, { legit: number; denied: number; latencies: Latencies }>();
  const newPhase = (name: string) => {
    phaseStats.set(name, { legit: 0, denied: 0, latencies: new Latencies(100_000) });
    phase = name;
  };
  let maxHanging = 0;
  const hangWatch = setInterval(() => {
    maxHanging = Math.max(maxHanging, aws.faults.hanging);
  }, 20);
  try {
    apps.push(
      await startExpress({ env, guard, waitReady: false }),
      await startFastify({ env, guard }),
    );
    if (!(await waitUntil(() => apps.every((a) => a.verifier.isReady), 15_000)))
      throw new Error('the guards did not load their sources from the local endpoint');
    const startupErrors = sourceErrors;
    let share = options.otherDistributionShare ?? 0.02;
    const load = startLoad({
      targets: apps,
      concurrencyPerTarget: options.concurrencyPerApp ?? 6,
      seed: options.seed,
      maxRequests: 50_000_000,
      maxMs: 600_000,
      plan: (rand) =>
        rand() < share
          ? {
              kind: 'other-distribution',
              request: requestOfKind(rand, 'other-distribution', v1),
              expect: 403,
            }
          : {
              kind: 'legit',
              request: { method: 'GET', path: '/whoami', headers: cloudFrontHeaders(rand, v1) },
              expect: 200,
            },
      onResponse: (planned, status, ms) => {
        if (planned.kind !== 'legit') return;
        const p = phaseStats.get(phase);
        if (!p) return;
        p.legit++;
        if (status !== 200) p.denied++;
        p.latencies.add(ms);
      },
    });
    const faulted = ['secretsmanager', 'ec2'];
    // JIT and connection warm-up, reported but not part of the baseline.
    newPhase('warm-up');
    await sleep(700);
    newPhase('baseline');
    await sleep(options.baselineMs ?? 1_000);
    newPhase('errors');
    aws.faults.set({ outage: 'error', actions: faulted });
    await sleep(options.errorMs ?? 2_500);
    newPhase('hang');
    aws.faults.set({ outage: 'hang', actions: faulted });
    const hangMs = options.hangMs ?? 3_500;
    await sleep(Math.max(0, hangMs - 1_200));
    // Only our CloudFront from here on, so that no forced (or trailing) refresh is pending when
    // the endpoint returns: recovery must come from the scheduled refresh alone.
    share = 0;
    await sleep(Math.min(hangMs, 1_200));
    const hangingAtEnd = aws.faults.hanging;
    newPhase('recovery');
    const forcedBefore = apps.map((a) => a.verifier.stats().sources.secret.forcedRefreshes);
    // The endpoint returns and the secret rotates at the same moment.
    aws.faults.clear();
    const v2 = newSecret('v2');
    aws.secrets.put(id, v2);
    const recoveredAt = Date.now();
    const probeRand = prng(options.seed ^ 0x1234567);
    const verifyV2 = (a: RunningApp) =>
      a.verifier.verify({
        headers: Object.fromEntries(cloudFrontHeaders(probeRand, v2)),
        remoteAddress: '127.0.0.1',
        path: '/',
      }).allowed;
    // One refresh (with its jitter), the load itself, and a margin for a busy 2-core machine.
    const recoveryBoundMs = secretRefreshMs * 1.1 + timeoutMs + 1_000;
    const recovered = await waitUntil(() => apps.every(verifyV2), recoveryBoundMs + 5_000, 10);
    const recoveryMs = recovered ? Date.now() - recoveredAt : Number.POSITIVE_INFINITY;
    const forcedDuringRecovery = apps.reduce(
      (n, a, i) => n + a.verifier.stats().sources.secret.forcedRefreshes - forcedBefore[i]!,
      0,
    );
    let newValueAccepted = true;
    for (const app of apps) {
      const c = new RawConnection(app.port);
      const res = await c.request(
        serialize({ method: 'GET', path: '/whoami', headers: cloudFrontHeaders(probeRand, v2) }),
      );
      c.close();
      if (res.status !== 200) newValueAccepted = false;
    }
    await sleep(options.afterMs ?? 500);
    const result = await load.stop();
    const legit = result.byKind.legit ?? { sent: 0, ok: 0, bad: 0 };
    const phases = [...phaseStats.entries()].map(([name, p]) => {
      const l = p.latencies.summary();
      return { name, legit: p.legit, denied: p.denied, p50: l.p50, p99: l.p99, max: l.max };
    });
    return {
      load: result,
      legit: { sent: legit.sent, denied: legit.bad },
      phases,
      maxHanging,
      hangingAtEnd,
      unhandledRejections: unhandled,
      sourceErrors: sourceErrors - startupErrors,
      recoveryMs,
      recoveryBoundMs,
      newValueAccepted,
      forcedDuringRecovery,
      awsCalls: aws.calls,
      secretRefreshMs,
      timeoutMs,
      ms: Date.now() - started,
    };
  } finally {
    clearInterval(hangWatch);
    aws.faults.clear();
    await Promise.allSettled(apps.map((a) => a.close()));
    restoreEnv();
    await aws.close();
    // Let late rejections surface before the listener goes.
    await sleep(50);
    process.off('unhandledRejection', onUnhandled);
  }
}

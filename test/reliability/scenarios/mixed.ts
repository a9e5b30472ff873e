/**
 * Mixed traffic at full speed: the Express and Fastify example apps (secret from the local
 * Secrets Manager endpoint with default refresh settings; ranges from its ip-ranges document
 * and its EC2 prefix lists) take legitimate CloudFront requests, bots, someone else's
 * distribution, forged X-Forwarded-For and ALB health checks in known proportions. Every
 * response is compared with the status its kind must get. Heap and event-loop delay are
 * sampled every second; the heap is also read after a full GC at the start and the end.
 * @module
 */
import { setEnv, startLocalAws } from '../../aws-local/index.js';
import { type RunningApp, startExpress, startFastify } from '../support/apps.js';
import { type LoadResult, startLoad } from '../support/load.js';
import { collectGarbage, RuntimeMonitor, type RuntimeSummary } from '../support/stats.js';
import { EXPECTED_STATUS, type Kind, newSecret, requestOfKind } from '../support/traffic.js';

/** Request mix, in percent. */
export const MIX: Readonly<Record<Kind, number>> = {
  legit: 60,
  bot: 15,
  'other-distribution': 10,
  'forged-xff': 10,
  'health-check': 5,
};

export interface MixedResult {
  readonly load: LoadResult;
  readonly runtime: RuntimeSummary;
  /** Heap after a full GC, before and after the run (MB). */
  readonly heapAfterGcStartMb: number;
  readonly heapAfterGcEndMb: number;
  readonly getSecretValueCalls: number;
  /** Upper bound on GetSecretValue calls given the refresh settings and the run's length. */
  readonly getSecretValueBound: number;
  readonly stats: Readonly<Record<string, { total: number; allowed: number; denied: number }>>;
  readonly ms: number;
}

export async function runMixed(options: {
  seconds: number;
  seed: number;
  concurrencyPerApp?: number;
}): Promise<MixedResult> {
  const started = Date.now();
  const aws = await startLocalAws();
  const restoreEnv = setEnv(aws.env());
  const id = 'prod/cloudfront/origin-verify';
  const secret = newSecret('mixed');
  aws.secrets.put(id, newSecret('old'));
  aws.secrets.put(id, secret);
  const apps: RunningApp[] = [];
  try {
    apps.push(
      await startExpress({
        env: {
          CDN_ORIGIN_GUARD_SECRET_ID: id,
          CDN_ORIGIN_GUARD_RANGES: 'ip-ranges',
          CDN_ORIGIN_GUARD_IP_RANGES_URL: aws.ipRangesUrl,
          CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL: 'true',
        },
      }),
      await startFastify({
        env: {
          CDN_ORIGIN_GUARD_SECRET_ID: id,
          CDN_ORIGIN_GUARD_RANGES: 'prefix-list',
          CDN_ORIGIN_GUARD_IPV6: 'true',
        },
      }),
    );
    const kinds = Object.keys(MIX) as Kind[];
    const cumulative: number[] = [];
    kinds.reduce((acc, k) => {
      cumulative.push(acc + MIX[k]);
      return acc + MIX[k];
    }, 0);
    const heapAfterGcStartMb = await collectGarbage();
    const monitor = new RuntimeMonitor(1000).start();
    const load = startLoad({
      targets: apps,
      concurrencyPerTarget: options.concurrencyPerApp ?? 8,
      seed: options.seed,
      maxRequests: 100_000_000,
      maxMs: options.seconds * 1000,
      latency: true,
      plan: (rand) => {
        const x = rand() * 100;
        const kind = kinds[cumulative.findIndex((c) => x < c)] ?? 'legit';
        return { kind, request: requestOfKind(rand, kind, secret), expect: EXPECTED_STATUS[kind] };
      },
    });
    const result = await load.done;
    const runtime = monitor.stop();
    const heapAfterGcEndMb = await collectGarbage();
    const ms = Date.now() - started;
    // Default refresh settings: a load at start, one per 5 min, and at most one forced per 30 s.
    const loadsPerApp = 1 + Math.ceil(ms / 300_000) + Math.ceil(ms / 30_000) + 1;
    return {
      load: result,
      runtime,
      heapAfterGcStartMb,
      heapAfterGcEndMb,
      getSecretValueCalls: aws.callCount('secretsmanager.GetSecretValue'),
      getSecretValueBound: loadsPerApp * 3 * apps.length,
      stats: Object.fromEntries(
        apps.map((a) => {
          const s = a.verifier.stats();
          return [a.framework, { total: s.total, allowed: s.allowed, denied: s.denied }];
        }),
      ),
      ms,
    };
  } finally {
    await Promise.allSettled(apps.map((a) => a.close()));
    restoreEnv();
    await aws.close();
  }
}

/**
 * Rotation under load. The Express and Fastify example apps read `secretId` from the local
 * AWS-protocol endpoint (Express with ranges from its ip-ranges document, Fastify with a static
 * list) while a load generator plays our CloudFront. The endpoint rotates the secret N times,
 * alternating the two ways AWS rotations happen:
 *
 * - AWS's rotation sample: `stagePending` (createSecret), CloudFront switches to the pending
 *   value `switchDelayMs` later (setSecret), then `promote` (finishSecret) `promoteDelayMs` later;
 * - a plain new version (`rotate`: current moves at once), CloudFront switching `switchDelayMs` later.
 *
 * Every legitimate request must get a 200. After each rotation, once the guards have loaded
 * the new stages, the value from two rotations ago must get a 403 and the previous one a 200.
 * Optionally, `otherDistributionShare` of the traffic comes from someone else's CloudFront
 * distribution (real edge, wrong secret), which keeps the forced-refresh window busy.
 * @module
 */
import { setEnv, startLocalAws } from '../../aws-local/index.js';
import { type RunningApp, startExpress, startFastify } from '../support/apps.js';
import { type LoadResult, sleep, startLoad, waitUntil } from '../support/load.js';
import { RawConnection } from '../support/raw-http.js';
import {
  CF_RANGES_ENV,
  cloudFrontHeaders,
  newSecret,
  prng,
  type Rand,
  requestOfKind,
  serialize,
} from '../support/traffic.js';

export interface RotationOptions {
  readonly rotations: number;
  readonly seed: number;
  readonly concurrencyPerApp?: number;
  /** CloudFront starts sending the new value this long after it is staged. Defaults to 300 ms. */
  readonly switchDelayMs?: number;
  /** `promote` this long after CloudFront switched. Defaults to 500 ms. */
  readonly promoteDelayMs?: number;
  /**
   * Pause after a rotation's probes. Never shorter than twice `mismatchRefreshMs`: the probes
   * (old values from a CloudFront edge) force refreshes, and a rotation inside that window
   * would be rate-limited (see `otherDistributionShare`). Defaults to 400 ms.
   */
  readonly gapMs?: number;
  /** Guard options. */
  readonly secretRefreshMs?: number;
  readonly mismatchRefreshMs?: number;
  /** Fraction of requests from another distribution (wrong secret, real edge). Defaults to 0. */
  readonly otherDistributionShare?: number;
  /** Hard bound on the whole run. */
  readonly maxMs?: number;
  /** Debugging: called with every denied decision of either app. */
  readonly onDeny?: (framework: string, reason: string) => void;
  /** Debugging: called when CloudFront switches. */
  readonly onSwitch?: (rotation: number) => void;
}

export interface RotationStep {
  readonly rotation: number;
  /** `verify()` of each guard gives `invalid-secret` for the value from two rotations ago. */
  readonly prevPrevRevoked: boolean;
  readonly style: 'stage-and-promote' | 'new-version';
  /** ms from the rotation's completion until both guards had loaded it. */
  readonly loadedAfterMs: number;
  readonly prevPrevDenied: number;
  readonly prevPrevProbes: number;
  readonly previousAllowed: number;
  readonly previousProbes: number;
}

export interface RotationResult {
  readonly load: LoadResult;
  readonly legit: { sent: number; denied: number };
  /** For each denied legitimate request: ms since CloudFront last switched values. */
  readonly legitDenyDelaysMs: readonly number[];
  readonly steps: readonly RotationStep[];
  readonly forcedRefreshes: Readonly<Record<string, number>>;
  readonly getSecretValueCalls: number;
  readonly ms: number;
}

async function probe(app: RunningApp, rand: Rand, secret: string): Promise<number> {
  const connection = new RawConnection(app.port);
  try {
    const res = await connection.request(
      serialize({ method: 'GET', path: '/whoami', headers: cloudFrontHeaders(rand, secret) }),
    );
    return res.status;
  } finally {
    connection.close();
  }
}

export async function runRotation(options: RotationOptions): Promise<RotationResult> {
  const started = Date.now();
  const switchDelay = options.switchDelayMs ?? 300;
  const promoteDelay = options.promoteDelayMs ?? 500;
  const mismatchRefreshMs = options.mismatchRefreshMs ?? 1_000;
  const gap = Math.max(options.gapMs ?? 400, 2 * mismatchRefreshMs + 200);
  const secretRefreshMs = options.secretRefreshMs ?? 1_000;
  const guard = (framework: string) => ({
    secretRefreshMs,
    mismatchRefreshMs,
    timeoutMs: 1_000,
    ...(options.onDeny
      ? {
          onDecision: (d: { allowed: boolean; reason: string }) => {
            if (!d.allowed) options.onDeny?.(framework, d.reason);
          },
        }
      : {}),
  });
  const aws = await startLocalAws();
  const restoreEnv = setEnv(aws.env());
  const id = 'prod/cloudfront/origin-verify';
  const values = [newSecret('v0'), newSecret('v1')];
  aws.secrets.put(id, values[0]!);
  aws.secrets.put(id, values[1]!);
  let cloudFront = values[1]!;
  let switchedAt = Date.now();
  const legitDenyDelaysMs: number[] = [];
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
        guard: guard('express'),
      }),
      await startFastify({
        env: { CDN_ORIGIN_GUARD_SECRET_ID: id, CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV },
        guard: guard('fastify'),
      }),
    );
    const share = options.otherDistributionShare ?? 0;
    const load = startLoad({
      targets: apps,
      concurrencyPerTarget: options.concurrencyPerApp ?? 6,
      seed: options.seed,
      maxRequests: 50_000_000,
      maxMs: options.maxMs ?? 600_000,
      onViolation: (v) => {
        if (v.kind === 'legit') legitDenyDelaysMs.push(v.at - switchedAt);
      },
      plan: (rand) =>
        share > 0 && rand() < share
          ? {
              kind: 'other-distribution',
              request: requestOfKind(rand, 'other-distribution', cloudFront),
              expect: 403,
            }
          : {
              kind: 'legit',
              request: {
                method: 'GET',
                path: '/whoami',
                headers: cloudFrontHeaders(rand, cloudFront),
              },
              expect: 200,
            },
    });
    const probeRand = prng(options.seed ^ 0x5bd1e995);
    const steps: RotationStep[] = [];
    await sleep(500);
    for (let r = 1; r <= options.rotations; r++) {
      const style = r % 2 === 1 ? 'stage-and-promote' : 'new-version';
      const next = newSecret(`v${r + 1}`);
      values.push(next);
      if (style === 'stage-and-promote') {
        aws.secrets.stagePending(id, next);
        await sleep(switchDelay);
        cloudFront = next;
        switchedAt = Date.now();
        options.onSwitch?.(r);
        await sleep(promoteDelay);
        aws.secrets.promote(id);
      } else {
        aws.secrets.rotate(id, next);
        await sleep(switchDelay);
        cloudFront = next;
        switchedAt = Date.now();
        options.onSwitch?.(r);
      }
      const rotatedAt = Date.now();
      // Both guards must load the rotated stages within one refresh (plus the load itself).
      const loaded = await waitUntil(
        () => apps.every((a) => (a.verifier.stats().sources.secret.loadedAt ?? 0) > rotatedAt),
        secretRefreshMs * 1.1 + 2_000,
      );
      const loadedAfterMs = loaded ? Date.now() - rotatedAt : Number.POSITIVE_INFINITY;
      const prevPrev = values[values.length - 3]!;
      const previous = values[values.length - 2]!;
      // Straight to the verifiers (no forced refresh), then over HTTP.
      const prevPrevRevoked = apps.every(
        (a) =>
          a.verifier.verify({
            headers: Object.fromEntries(cloudFrontHeaders(probeRand, prevPrev)),
            remoteAddress: '127.0.0.1',
            path: '/whoami',
          }).reason === 'invalid-secret',
      );
      let prevPrevDenied = 0;
      let previousAllowed = 0;
      const probes = 4;
      for (const app of apps)
        for (let i = 0; i < probes; i++) {
          if ((await probe(app, probeRand, prevPrev)) === 403) prevPrevDenied++;
          if ((await probe(app, probeRand, previous)) === 200) previousAllowed++;
        }
      steps.push({
        rotation: r,
        prevPrevRevoked,
        style,
        loadedAfterMs,
        prevPrevDenied,
        prevPrevProbes: probes * apps.length,
        previousAllowed,
        previousProbes: probes * apps.length,
      });
      await sleep(gap);
    }
    const result = await load.stop();
    const legit = result.byKind.legit ?? { sent: 0, ok: 0, bad: 0 };
    return {
      load: result,
      legit: { sent: legit.sent, denied: legit.bad },
      legitDenyDelaysMs,
      steps,
      forcedRefreshes: Object.fromEntries(
        apps.map((a) => [a.framework, a.verifier.stats().sources.secret.forcedRefreshes]),
      ),
      getSecretValueCalls: aws.callCount('secretsmanager.GetSecretValue'),
      ms: Date.now() - started,
    };
  } finally {
    await Promise.allSettled(apps.map((a) => a.close()));
    restoreEnv();
    await aws.close();
  }
}

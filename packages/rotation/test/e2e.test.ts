/**
 * End to end: the Express and Fastify example apps read `secretId` from the local Secrets
 * Manager while a simulated CloudFront sends them traffic carrying whatever value its
 * distribution config holds (during a deployment, each edge the old or the new one), through
 * an ALB stand-in applying the listener rule. The rotation handler's four steps run as Secrets
 * Manager runs them, three rotations in a row, the second through failed and retried steps.
 * With `mismatchRefreshMs` a day long, no forced refresh can rescue a request: only the order
 * of the steps does.
 */
import { describe, expect, it } from 'vitest';
import { setEnv, startLocalAws } from '../../../test/aws-local/index.js';
import {
  type RunningApp,
  startExpress,
  startFastify,
} from '../../../test/reliability/support/apps.js';
import { sleep, startLoad, waitUntil } from '../../../test/reliability/support/load.js';
import {
  CF_RANGES_ENV,
  cloudFrontHeaders,
  newSecret,
  prng,
} from '../../../test/reliability/support/traffic.js';
import {
  albForwards,
  allValues,
  createAccount,
  expectNoValueIn,
  HEADER,
  invoke,
  lambdaContext,
  rejection,
  rotate,
  rotationHandlerFor,
  stageValue,
} from './support.js';

const SECRET_REFRESH_MS = 1_000;
const ROTATIONS = 3;

describe('rotation end to end under load', () => {
  it('denies no legitimate request through 3 rotations (one through AccessDenied and a slow deployment), by the ALB rule or the apps, and revokes the value from two rotations ago', async () => {
    const aws = await startLocalAws();
    const restoreEnv = setEnv(aws.env());
    const apps: RunningApp[] = [];
    const lines: string[] = [];
    try {
      const history = [newSecret('v0'), newSecret('v1')];
      const account = createAccount(aws, history[1] as string, { previous: history[0] as string });
      aws.cloudfront.setDeployDelay(300);
      const guard = {
        secretRefreshMs: SECRET_REFRESH_MS,
        mismatchRefreshMs: 86_400_000,
        timeoutMs: 1_000,
      };
      const env = {
        CDN_ORIGIN_GUARD_SECRET_ID: account.secretId,
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      };
      apps.push(await startExpress({ env, guard }), await startFastify({ env, guard }));
      const handler = rotationHandlerFor(aws, account, {
        // The apps' refresh interval, its 10 % jitter, and a margin.
        propagationWaitMs: SECRET_REFRESH_MS * 1.1 + 500,
        log: (line) => lines.push(line),
      });

      let albDenied = 0;
      const sentValues = new Set<string>();
      const load = startLoad({
        targets: apps,
        concurrencyPerTarget: 4,
        seed: 0x13,
        maxRequests: 2_000_000,
        maxMs: 50_000,
        latency: false,
        plan: (rand) => {
          // What one CloudFront edge sends now, and whether the ALB rule lets it through.
          const value = aws.cloudfront.edgeHeader(account.distributionId, HEADER, 'alb') ?? '';
          sentValues.add(value);
          if (!albForwards(aws, account, value)) albDenied++;
          return {
            kind: 'legit',
            request: { method: 'GET', path: '/whoami', headers: cloudFrontHeaders(rand, value) },
            expect: 200,
          };
        },
      });

      const probeRand = prng(7);
      const verdict = (app: RunningApp, value: string) =>
        app.verifier.verify({
          headers: Object.fromEntries(cloudFrontHeaders(probeRand, value)),
          remoteAddress: '127.0.0.1',
          path: '/whoami',
        });
      const revoked: boolean[] = [];
      const failures: Error[] = [];
      const previousKept: boolean[] = [];
      for (let r = 1; r <= ROTATIONS; r++) {
        if (r === 2) {
          // The second rotation goes through failures, retried as Secrets Manager retries them:
          // AccessDenied on UpdateDistribution, then a distribution that does not deploy in time.
          const token = aws.secrets.beginRotation(account.secretId);
          await invoke(handler, account, 'createSecret', token);
          aws.faults.set({ accessDenied: true, actions: ['cloudfront.UpdateDistribution'] });
          failures.push(await rejection(invoke(handler, account, 'setSecret', token)));
          aws.faults.clear();
          await invoke(handler, account, 'setSecret', token);
          aws.cloudfront.holdDeployment(account.distributionId);
          // 5.4 s left and a 5 s safety margin: testSecret can wait only 0.4 s.
          failures.push(
            await rejection(invoke(handler, account, 'testSecret', token, lambdaContext(5_400))),
          );
          await sleep(300);
          aws.cloudfront.holdDeployment(account.distributionId, false);
          await invoke(handler, account, 'testSecret', token);
          await invoke(handler, account, 'finishSecret', token);
          aws.secrets.endRotation(account.secretId);
        } else {
          await rotate(handler, aws, account);
        }
        history.push(stageValue(aws, account, 'AWSCURRENT'));
        const rotatedAt = Date.now();
        // Once both apps have reloaded, the value from two rotations ago is gone everywhere.
        expect(
          await waitUntil(
            () => apps.every((a) => (a.verifier.stats().sources.secret.loadedAt ?? 0) > rotatedAt),
            SECRET_REFRESH_MS * 1.1 + 2_000,
          ),
        ).toBe(true);
        const prevPrev = history[history.length - 3] as string;
        const previous = history[history.length - 2] as string;
        revoked.push(
          !albForwards(aws, account, prevPrev) &&
            apps.every((a) => verdict(a, prevPrev).reason === 'invalid-secret'),
        );
        previousKept.push(
          albForwards(aws, account, previous) && apps.every((a) => verdict(a, previous).allowed),
        );
      }
      const result = await load.stop();

      const legit = result.byKind.legit ?? { sent: 0, ok: 0, bad: 0 };
      expect(result.violations).toEqual([]);
      expect(legit.bad).toBe(0);
      expect(albDenied).toBe(0);
      expect(result.errors).toBe(0);
      expect(legit.sent).toBeGreaterThan(500);
      // Traffic really carried every value the rotations put on the distribution.
      for (const value of history.slice(1)) expect(sentValues.has(value)).toBe(true);
      expect(failures.map((e) => (e as { failure?: string }).failure)).toEqual([
        'aws-error',
        'not-deployed',
      ]);
      expect(revoked).toEqual([true, true, true]);
      expect(previousKept).toEqual([true, true, true]);
      for (const app of apps) expect(app.verifier.stats().sources.secret.forcedRefreshes).toBe(0);
      expectNoValueIn(
        [...lines, ...failures.flatMap((e) => [e.message, e.stack ?? ''])],
        allValues(aws, account),
      );
      console.info(
        `[rotation e2e] requests=${legit.sent} alb-denied=${albDenied} app-denied=${legit.bad} values-sent=${sentValues.size} in ${result.ms} ms`,
      );
    } finally {
      await Promise.allSettled(apps.map((a) => a.close()));
      restoreEnv();
      await aws.close();
    }
  }, 60_000);
});

/**
 * The demo's rotation section: one full rotation through `@cdn-origin-guard/rotation`'s
 * handler against the local endpoint (Secrets Manager, CloudFront, ELBv2), while a simulated
 * CloudFront keeps sending the Express example app whatever value its distribution holds,
 * through an ALB stand-in applying the listener rule. One line per step with the requests
 * served and denied during it. Values are never printed.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROTATION_STEPS } from '@cdn-origin-guard/rotation';
import { createApp } from '../../examples/express/src/app.js';
import {
  albForwards,
  createAccount,
  HEADER,
  invoke,
  rotationHandlerFor,
  stageValue,
} from '../../packages/rotation/test/account.js';
import type { LocalAws } from '../../test/aws-local/index.js';

/** What the section needs from the demo. */
export interface RotationDemoOptions {
  readonly aws: LocalAws;
  /** A fresh random value for the secret's starting point. */
  readonly newValue: () => string;
  /** An edge address inside the ranges the app trusts. */
  readonly edge: string;
  readonly print: (line: string) => void;
  readonly bold: (text: string) => string;
  readonly dim: (text: string) => string;
}

/** Requests per outcome during one step. */
interface Counts {
  served: number;
  albDenied: number;
  appDenied: number;
}

const REFRESH_MS = 1_000;

function get(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/whoami', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Run the section; true when no request was denied and the rotation completed. */
export async function rotationDemo(options: RotationDemoOptions): Promise<boolean> {
  const { aws, print, bold, dim } = options;
  const account = createAccount(aws, options.newValue());
  aws.cloudfront.setDeployDelay(300);
  const { app, guard } = createApp({
    env: {
      ...process.env,
      CDN_ORIGIN_GUARD_SECRET_ID: account.secretId,
      CDN_ORIGIN_GUARD_SECRET: undefined,
      CDN_ORIGIN_GUARD_IP_RANGES_URL: undefined,
      CDN_ORIGIN_GUARD_RANGES: 'prefix-list',
      CDN_ORIGIN_GUARD_TRUSTED_PROXIES: '127.0.0.1/32',
      CDN_ORIGIN_GUARD_REFRESH_SECONDS: String(REFRESH_MS / 1000),
    },
    log: () => undefined,
    // So long that refresh-on-mismatch cannot be what keeps requests served.
    guard: { mismatchRefreshMs: 86_400_000 },
  });
  await guard.verifier.ready();
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const port = (server.address() as AddressInfo).port;

  print(`\n${bold('Rotation through @cdn-origin-guard/rotation')}`);
  print(
    dim(
      `secret ${account.secretId}, distribution ${account.distributionId} (origins on the ALB), listener rule on ${HEADER}; apps refresh every ${REFRESH_MS / 1000} s, mismatchRefreshMs 1 day`,
    ),
  );

  let counts: Counts = { served: 0, albDenied: 0, appDenied: 0 };
  let running = true;
  const traffic = Array.from({ length: 3 }, async () => {
    while (running) {
      const value = aws.cloudfront.edgeHeader(account.distributionId, HEADER, 'alb') ?? '';
      if (!albForwards(aws, account, value)) {
        counts.albDenied++;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const status = await get(port, {
        'x-forwarded-for': `198.51.100.23, ${options.edge}`,
        'x-amz-cf-id': randomBytes(42).toString('base64url'),
        [HEADER]: value,
      });
      if (status === 200) counts.served++;
      else counts.appDenied++;
    }
  });

  const lines: string[] = [];
  const handler = rotationHandlerFor(aws, account, {
    propagationWaitMs: REFRESH_MS * 1.1 + 300,
    log: (line) => lines.push(line),
  });
  const before = stageValue(aws, account, 'AWSCURRENT');
  const token = aws.secrets.beginRotation(account.secretId);
  const context = { getRemainingTimeInMillis: () => 60_000 };
  let denied = 0;
  let completed = true;
  try {
    for (const step of ROTATION_STEPS) {
      const started = Date.now();
      const from = lines.length;
      counts = { served: 0, albDenied: 0, appDenied: 0 };
      await invoke(handler, account, step, token, context);
      const events = lines
        .slice(from)
        .map((l) => (JSON.parse(l) as { event: string }).event)
        .filter((e) => e !== 'start' && e !== 'done');
      denied += counts.albDenied + counts.appDenied;
      print(
        `  ${step.padEnd(13)} ${String(Date.now() - started).padStart(5)} ms  served ${String(counts.served).padStart(4)}  denied ${counts.albDenied + counts.appDenied}  ${dim(events.join(', '))}`,
      );
    }
    aws.secrets.endRotation(account.secretId);
  } catch (error) {
    completed = false;
    print(`  rotation failed: ${(error as Error).message}`);
  } finally {
    running = false;
    await Promise.all(traffic);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await guard.close();
  }
  const after = stageValue(aws, account, 'AWSCURRENT');
  const promoted = aws.secrets.get(account.secretId)?.stages.AWSCURRENT === token;
  const oldKept = albForwards(aws, account, before);
  const ok = completed && promoted && denied === 0 && oldKept && after !== before;
  print(
    dim(
      `  AWSCURRENT moved to the new version; the ALB rule now holds [AWSCURRENT, AWSPREVIOUS]; ${denied} requests denied during the rotation; the log has ${lines.length} JSON lines and no value.`,
    ),
  );
  return ok && lines.every((l) => !l.includes(after) && !l.includes(before));
}

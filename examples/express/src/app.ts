/**
 * The example Express app, built from the environment: `optionsFromEnv()` (CDN_ORIGIN_GUARD_*)
 * plus the AWS SDK's own variables (AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER,
 * AWS_ENDPOINT_URL_EC2, credentials). `main.ts` starts it; tests and the demo can start it
 * in-process.
 */
import type { Decision, VerifyInput } from '@cdn-origin-guard/core';
import {
  type CdnOriginGuardMiddleware,
  type CdnOriginGuardOptions,
  cdnOriginGuard,
  type OriginGuardOptions,
  optionsFromEnv,
} from '@cdn-origin-guard/express';
import express, { type Express } from 'express';

/** How to build the app. Every field is optional: by default everything comes from `process.env`. */
export interface CreateAppOptions {
  /** The environment to read. Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Guard options applied over the ones read from the environment. Defaults to none. */
  readonly guard?: Partial<OriginGuardOptions>;
  /** Where deny lines go (one JSON document per call). Defaults to stdout. */
  readonly log?: (line: string) => void;
}

/** The app and its guard (`guard.verifier` for readiness and stats, `guard.close()` on shutdown). */
export interface ExampleApp {
  readonly app: Express;
  readonly guard: CdnOriginGuardMiddleware;
}

/** One JSON line per deny (and per would-be deny in report mode): codes and addresses only. */
export function denyLine(decision: Decision, input: VerifyInput): string | undefined {
  if (decision.allowed && decision.reason !== 'reported') return undefined;
  return JSON.stringify({
    level: 'warn',
    time: new Date().toISOString(),
    msg: decision.allowed
      ? 'cdn-origin-guard would deny request (report mode)'
      : 'cdn-origin-guard denied request',
    reason: decision.reason,
    failures: decision.failures,
    // The X-Forwarded-For entry (or socket address) that failed, and the hop count in use.
    hop: decision.offendingHop,
    proxyHops: decision.proxyHops,
    method: input.method,
    path: input.path?.split('?', 1)[0],
    peer: decision.peerAddress,
    edge: decision.edgeAddress,
    cfId: decision.cfId,
  });
}

/** A logger for the adapter's own lines (startup, source failing/recovered) as JSON lines. */
function jsonLogger(log: (line: string) => void) {
  const at = (level: string) => (msg: string) =>
    log(JSON.stringify({ level, time: new Date().toISOString(), msg }));
  return { error: at('error'), warn: at('warn'), info: at('info') };
}

/**
 * Build the app. Throws `InvalidOptionError` naming the environment variable when one is bad.
 * Sources start loading at once; `await guard.ready()` before listening.
 */
export function createApp(options: CreateAppOptions = {}): ExampleApp {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const fromEnv = optionsFromEnv(options.env ?? process.env);
  const guard = cdnOriginGuard({
    ...fromEnv,
    // ALB health checks hit /healthz unless CDN_ORIGIN_GUARD_HEALTH_PATHS says otherwise.
    healthCheckPaths: fromEnv.healthCheckPaths ?? ['/healthz'],
    // Deny lines are this app's JSON lines (onDecision below); the adapter's logger still gets
    // startup and source failures and recoveries, written as JSON lines too.
    logLevel: fromEnv.logLevel ?? 'silent',
    logger: jsonLogger(log),
    onDecision: (decision, input) => {
      const line = denyLine(decision, input);
      if (line !== undefined) log(line);
    },
    ...options.guard,
  } as CdnOriginGuardOptions);

  const app = express();
  app.disable('x-powered-by');
  app.use(guard);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/whoami', (req, res) => {
    const d = req.cdnOriginGuard;
    const viaCloudFront = d?.reason === 'verified' || d?.reason === 'reported' ? d : undefined;
    res.json({
      viewerAddress: viaCloudFront?.viewerAddress ?? null,
      edgeAddress: viaCloudFront?.edgeAddress ?? null,
      cfId: viaCloudFront?.cfId ?? null,
    });
  });
  return { app, guard };
}

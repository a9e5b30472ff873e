/**
 * The example Fastify app, built from the environment: `optionsFromEnv()` (CDN_ORIGIN_GUARD_*)
 * plus the AWS SDK's own variables (AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER,
 * AWS_ENDPOINT_URL_EC2, credentials). `main.ts` starts it; tests and the demo can start it
 * in-process.
 */
import {
  cdnOriginGuard,
  cdnOriginGuardFrameworkErrors,
  type OriginGuardOptions,
  optionsFromEnv,
} from '@cdn-origin-guard/fastify';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';

/** How to build the app. Every field is optional: by default everything comes from `process.env`. */
export interface CreateAppOptions {
  /** The environment to read. Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Guard options applied over the ones read from the environment. Defaults to none. */
  readonly guard?: Partial<OriginGuardOptions>;
  /** Fastify's logger option. Defaults to JSON lines on stdout at `info`. */
  readonly logger?: FastifyServerOptions['logger'];
}

/**
 * Build the app. Throws `InvalidOptionError` naming the environment variable when one is bad.
 * `await app.ready()` rejects with `NotReadyError` when the guard's sources cannot load.
 * Deny lines (reason, method, path, peer; never the secret) go through Fastify's logger.
 */
export function createApp(options: CreateAppOptions = {}): FastifyInstance {
  const fromEnv = optionsFromEnv(options.env ?? process.env);
  // Fastify's request lines log method, URL and peer (never headers); the guard adds deny lines.
  // frameworkErrors: the router's own errors (a target it cannot decode: 400, a parameter over
  // maxParamLength: 414) come before any hook; this checks those requests first.
  const app = Fastify({
    logger: options.logger ?? { level: 'info' },
    frameworkErrors: cdnOriginGuardFrameworkErrors(),
  });
  app.register(cdnOriginGuard, {
    ...fromEnv,
    // ALB health checks hit /healthz unless CDN_ORIGIN_GUARD_HEALTH_PATHS says otherwise.
    healthCheckPaths: fromEnv.healthCheckPaths ?? ['/healthz'],
    ...options.guard,
  } as OriginGuardOptions);
  app.get('/', async () => ({ ok: true }));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/whoami', async (request) => {
    const d = request.cdnOriginGuard;
    const viaCloudFront = d?.reason === 'verified' || d?.reason === 'reported' ? d : undefined;
    return {
      viewerAddress: viaCloudFront?.viewerAddress ?? null,
      edgeAddress: viaCloudFront?.edgeAddress ?? null,
      cfId: viaCloudFront?.cfId ?? null,
    };
  });
  return app;
}

/**
 * @cdn-origin-guard/fastify: `app.register(cdnOriginGuard, options)`.
 * @packageDocumentation
 */
import {
  createOriginVerifier,
  type Decision,
  type DeniedDecision,
  type OriginGuardOptions,
  type OriginVerifier,
  type ReportedDecision,
} from '@cdn-origin-guard/core';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export type { Decision, OriginGuardOptions, OriginVerifier } from '@cdn-origin-guard/core';
export { optionsFromEnv } from '@cdn-origin-guard/core';

declare module 'fastify' {
  interface FastifyRequest {
    /** The cdn-origin-guard decision for this request (null before the hook ran). */
    cdnOriginGuard: Decision | null;
  }
  interface FastifyInstance {
    /** The cdn-origin-guard verifier (stats, readiness). */
    cdnOriginGuard: OriginVerifier;
  }
}

/**
 * Plugin options: the core options, or `{ verifier }` to share one you created (you close it;
 * the app's `onClose` only closes a verifier the plugin created).
 */
export type CdnOriginGuardPluginOptions =
  | Readonly<OriginGuardOptions>
  | { readonly verifier: OriginVerifier };

const plugin: FastifyPluginCallback<CdnOriginGuardPluginOptions> = (fastify, options, done) => {
  let verifier: OriginVerifier;
  // A verifier passed in belongs to the caller, who closes it; one created here is ours.
  const owned = !('verifier' in options);
  try {
    verifier =
      'verifier' in options ? options.verifier : createOriginVerifier(stripFastifyKeys(options));
  } catch (error) {
    done(error as Error);
    return;
  }
  const { status, headers, body } = verifier.denyResponse;
  const level = verifier.logLevel;

  fastify.decorate('cdnOriginGuard', verifier);
  fastify.decorateRequest('cdnOriginGuard', null);

  // One line per deny (and per would-be deny in report mode): reason codes, never a value.
  const log = (request: FastifyRequest, decision: DeniedDecision | ReportedDecision) => {
    if (level === 'silent') return;
    request.log[level](
      {
        cdnOriginGuard: {
          reason: decision.reason,
          failures: decision.failures,
          method: request.method,
          path: request.url.split('?', 1)[0],
          peer: decision.peerAddress,
          edge: decision.edgeAddress,
        },
      },
      decision.allowed
        ? 'cdn-origin-guard would deny request (report mode)'
        : 'cdn-origin-guard denied request',
    );
  };

  const deny = (reply: FastifyReply) => {
    reply.code(status).headers(headers).send(body);
  };

  fastify.addHook('onRequest', (request, reply, hookDone) => {
    const apply = (decision: Decision) => {
      request.cdnOriginGuard = decision;
      if (!decision.allowed || decision.reason === 'reported') log(request, decision);
      if (decision.allowed) hookDone();
      else deny(reply);
    };
    let result: Decision | Promise<Decision>;
    try {
      result = verifier.check({
        headers: request.headers,
        remoteAddress: request.raw.socket?.remoteAddress,
        method: request.method,
        path: request.url,
      });
    } catch {
      // Fail closed with the uniform response; never a 500 with a stack.
      deny(reply);
      return;
    }
    if (result instanceof Promise) result.then(apply).catch(() => reply.sent || deny(reply));
    else apply(result);
  });

  if (owned)
    fastify.addHook('onClose', (_instance, closeDone) => {
      verifier.close().then(() => closeDone(), closeDone);
    });

  verifier.ready().then(
    () => done(),
    (error: Error) => {
      if (verifier.failOnStartupError) {
        // Boot fails: stop the retry timers of a verifier nobody else will close.
        if (owned) verifier.close().catch(() => undefined);
        done(error);
      } else {
        fastify.log.warn(
          { err: error },
          'cdn-origin-guard sources not loaded yet; denying until they load',
        );
        done();
      }
    },
  );
};

function stripFastifyKeys(options: Readonly<OriginGuardOptions>): OriginGuardOptions {
  // Fastify may pass its own registration keys (prefix, logLevel handled by core) along.
  const { prefix: _p, ...rest } = options as OriginGuardOptions & { prefix?: unknown };
  return rest as OriginGuardOptions;
}

/**
 * Fastify 5 plugin that lets a request through only when it came through your own CloudFront
 * distribution. Runs as an `onRequest` hook on every route of the instance it is registered on
 * (it is not encapsulated). Sources load during registration, so `await app.ready()` fails
 * with a clear error when they cannot load (unless `failOnStartupError: false`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { cdnOriginGuard } from '@cdn-origin-guard/fastify';
 *
 * const app = Fastify({ logger: true });
 * await app.register(cdnOriginGuard, { secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * app.get('/', async (request) => ({ viewer: request.cdnOriginGuard?.allowed }));
 * await app.listen({ port: 3000 });
 * ```
 */
export const cdnOriginGuard = fp(plugin, {
  name: '@cdn-origin-guard/fastify',
  fastify: '5.x',
});

export default cdnOriginGuard;

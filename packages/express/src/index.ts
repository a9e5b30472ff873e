/**
 * @cdn-origin-guard/express: `app.use(cdnOriginGuard(options))`.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createOriginVerifier,
  type Decision,
  type OriginGuardOptions,
  type OriginVerifier,
} from '@cdn-origin-guard/core';

export type { Decision, OriginGuardOptions, OriginVerifier } from '@cdn-origin-guard/core';
export { optionsFromEnv } from '@cdn-origin-guard/core';

declare global {
  namespace Express {
    interface Request {
      /** The cdn-origin-guard decision for this request (set before `next()` is called). */
      cdnOriginGuard?: Decision;
    }
  }
}

/** A request as the middleware reads it: Express's request is one. */
type GuardRequest = IncomingMessage & { originalUrl?: string; cdnOriginGuard?: Decision };

/** The middleware returned by {@link cdnOriginGuard}, with its verifier attached. */
export interface CdnOriginGuardMiddleware {
  (req: GuardRequest, res: ServerResponse, next: (error?: unknown) => void): void;
  /** The core verifier: `await guard.verifier.ready()` before `listen` to start warm. */
  readonly verifier: OriginVerifier;
  /** Stop the verifier's refresh timers (call on shutdown). */
  close(): Promise<void>;
}

/**
 * Express middleware (Express 4 and 5) that lets a request through only when it came through
 * your own CloudFront distribution. Reads the socket's peer address, never `req.ip`. Every deny
 * gets the same response; the decision is on `req.cdnOriginGuard`. Sources start loading at
 * once; `await guard.verifier.ready()` before listening to fail fast on a bad setup.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { cdnOriginGuard } from '@cdn-origin-guard/express';
 *
 * const app = express();
 * const guard = cdnOriginGuard({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * app.use(guard);
 * await guard.verifier.ready();
 * app.listen(3000);
 * ```
 */
export function cdnOriginGuard(
  options: Readonly<OriginGuardOptions> | OriginVerifier,
): CdnOriginGuardMiddleware {
  const verifier = isVerifier(options) ? options : createOriginVerifier(options);
  // Start loading now; failures are reported by ready() and by denies, never as a crash.
  verifier.ready().catch(() => undefined);
  const { status, headers, body } = verifier.denyResponse;

  function deny(res: ServerResponse): void {
    if (res.headersSent) return;
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.end(body);
  }

  function cdnOriginGuardMiddleware(
    req: GuardRequest,
    res: ServerResponse,
    next: (error?: unknown) => void,
  ): void {
    const apply = (decision: Decision) => {
      req.cdnOriginGuard = decision;
      if (decision.allowed) next();
      else deny(res);
    };
    let result: Decision | Promise<Decision>;
    try {
      result = verifier.check({
        headers: req.headers,
        remoteAddress: req.socket?.remoteAddress,
        method: req.method,
        path: req.originalUrl ?? req.url,
      });
    } catch {
      // Fail closed with the uniform response; never a 500 with a stack.
      deny(res);
      return;
    }
    // `.catch` last: a throw in `apply` must not become an unhandled rejection (a crash).
    if (result instanceof Promise) result.then(apply).catch(() => deny(res));
    else apply(result);
  }

  return Object.assign(cdnOriginGuardMiddleware, {
    verifier,
    close: () => verifier.close(),
  });
}

function isVerifier(value: unknown): value is OriginVerifier {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as OriginVerifier).verify === 'function' &&
    typeof (value as OriginVerifier).check === 'function'
  );
}

export default cdnOriginGuard;

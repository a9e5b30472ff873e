/**
 * The module's all-routes middleware (every path, routed or not, gets the uniform deny) and the
 * filter that writes {@link OriginDeniedException} as the uniform deny response.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Decision,
  type OriginVerifier,
  type ServerWatch,
  type VerifyInput,
  writeDenyResponse,
} from '@cdn-origin-guard/core';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  Inject,
  Injectable,
  Logger,
  type NestMiddleware,
} from '@nestjs/common';
import { CDN_ORIGIN_GUARD_VERIFIER } from './constants.js';
import {
  allowedBefore,
  type CheckSite,
  logDecision,
  markAllowed,
  OriginDeniedException,
  toVerifyInput,
} from './guard.js';
import { denyHeld, holdDeny } from './hold.js';
import { serverOf, serverWatchOf } from './servers.js';

/** The part of Fastify's reply the filter uses (the package does not depend on Fastify). */
interface FastifyLikeReply {
  readonly raw: ServerResponse;
  readonly sent: boolean;
  hijack(): unknown;
}

/**
 * The all-paths check, whatever runs it: {@link CdnOriginGuardMiddleware} (a Nest middleware,
 * when some route is `@SkipOriginGuard()`) or the module's platform hook (Express `app.use`,
 * Fastify `onRequest`; see platform.ts). Allows and marks the request for the guard, or logs
 * and writes the uniform deny on the Node response; never throws, never a 500.
 */
export class AllPathsCheck {
  private readonly logger = new Logger('CdnOriginGuard');
  private readonly watch: ServerWatch;

  /**
   * @param site - where it runs. On the platform it is the first of the module's checks on a
   *   request, so it does not look for an earlier allow (on Express under Node 20 and 22 each
   *   read of the request misses the inline caches; see guard.ts).
   * @param onExpress - whether it runs on Express (then the request is Express's).
   */
  constructor(
    private readonly verifier: OriginVerifier,
    private readonly site: Exclude<CheckSite, 'guard'>,
    readonly onExpress = false,
  ) {
    this.watch = serverWatchOf(verifier);
  }

  /**
   * Note the server `req` came in on, so a server created around the adapter's instance is
   * guarded at its first request ({@link ServerWatch}); one comparison per request.
   */
  noteServer(req: IncomingMessage): void {
    const server = serverOf(req);
    if (server !== this.watch.last) this.watch.see(server);
  }

  run(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    this.decide(req, res, next, false);
  }

  /**
   * The front check's way with a request Nest may route to a `@SkipOriginGuard()` handler:
   * decided now; allowed, it goes on marked; denied, it goes on with the deny held on `res`
   * (hold.ts), written by the first thing that answers unless the guard reaches a skipped
   * handler first.
   */
  runHolding(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    this.decide(req, res, next, true);
  }

  private decide(
    req: IncomingMessage,
    res: ServerResponse,
    next: (error?: unknown) => void,
    holding: boolean,
  ): void {
    this.noteServer(req);
    if (this.site !== 'platform') {
      if (allowedBefore(req, this.verifier, this.site) !== undefined) {
        next();
        return;
      }
      // Decided at the front, denied, on a route that is not skipped: the held deny, now.
      if (denyHeld(req)) return;
    }
    let input: VerifyInput | undefined;
    let result: Decision | Promise<Decision>;
    try {
      input = toVerifyInput(req, this.site, this.onExpress);
      result = this.verifier.check(input);
    } catch (error) {
      this.settle(req, res, next, holding, undefined, input, error); // fail closed, never a 500
      return;
    }
    // No closure per request: a decision that is ready (the usual case) is settled at once.
    if (!(result instanceof Promise)) {
      this.settle(req, res, next, holding, result, input);
      return;
    }
    result
      .then(
        (decision) => this.settle(req, res, next, holding, decision, input),
        (error: unknown) => this.settle(req, res, next, holding, undefined, input, error),
      )
      .catch((error: unknown) => this.failed(res, error));
  }

  /** A throw past the verifier (e.g. in `next`): logged, and the deny written if nothing was. */
  failed(res: ServerResponse, error: unknown): void {
    logDecision(this.logger, this.verifier, undefined, undefined, error);
    try {
      writeDenyResponse(res, this.verifier.denyResponse);
    } catch {
      // Not even the deny could be written (a response the app broke): close the connection.
      res.destroy();
    }
  }

  /**
   * Mark an allowed request and pass it on, or log and write the deny. No decision: the
   * verifier threw `error`.
   */
  private settle(
    req: IncomingMessage,
    res: ServerResponse,
    next: (error?: unknown) => void,
    holding: boolean,
    decision: Decision | undefined,
    input: VerifyInput | undefined,
    error?: unknown,
  ): void {
    if (decision?.allowed) {
      markAllowed(req, this.verifier, decision, input);
      if (decision.reason === 'reported') logDecision(this.logger, this.verifier, decision, input);
      next();
      return;
    }
    const deny = () => {
      logDecision(this.logger, this.verifier, decision, input, error);
      writeDenyResponse(res, this.verifier.denyResponse);
    };
    if (!holding) {
      deny();
      return;
    }
    holdDeny(req, res, deny);
    next();
  }
}

/**
 * Runs before routing on both platforms (Express: `app.use`; Fastify: `@fastify/middie`), so
 * a path no controller declares gets the same deny as a guarded one: a bot cannot tell
 * `/.env` from `/admin`. Installed by the module, excluding the routes that resolve to
 * `@SkipOriginGuard()`, when some route is skipped; otherwise the module runs the same
 * {@link AllPathsCheck} as a platform hook, without Nest's middleware machinery. An allowed
 * request is marked so the guard does not decide twice.
 */
@Injectable()
export class CdnOriginGuardMiddleware implements NestMiddleware {
  private readonly check: AllPathsCheck;

  constructor(@Inject(CDN_ORIGIN_GUARD_VERIFIER) verifier: OriginVerifier) {
    this.check = new AllPathsCheck(verifier, 'middleware');
  }

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    this.check.run(req, res, next);
  }
}

/**
 * Writes {@link OriginDeniedException} as the uniform deny response on both platforms. Nest
 * picks the first matching filter, so a catch-all filter of yours may answer it instead: with
 * its own body, but the same one for every deny reason, and without a double write.
 */
@Catch(OriginDeniedException)
export class OriginDeniedFilter implements ExceptionFilter<OriginDeniedException> {
  catch(exception: OriginDeniedException, host: ArgumentsHost): unknown {
    // GraphQL (and any other context) reports the error its own way.
    if (host.getType() !== 'http') return exception;
    const response = host.switchToHttp().getResponse<ServerResponse | FastifyLikeReply>();
    if ('hijack' in response && typeof response.hijack === 'function') {
      // Fastify: write on the raw response, so Fastify neither sends a second reply nor warns.
      // Only the deny's own headers: those earlier hooks set (e.g. @fastify/helmet) are not
      // sent with it, so it is the same bytes as every other deny.
      if (response.sent) return undefined;
      response.hijack();
      writeDenyResponse(response.raw, exception.denyResponse);
    } else writeDenyResponse(response as ServerResponse, exception.denyResponse);
    return undefined;
  }
}

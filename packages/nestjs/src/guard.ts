/**
 * `CdnOriginGuard`: translates a Nest HTTP request (Express or Fastify) into the core's input
 * and a deny decision into the uniform deny response.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decision, DenyResponse, OriginVerifier, VerifyInput } from '@cdn-origin-guard/core';
import {
  type CanActivate,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CDN_ORIGIN_GUARD_VERIFIER, ORIGIN_GUARD_RULE, type OriginGuardRule } from './constants.js';

/**
 * The request as handlers see it once the guard ran: `request.cdnOriginGuard` holds the
 * decision (`undefined` on routes where the guard was skipped or not applied).
 *
 * @example
 * ```ts
 * import { Controller, Get, Req } from '@nestjs/common';
 * import type { OriginGuardRequest } from '@cdn-origin-guard/nestjs';
 *
 * @Controller()
 * export class AppController {
 *   @Get() root(@Req() req: OriginGuardRequest) { return { allowed: req.cdnOriginGuard?.allowed }; }
 * }
 * ```
 */
export interface OriginGuardRequest {
  /** The cdn-origin-guard decision for this request. */
  cdnOriginGuard?: Decision | undefined;
}

/**
 * Thrown by {@link CdnOriginGuard} after it has written the uniform deny response itself, so
 * that Nest stops the request. Its status is the deny response's; exception filters see the
 * headers already sent (Nest's own filter then only ends the response) and can recognise it
 * with `instanceof` to skip it.
 *
 * @example
 * ```ts
 * import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
 * import { OriginDeniedException } from '@cdn-origin-guard/nestjs';
 *
 * @Catch()
 * export class AllErrorsFilter implements ExceptionFilter {
 *   catch(error: unknown, host: ArgumentsHost) {
 *     if (error instanceof OriginDeniedException) return; // already answered
 *     // ...
 *   }
 * }
 * ```
 */
export class OriginDeniedException extends HttpException {
  constructor(denyResponse: DenyResponse) {
    super(denyResponse.body, denyResponse.status);
    this.name = 'OriginDeniedException';
  }
}

/** Express's request is an `IncomingMessage`; Fastify's wraps one in `raw`. */
type PlatformRequest = OriginGuardRequest &
  (
    | (IncomingMessage & { originalUrl?: string; raw?: undefined })
    | { raw: IncomingMessage; originalUrl?: string }
  );

/** Express's response is a `ServerResponse`; Fastify's reply wraps one in `raw`. */
type PlatformResponse =
  | ServerResponse
  | { raw: ServerResponse; hijack(): unknown; getHeaders(): Record<string, unknown> };

function toVerifyInput(request: PlatformRequest): VerifyInput {
  const raw: IncomingMessage = request.raw ?? (request as IncomingMessage);
  return {
    headers: raw.headers,
    remoteAddress: raw.socket?.remoteAddress, // the socket peer, never req.ip
    method: raw.method,
    path: request.originalUrl ?? raw.url,
  };
}

/**
 * Writes the deny response on the raw Node response and ends it, on both platforms, before
 * Nest's exception layer runs. Why not an `HttpException` carrying the body: Nest's filter
 * would wrap a string body as `{ statusCode, message }` JSON with its own content type, and any
 * user filter could replace it. Once the response has ended no filter can change what the
 * client got, and Nest's own filter only ends it when headers are already sent. On Fastify the
 * reply is hijacked first, so Fastify neither sends a second reply nor warns, and the headers
 * its earlier hooks set on the reply (e.g. @fastify/helmet) are carried over.
 */
function writeDeny(response: PlatformResponse, deny: DenyResponse): void {
  let res: ServerResponse;
  if ('hijack' in response && typeof response.hijack === 'function') {
    const inherited = response.getHeaders();
    response.hijack();
    res = response.raw;
    if (!res.headersSent)
      for (const [name, value] of Object.entries(inherited))
        if (value !== undefined) res.setHeader(name, value as string | string[]);
  } else res = response as ServerResponse;
  if (res.headersSent || res.writableEnded) return;
  res.statusCode = deny.status;
  for (const [name, value] of Object.entries(deny.headers)) res.setHeader(name, value);
  res.end(deny.body);
}

const LOG_METHOD = {
  trace: 'verbose',
  debug: 'debug',
  info: 'log',
  warn: 'warn',
  error: 'error',
} as const;

/**
 * Marks a request this guard already allowed, and by which verifier (a global guard plus
 * `@RequireOriginGuard()` runs twice). A symbol-keyed property rather than a WeakMap: one
 * WeakMap entry per request makes every garbage collection walk a table of short-lived keys.
 */
const ALLOWED_BY = Symbol('cdn-origin-guard.allowedBy');
type Marked = { [ALLOWED_BY]?: OriginVerifier };

/**
 * Nest guard (`CanActivate`) that lets an HTTP request through only when it came through your
 * own CloudFront distribution, on both the Express and the Fastify platform. Puts the decision
 * on `request.cdnOriginGuard`; on deny it writes the one uniform deny response itself (never the
 * reason) and logs the reason code with Nest's `Logger` at the `logLevel` option. Honours
 * `@SkipOriginGuard()` / `@RequireOriginGuard()`, method over class. Only HTTP contexts are
 * checked: RPC, WebSocket and GraphQL contexts pass (guard GraphQL with the Express or Fastify
 * adapter instead). Needs `CdnOriginGuardModule` imported.
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { APP_GUARD } from '@nestjs/core';
 * import { CdnOriginGuard, CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
 *
 * @Module({
 *   imports: [CdnOriginGuardModule.forRoot({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' })],
 *   providers: [{ provide: APP_GUARD, useClass: CdnOriginGuard }],
 * })
 * export class AppModule {}
 * ```
 */
@Injectable()
export class CdnOriginGuard implements CanActivate {
  private readonly logger = new Logger('CdnOriginGuard');

  constructor(
    @Inject(CDN_ORIGIN_GUARD_VERIFIER) private readonly verifier: OriginVerifier,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const rule = this.reflector.getAllAndOverride<OriginGuardRule | undefined>(ORIGIN_GUARD_RULE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (rule === 'skip') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<PlatformRequest>();
    if ((request as Marked)[ALLOWED_BY] === this.verifier) return true;
    const response = http.getResponse<PlatformResponse>();
    const apply = (decision: Decision | undefined): true => {
      request.cdnOriginGuard = decision;
      if (decision?.allowed) {
        (request as Marked)[ALLOWED_BY] = this.verifier;
        return true;
      }
      this.logDeny(decision);
      writeDeny(response, this.verifier.denyResponse);
      throw new OriginDeniedException(this.verifier.denyResponse);
    };
    let result: Decision | Promise<Decision>;
    try {
      result = this.verifier.check(toVerifyInput(request));
    } catch {
      return apply(undefined); // fail closed with the uniform response, never a 500
    }
    return result instanceof Promise ? result.then(apply, () => apply(undefined)) : apply(result);
  }

  private logDeny(decision: Decision | undefined): void {
    const level = this.verifier.logLevel;
    if (level === 'silent') return;
    // The reason code and addresses only: never a header value, so never the secret.
    const line =
      decision && !decision.allowed
        ? `cdn-origin-guard denied request: reason=${decision.reason} check=${decision.check} peer=${decision.peerAddress ?? '-'} edge=${decision.edgeAddress ?? '-'}`
        : 'cdn-origin-guard denied request: the verifier failed';
    this.logger[LOG_METHOD[level]](line);
  }
}

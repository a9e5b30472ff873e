/**
 * The Express adapter's log lines: one single-string line per deny, per would-be deny in report
 * mode, per startup failure and per source failure streak or recovery. Never a header value,
 * so never the secret.
 * @module
 */
import {
  type DeniedDecision,
  decisionLogLine,
  errorText,
  guardFailureLogLine,
  InvalidOptionError,
  type LogLevel,
  loggerCaller,
  type OriginVerifier,
  type ReportedDecision,
  sourceEventLevel,
  sourceEventLogLine,
} from '@cdn-origin-guard/core';

type LogMethod = (message: string, ...rest: unknown[]) => unknown;

/**
 * A logger the Express adapter writes to: `console`, pino, winston, bunyan or anything with
 * `error`, `warn` and `info` methods taking a message string. `debug` and `trace` are used
 * when present (else `info`).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { cdnOriginGuard, type GuardLogger } from '@cdn-origin-guard/express';
 * const logger: GuardLogger = pino();
 * cdnOriginGuard({ secret: process.env.ORIGIN_SECRET!, ranges: 'ip-ranges', logger });
 * ```
 */
export interface GuardLogger {
  /** Startup failures nobody awaited, and source failures. */
  error: LogMethod;
  /** Deny lines at `logLevel: 'warn'`. */
  warn: LogMethod;
  /** Deny and report-mode lines at the default `logLevel: 'info'`, and source recoveries. */
  info: LogMethod;
  /** Used for `logLevel: 'debug'` when present. */
  debug?: LogMethod;
  /** Used for `logLevel: 'trace'` when present (never `console.trace`, which prints a stack). */
  trace?: LogMethod;
}

/** What the middleware logs, bound to one logger and level. */
export interface GuardLog {
  decision(decision: DeniedDecision | ReportedDecision, method?: string, path?: string): void;
  /** The verifier threw (a bug): the request was denied; logged at `error` unless silent. */
  guardFailed(error: unknown, method?: string, path?: string): void;
  startupNotAwaited(error: Error): void;
  /**
   * The middleware met a server nobody had called `guardUpgrades` on, with listeners that answer
   * before Express (`kinds`): it guards it from now on; said at `error` (unless silent).
   */
  upgradesGuardedLate(kinds: readonly string[]): void;
  /**
   * `guardUpgrades` refused the server a request came from (not a server it takes): said once
   * per server, at `error` (unless silent).
   */
  upgradesUnguardable(error: unknown): void;
  startupTolerated(error: Error): void;
  /** Log the verifier's source events; returns the unsubscribe function. */
  sourceEvents(verifier: OriginVerifier): () => void;
}

/**
 * The deny/report line: reason, failures, the hop that failed and the hop count in use (the
 * core's {@link decisionLogLine}, so every adapter words it alike).
 */
export function decisionLine(
  decision: DeniedDecision | ReportedDecision,
  method?: string,
  path?: string,
): string {
  return decisionLogLine(decision, { method, path });
}

export function createGuardLog(logger: GuardLogger, level: LogLevel): GuardLog {
  for (const method of ['error', 'warn', 'info'] as const)
    if (typeof logger?.[method] !== 'function')
      throw new InvalidOptionError(
        'logger',
        `has no ${method}() method; pass console or a pino/winston-like logger.`,
      );
  // A logger that throws must never break a request: the line is lost, and that is reported
  // once as a process warning (the logger itself cannot be trusted to say it).
  const log = loggerCaller('@cdn-origin-guard/express');
  const call = (name: keyof GuardLogger, line: string) => {
    const method = logger[name] ?? logger.info;
    log(String(name), () => method.call(logger, line));
  };
  // console.trace prints a stack trace: for console, trace lines go to debug.
  const levelMethod: keyof GuardLogger | undefined =
    level === 'silent' ? undefined : level === 'trace' && logger === console ? 'debug' : level;
  return {
    decision: (decision, method, path) => {
      if (levelMethod) call(levelMethod, decisionLine(decision, method, path));
    },
    guardFailed: (error, method, path) => {
      if (level !== 'silent') call('error', guardFailureLogLine(error, { method, path }));
    },
    startupNotAwaited: (error) =>
      call(
        'error',
        `cdn-origin-guard sources failed to load and guard.ready() was never awaited; every request is denied until they load: ${error.message}`,
      ),
    upgradesGuardedLate: (kinds) => {
      if (level !== 'silent')
        call(
          'error',
          `cdn-origin-guard: guardUpgrades(server, guard) was not called on the server Express listens on, which has ${kinds.join(' and ')}: those requests reached them unchecked until this first request. The middleware checks them from now on (Socket.IO's long-polling under /socket.io only); call guardUpgrades(server, guard) right after app.listen(), with { requestPaths } for another Socket.IO path.`,
        );
    },
    upgradesUnguardable: (error) => {
      if (level !== 'silent')
        call(
          'error',
          `cdn-origin-guard: could not guard the upgrades of a server Express's requests come from: ${errorText(error)}. Call guardUpgrades(server, guard) on it yourself.`,
        );
    },
    startupTolerated: (error) =>
      call(
        'warn',
        `cdn-origin-guard sources not loaded yet; denying until they load (failOnStartupError: false): ${error.message}`,
      ),
    sourceEvents: (verifier) =>
      verifier.onSourceEvent((event) => {
        // A first load failing is the startup failure, logged by ready() above.
        if (event.type === 'failing' && !event.everLoaded) return;
        call(sourceEventLevel(event), sourceEventLogLine(event));
      }),
  };
}

/**
 * The text of the log lines adapters write for a deny, a would-be deny (report mode) and a
 * source's health change: one wording, written once, so a line reads the same whichever
 * framework logged it. Codes, addresses and counts only: never a header value, so never the
 * secret.
 * @module
 */
import type { DeniedDecision, ReportedDecision } from './decision.js';
import type { SourceEvent } from './verifier.js';

/** Where the request went, for a deny line: unknown parts are written as `-`. */
export interface RequestWhere {
  /** The HTTP method. */
  readonly method?: string | undefined;
  /** The path the framework routes on (a query or fragment is cut off here). */
  readonly path?: string | undefined;
}

/** The path without its query or fragment (a log line never carries query values). */
function pathOnly(path: string | undefined): string {
  if (path === undefined) return '-';
  let end = path.length;
  const query = path.indexOf('?');
  if (query >= 0) end = query;
  const hash = path.indexOf('#');
  if (hash >= 0 && hash < end) end = hash;
  return end === path.length ? path : path.slice(0, end);
}

/**
 * The one-line text of a denied or report-mode decision: what failed, which hop, the hop count
 * in use, the request's method and path, and the peer and edge addresses.
 *
 * @example
 * ```ts
 * import { decisionLogLine } from '@cdn-origin-guard/core';
 * const decision = verifier.verify(input);
 * if (!decision.allowed) logger.warn(decisionLogLine(decision, { method: 'GET', path: '/orders' }));
 * // cdn-origin-guard denied request: reason=edge-not-cloudfront check=edge hop=203.0.113.9 proxyHops=1 method=GET path=/orders peer=10.0.1.23 edge=-
 * ```
 */
export function decisionLogLine(
  decision: DeniedDecision | ReportedDecision,
  where: RequestWhere = {},
): string {
  const head = decision.allowed
    ? 'cdn-origin-guard would deny request (report mode)'
    : 'cdn-origin-guard denied request';
  const reason = decision.allowed ? decision.failures.join(',') : decision.reason;
  return (
    `${head}: reason=${reason} check=${decision.allowed ? '-' : decision.check}` +
    ` hop=${decision.offendingHop ?? '-'} proxyHops=${decision.proxyHops}` +
    ` method=${where.method ?? '-'} path=${pathOnly(where.path)}` +
    ` peer=${decision.peerAddress ?? '-'} edge=${decision.edgeAddress ?? '-'}`
  );
}

/**
 * The one-line text for a request an adapter denied because the guard itself failed (the
 * verifier threw: a bug, never a client's doing): the error's message and where the request
 * went. Adapters log it at `error`.
 *
 * @example
 * ```ts
 * import { guardFailureLogLine } from '@cdn-origin-guard/core';
 * console.error(guardFailureLogLine(new Error('boom'), { method: 'GET', path: '/orders' }));
 * // cdn-origin-guard denied request: the guard failed (boom) method=GET path=/orders
 * ```
 */
export function guardFailureLogLine(error: unknown, where: RequestWhere = {}): string {
  const message = error instanceof Error ? error.message : String(error);
  return `cdn-origin-guard denied request: the guard failed (${message}) method=${where.method ?? '-'} path=${pathOnly(where.path)}`;
}

/**
 * The one-line text of a source's health change (see `OriginVerifier.onSourceEvent`): a
 * failure streak starting (with the error, whose message never holds a secret value), the
 * values expiring (`maxStaleMs`, `rangesMaxStaleMs`) or being revoked, or the recovery.
 *
 * @example
 * ```ts
 * import { sourceEventLogLine } from '@cdn-origin-guard/core';
 * verifier.onSourceEvent((event) => console.error(sourceEventLogLine(event)));
 * ```
 */
export function sourceEventLogLine(event: SourceEvent): string {
  switch (event.type) {
    case 'failing':
      return `cdn-origin-guard ${event.source} source failing${event.everLoaded ? ' (serving the last-known-good value)' : ' (never loaded: denying)'}: ${event.error.message}`;
    case 'expired':
      return event.reason === 'revoked'
        ? `cdn-origin-guard ${event.source} source revoked: values dropped; denying until a load succeeds: ${event.error?.message ?? 'the store said the values are gone'}`
        : `cdn-origin-guard ${event.source} source expired: ${event.source === 'ranges' ? 'not confirmed current for rangesMaxStaleMs' : 'not read for maxStaleMs'} (${Math.round(event.staleMs / 1000)} s); denying until a load succeeds`;
    case 'recovered':
      return `cdn-origin-guard ${event.source} source recovered after ${event.failedAttempts} failed attempt(s), ${Math.round(event.downMs / 1000)} s`;
    case 'warning':
      return `cdn-origin-guard ${event.source} source warning: ${event.error.message}`;
  }
}

/**
 * The level a source event is logged at: a failure or an expiry is an error, a warning a
 * warning, a recovery information.
 */
export function sourceEventLevel(event: SourceEvent): 'error' | 'warn' | 'info' {
  return event.type === 'recovered' ? 'info' : event.type === 'warning' ? 'warn' : 'error';
}

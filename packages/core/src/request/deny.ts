/**
 * The uniform deny response, written on a Node response by every adapter and by the
 * server-level check (`guardUpgrades`), so that every deny is the same bytes.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { DenyResponse } from '../options/types.js';

/**
 * A Node response as {@link writeDenyResponse} writes on it: an `http.ServerResponse` or an
 * HTTP/2 compat response. Structural, so the published types need no `@types/node`.
 */
export interface DenyTarget {
  readonly headersSent: boolean;
  readonly writableEnded?: boolean;
  readonly req?: { readonly httpVersionMajor?: number } | undefined;
  statusCode: number;
  /** HTTP/1 only (HTTP/2 has no reason phrase, and warns when one is set). */
  statusMessage?: string | undefined;
  sendDate?: boolean;
  getHeaderNames(): string[];
  removeHeader(name: string): void;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/**
 * The reason phrase Node's HTTP/1 server writes for `status` (`unknown` for a code it does not
 * name): one rule for the deny an adapter writes and the raw deny `guardUpgrades` writes, so the
 * two are the same bytes.
 */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'unknown';
}

/**
 * Write `deny` on `res` and end it; nothing when a response was already started. Only the
 * deny's own headers go out: any header set earlier (Express's `X-Powered-By`, helmet, CORS)
 * is removed, so a bot cannot tell one deny from another by them. On HTTP/1 the connection is
 * closed too, so a denied request's body is not read to its end (HTTP/2 has no such header).
 */
export function writeDenyResponse(res: DenyTarget, deny: DenyResponse): void {
  if (res.headersSent || res.writableEnded === true) return;
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = deny.status;
  // What an earlier middleware set on the response (a proxy copying an upstream's `Not Found`,
  // `sendDate = false`) would tell this deny from the others (review, thirteenth session).
  if (res.sendDate === false) res.sendDate = true;
  for (const [name, value] of Object.entries(deny.headers)) res.setHeader(name, value);
  if (res.req?.httpVersionMajor === 1) {
    res.statusMessage = reasonPhrase(deny.status);
    res.setHeader('connection', 'close');
  }
  res.end(deny.body);
}

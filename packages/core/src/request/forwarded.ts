/**
 * Helpers for the `X-Forwarded-For` header around the edge walk: counting header lines in
 * Node's `rawHeaders`, and showing a failed hop safely in a decision.
 * @module
 */

const XFF = 'x-forwarded-for';

/** Whether `name` is `x-forwarded-for` in any case, without allocating. */
function isForwardedForName(name: string): boolean {
  if (name.length !== XFF.length) return false;
  for (let i = 0; i < XFF.length; i++) {
    const want = XFF.charCodeAt(i);
    const c = name.charCodeAt(i);
    // Letters compare case-insensitively; '-' must be exact.
    if (c !== want && (want === 0x2d || (c | 0x20) !== want)) return false;
  }
  return true;
}

/** How many `X-Forwarded-For` lines Node's `rawHeaders` (name, value, name, value, ...) holds. */
export function forwardedForLines(rawHeaders: readonly string[]): number {
  let lines = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (typeof name === 'string' && isForwardedForName(name)) lines++;
  }
  return lines;
}

/**
 * Header lines at which Node may have dropped some: its HTTP server keeps at most 2000
 * `rawHeaders` entries by default (`maxHeadersCount` unset: 2000 entries, i.e. 1000 lines; it
 * stops collecting at about 1023) and silently drops the rest, an `X-Forwarded-For` line
 * included (outside review, 4 December: padding before a second line hid it, and a forged edge
 * then passed). A request with that many lines is denied `malformed-forwarded-for`; no real
 * request carries them.
 */
export const NODE_MAX_HEADER_LINES = 1000;

/**
 * Most header lines an ALB health check may carry to be one (the ALB sends four: Host,
 * Connection, User-Agent, Accept-Encoding). A server whose `maxHeadersCount` is set lower than
 * Node's default could drop a bot's `X-Forwarded-For` behind a few padding lines; a request
 * with more lines than this is checked in full instead.
 */
export const HEALTH_CHECK_MAX_HEADER_LINES = 32;

/** How many header lines a request has: from `rawHeaders` when given, else the parsed names. */
export function headerLineCount(
  rawHeaders: readonly string[] | undefined,
  headers: Readonly<Record<string, unknown>>,
): number {
  return rawHeaders === undefined ? Object.keys(headers).length : rawHeaders.length >>> 1;
}

/** Longest text of a hop shown in a decision. */
export const MAX_HOP_TEXT = 64;

/**
 * A hop (an address or an `X-Forwarded-For` entry) as a decision shows it: trimmed, control
 * characters escaped as `\xNN`, at most {@link MAX_HOP_TEXT} characters. Only built on denies.
 */
export function showHop(text: string): string {
  let out = '';
  const trimmed = text.trim();
  for (let i = 0; i < trimmed.length && out.length < MAX_HOP_TEXT; i++) {
    const c = trimmed.charCodeAt(i);
    out +=
      c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)
        ? `\\x${c.toString(16).padStart(2, '0')}`
        : trimmed[i];
  }
  return out.length > MAX_HOP_TEXT ? out.slice(0, MAX_HOP_TEXT) : out;
}

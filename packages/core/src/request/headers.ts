/**
 * Reading request headers: one value of a header that may come as several lines, a copy of a
 * request without the secret header (for hooks), and the header names that cannot carry the
 * secret.
 * @module
 */
import type { VerifyInput } from '../options/types.js';

/** A header value as Node gives it: absent, one line, or several lines. */
export type HeaderValue = string | readonly string[] | undefined;

/**
 * The single value of a header: the value itself, `undefined` when absent, `null` when the
 * header came as several lines (present, but not one value).
 */
export function singleHeader(value: HeaderValue): string | undefined | null {
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 1 ? value[0] : null;
}

/**
 * A copy of `input` whose `headers` and `rawHeaders` hold no `headerName` header, for hooks.
 * Built only when a hook is set.
 */
export function withoutSecret(input: VerifyInput, headerName: string): VerifyInput {
  const headers: Record<string, HeaderValue> = {};
  for (const key of Object.keys(input.headers))
    if (key.toLowerCase() !== headerName) headers[key] = input.headers[key];
  const copy: { -readonly [K in keyof VerifyInput]: VerifyInput[K] } = { ...input, headers };
  const raw = input.rawHeaders;
  if (raw !== undefined) {
    const kept: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i];
      const value = raw[i + 1];
      if (name !== undefined && value !== undefined && String(name).toLowerCase() !== headerName)
        kept.push(name, value);
    }
    copy.rawHeaders = kept;
  }
  return copy;
}

/**
 * Headers CloudFront refuses as origin custom headers (its documented list: "Custom headers
 * that CloudFront can't add to origin requests"), plus those the ALB sets on every request.
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'cache-control',
  'connection',
  'content-length',
  'cookie',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'max-forwards',
  'pragma',
  'proxy-authorization',
  'proxy-connection',
  'range',
  'request-range',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
  'x-real-ip',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-amzn-trace-id',
]);

/**
 * Whether `name` cannot carry the origin secret: CloudFront refuses it as an origin custom
 * header (`Host`, `Cookie`, `X-Amz-*`, `X-Edge-*`, ...), or the ALB sets it (`X-Forwarded-*`,
 * `X-Amzn-Trace-Id`). Case-insensitive.
 *
 * @example
 * ```ts
 * import { isReservedHeaderName } from '@cdn-origin-guard/core';
 * isReservedHeaderName('X-Amz-Secret'); // true
 * isReservedHeaderName('x-origin-verify'); // false
 * ```
 */
export function isReservedHeaderName(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_HEADERS.has(lower) || lower.startsWith('x-amz-') || lower.startsWith('x-edge-');
}

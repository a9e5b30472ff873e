/**
 * The `X-Amz-Cf-Id` check: a CloudFront request id is base64/base64url of bounded length.
 * @module
 */
import { type HeaderValue, singleHeader } from '../request/headers.js';

const CF_ID_MIN = 16;
const CF_ID_MAX = 128;

/** 1 for the base64 and base64url characters a cf-id may hold (padding handled apart). */
const CF_ID_CHARS = (() => {
  const table = new Uint8Array(128);
  for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/')
    table[c.charCodeAt(0)] = 1;
  return table;
})();

/** Whether `s` looks like a CloudFront request id: base64/base64url, bounded length. */
export function isWellFormedCfId(s: string): boolean {
  const n = s.length;
  if (n < CF_ID_MIN || n > CF_ID_MAX) return false;
  // Up to two '=' of padding, only at the end.
  let end = n;
  if (s.charCodeAt(end - 1) === 0x3d) end--;
  if (s.charCodeAt(end - 1) === 0x3d) end--;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || CF_ID_CHARS[c] === 0) return false;
  }
  return true;
}

/** Why a cf-id check failed. */
export type CfIdFailure = 'missing-cf-id' | 'invalid-cf-id';

/**
 * What {@link checkCfId} found, through an output object the caller owns and reuses (one
 * request at a time).
 */
export interface CfIdHit {
  /** The well-formed `X-Amz-Cf-Id` on success; `undefined` after a failure. */
  cfId: string | undefined;
}

/**
 * The cf-id check on the `x-amz-cf-id` header value. Returns the failure, or `undefined` with
 * the id in `out.cfId`. An empty value is `missing-cf-id`; several header lines or a value that
 * is not a well-formed id are `invalid-cf-id`.
 */
export function checkCfId(header: HeaderValue, out: CfIdHit): CfIdFailure | undefined {
  const value = singleHeader(header);
  if (typeof value === 'string' && value !== '' && isWellFormedCfId(value)) {
    out.cfId = value;
    return undefined;
  }
  out.cfId = undefined;
  return value === undefined || value === '' ? 'missing-cf-id' : 'invalid-cf-id';
}

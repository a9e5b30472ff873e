/**
 * Reading request headers: one value of a header that may come as several lines, and a copy of
 * a request without the secret header (for hooks).
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

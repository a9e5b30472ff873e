/**
 * Range source backed by AWS's public ip-ranges.json, filtered to CloudFront's origin-facing
 * service. Only loads; caching, refresh and last-known-good live in the cache layer.
 * @module
 */
import { SourceError } from '../errors.js';
import { DEFAULT_IP_RANGES_URL } from '../options/defaults.js';
import { resolveTimeoutMs, untilAborted } from './aws-shared.js';
import { refuseHostileEntries } from './feed-check.js';
import type { RangeSnapshot, RangeSource } from './types.js';

const DEFAULT_SERVICE = 'CLOUDFRONT_ORIGIN_FACING';
const SOURCE_NAME = 'ip-ranges';

/**
 * Most bytes of an ip-ranges response body read, after decoding, before the load fails:
 * 16 MiB. AWS's ip-ranges.json is about 2 MB. `fetch` decodes `content-encoding: gzip` itself,
 * so without a cap a 300 KB compressed answer from a broken or hostile mirror expands to
 * hundreds of megabytes in memory.
 */
export const MAX_IP_RANGES_BODY_BYTES = 16 * 1024 * 1024;

/** Options of {@link ipRangesSource}. */
export interface IpRangesSourceOptions {
  /**
   * Where to fetch the document (https, or http with `allowInsecureUrl`), e.g. a mirror inside
   * your network. Defaults to `https://ip-ranges.amazonaws.com/ip-ranges.json`.
   * @example
   * ipRangesSource({ url: 'https://mirror.internal/ip-ranges.json' });
   */
  readonly url?: string;
  /**
   * Accept an `http:` URL (local tests, a mirror on a trusted network). Defaults to `false`.
   * @example
   * ipRangesSource({ url: 'http://127.0.0.1:4566/ip-ranges.json', allowInsecureUrl: true });
   */
  readonly allowInsecureUrl?: boolean;
  /**
   * The `service` whose prefixes are taken. Never use `CLOUDFRONT`: those are the
   * viewer-facing edge addresses, not the ones that connect to your origin.
   * Defaults to `CLOUDFRONT_ORIGIN_FACING`.
   * @example
   * ipRangesSource({ service: 'CLOUDFRONT_ORIGIN_FACING' });
   */
  readonly service?: string;
  /**
   * Upper bound in milliseconds for one whole `load()` (request and body; a body is also cut off
   * past 16 MiB decoded). Defaults to `3000`.
   * @example
   * ipRangesSource({ timeoutMs: 5000 });
   */
  readonly timeoutMs?: number;
  /**
   * The fetch implementation (e.g. one with a proxy dispatcher). Defaults to the global `fetch`.
   * @example
   * ipRangesSource({ fetch: (input, init) => fetch(input, { ...init, keepalive: true }) });
   */
  readonly fetch?: typeof fetch;
}

/**
 * A {@link RangeSource} reading CloudFront's origin-facing ranges from AWS's public
 * ip-ranges.json: IPv4 `prefixes[].ip_prefix` and IPv6 `ipv6_prefixes[].ipv6_prefix` whose
 * `service` is `CLOUDFRONT_ORIGIN_FACING`. `snapshot.version` is the document's `syncToken`.
 * Sends `If-None-Match` with the last ETag; a 304 answers the previous snapshot. A non-2xx
 * status (`awsCode` `HTTP <status>`), a body over 16 MiB once decoded (`ResponseTooLarge`;
 * read as a stream and cut off there), invalid JSON, an unexpected shape or no matching prefix
 * fails the load with a `SourceError`, so the guard keeps its last-known-good ranges.
 *
 * Needs no AWS credentials. Defaults to AWS's URL, `CLOUDFRONT_ORIGIN_FACING` and a 3000 ms timeout.
 * @example
 * import { createOriginVerifier, ipRangesSource } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({
 *   secret: process.env.ORIGIN_SECRET,
 *   ranges: ipRangesSource(),
 * });
 */
export function ipRangesSource(options: Readonly<IpRangesSourceOptions> = {}): RangeSource {
  const url = options.url ?? DEFAULT_IP_RANGES_URL;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new SourceError(SOURCE_NAME, '`url` is not a valid URL.');
  }
  const insecureOk = parsedUrl.protocol === 'http:' && options.allowInsecureUrl === true;
  if (parsedUrl.protocol !== 'https:' && !insecureOk) {
    throw new SourceError(
      SOURCE_NAME,
      `\`url\` must be https (http only with \`allowInsecureUrl: true\`), got ${parsedUrl.protocol}.`,
    );
  }
  // Never echo credentials or query strings (e.g. a presigned mirror URL) in messages.
  const shownUrl = `${parsedUrl.origin}${parsedUrl.pathname}`;
  const service = options.service ?? DEFAULT_SERVICE;
  const timeoutMs = resolveTimeoutMs(SOURCE_NAME, options.timeoutMs);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') {
    throw new SourceError(SOURCE_NAME, 'no `fetch` available; pass the `fetch` option.');
  }
  let last: { etag: string; snapshot: RangeSnapshot } | undefined;

  const invalid = (problem: string): SourceError =>
    new SourceError(SOURCE_NAME, `${shownUrl} is not a valid ip-ranges document: ${problem}.`);

  const parse = (text: string): RangeSnapshot => {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw invalid('the body is not JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw invalid('expected a JSON object');
    const { syncToken, prefixes, ipv6_prefixes: ipv6Prefixes } = doc as Record<string, unknown>;
    if (
      (typeof syncToken !== 'string' || syncToken.length === 0) &&
      typeof syncToken !== 'number'
    ) {
      throw invalid('`syncToken` is missing');
    }
    if (!Array.isArray(prefixes)) throw invalid('`prefixes` is not an array');
    if (ipv6Prefixes !== undefined && !Array.isArray(ipv6Prefixes))
      throw invalid('`ipv6_prefixes` is not an array');
    const cidrs = new Set<string>();
    const take = (
      list: readonly unknown[],
      listName: string,
      key: string,
      separator: string,
    ): void => {
      for (const [i, item] of list.entries()) {
        if (item === null || typeof item !== 'object')
          throw invalid(`\`${listName}[${i}]\` is not an object`);
        const entry = item as Record<string, unknown>;
        if (entry.service !== service) continue;
        const cidr = entry[key];
        if (typeof cidr !== 'string' || !cidr.includes('/') || !cidr.includes(separator)) {
          throw invalid(
            `\`${listName}[${i}].${key}\` is not an ${separator === '.' ? 'IPv4' : 'IPv6'} CIDR`,
          );
        }
        cidrs.add(cidr.trim());
      }
    };
    take(prefixes, 'prefixes', 'ip_prefix', '.');
    take(ipv6Prefixes ?? [], 'ipv6_prefixes', 'ipv6_prefix', ':');
    const version = String(syncToken);
    if (cidrs.size === 0) {
      throw new SourceError(
        SOURCE_NAME,
        `${shownUrl} (syncToken ${version}) lists no ${service} prefixes; an empty list never replaces the current ranges.`,
      );
    }
    refuseHostileEntries(SOURCE_NAME, `${shownUrl} (syncToken ${version})`, cidrs);
    return { cidrs: [...cidrs], version };
  };

  return {
    name: SOURCE_NAME,
    async load(signal: AbortSignal): Promise<RangeSnapshot> {
      const timeout = AbortSignal.timeout(timeoutMs);
      const combined = AbortSignal.any([signal, timeout]);
      const failed = (error: unknown): SourceError => {
        if (error instanceof SourceError) return error;
        if (timeout.aborted && !signal.aborted) {
          return new SourceError(SOURCE_NAME, `GET ${shownUrl} timed out after ${timeoutMs} ms.`, {
            cause: error,
            awsCode: 'TimeoutError',
          });
        }
        if (signal.aborted) {
          return new SourceError(SOURCE_NAME, `GET ${shownUrl} was aborted.`, {
            cause: signal.reason,
            awsCode: 'AbortError',
          });
        }
        const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
        const code = typeof cause?.code === 'string' ? cause.code : undefined;
        const message = error instanceof Error ? error.message : String(error);
        return new SourceError(
          SOURCE_NAME,
          `GET ${shownUrl} failed: ${code === undefined ? message : `${code} (${message})`}.`,
          { cause: error, awsCode: code },
        );
      };
      try {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (last !== undefined) headers['if-none-match'] = last.etag;
        const work = (async (): Promise<RangeSnapshot> => {
          const response = await fetchImpl(url, { headers, signal: combined, redirect: 'follow' });
          // A redirect may not downgrade an https URL to http (the check at construction would
          // mean nothing); `response.url` is the URL after redirects ('' from some custom fetch).
          if (response.url !== '' && !insecureOk && !response.url.startsWith('https:')) {
            await discard(response.body);
            throw new SourceError(
              SOURCE_NAME,
              `GET ${shownUrl} was redirected to a URL that is not https; refused (use an https mirror, or an http url with \`allowInsecureUrl: true\`).`,
              { awsCode: 'InsecureRedirect' },
            );
          }
          if (response.status === 304 && last !== undefined) {
            await discard(response.body);
            return last.snapshot;
          }
          if (!response.ok) {
            await discard(response.body);
            throw new SourceError(
              SOURCE_NAME,
              `GET ${shownUrl} answered HTTP ${response.status}.`,
              {
                awsCode: `HTTP ${response.status}`,
              },
            );
          }
          const text = await readCapped(response, MAX_IP_RANGES_BODY_BYTES);
          if (text === undefined)
            throw new SourceError(
              SOURCE_NAME,
              `ip-ranges response larger than ${MAX_IP_RANGES_BODY_BYTES / 1024 / 1024} MiB (decoded) from GET ${shownUrl}; AWS's ip-ranges.json is about 2 MB, so this is not it. Check \`ipRangesUrl\` (CDN_ORIGIN_GUARD_IP_RANGES_URL; \`url\` of ipRangesSource) and any mirror or proxy in between.`,
              { awsCode: 'ResponseTooLarge' },
            );
          const snapshot = parse(text);
          const etag = response.headers.get('etag');
          last = etag === null ? undefined : { etag, snapshot };
          return snapshot;
        })();
        // Also bound a custom `fetch` that ignores the signal.
        return await untilAborted(work, combined);
      } catch (error) {
        throw failed(error);
      }
    },
  };
}

/**
 * Cancel a body (or the rest of one) the source will not read. A failure to cancel loses
 * nothing (the connection is dropped either way) and is not the source's failure: the outcome
 * each caller reports right after (an insecure redirect, a 304, an HTTP status, a body over the
 * cap) is the one that counts, so it is deliberately not reported.
 */
async function discard(body: { cancel(): Promise<void> } | null | undefined): Promise<void> {
  await body?.cancel().catch(() => undefined);
}

/**
 * The body of `response` as UTF-8 text, read as a stream, or `undefined` (the rest cancelled)
 * once more than `maxBytes` decoded bytes arrived.
 */
async function readCapped(response: Response, maxBytes: number): Promise<string | undefined> {
  const body = response.body;
  if (body === null) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await discard(reader);
      return undefined;
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

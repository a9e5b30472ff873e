/**
 * Local copy of AWS's public `ip-ranges.json`, served with an ETag (and 304 on If-None-Match).
 * @module
 */
import { createHash } from 'node:crypto';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
  CLOUDFRONT_VIEWER_FACING_V4,
  CLOUDFRONT_VIEWER_FACING_V6,
  ORIGIN_FACING_REGIONS,
  OTHER_AWS_V4,
  OTHER_AWS_V6,
} from './fixtures.js';
import type { Reply } from './reply.js';

/** One IPv4 entry of ip-ranges.json. */
export interface IpRangesPrefix {
  ip_prefix: string;
  region: string;
  service: string;
  network_border_group: string;
}

/** One IPv6 entry of ip-ranges.json. */
export interface IpRangesIpv6Prefix {
  ipv6_prefix: string;
  region: string;
  service: string;
  network_border_group: string;
}

/** The ip-ranges.json document. */
export interface IpRangesDocument {
  syncToken: string;
  createDate: string;
  prefixes: IpRangesPrefix[];
  ipv6_prefixes: IpRangesIpv6Prefix[];
}

/** Test helpers to arrange the ip-ranges document on the local endpoint. */
export interface LocalIpRanges {
  /**
   * Serve `doc` as is (any JSON value, so malformed shapes can be tested). A document with a
   * `syncToken` keeps it; use {@link LocalIpRanges.setOriginFacing} for realistic changes.
   */
  set(doc: unknown): void;
  /** Serve raw text (e.g. invalid JSON) with status 200. */
  setRaw(body: string, contentType?: string): void;
  /**
   * Replace the `CLOUDFRONT_ORIGIN_FACING` entries (other services are kept) and move
   * `syncToken`/`createDate` forward. Returns the new syncToken.
   */
  setOriginFacing(v4: readonly string[], v6?: readonly string[]): string;
  /** The document currently served (parsed), or `undefined` after `setRaw`. */
  get(): unknown;
  /** The syncToken currently served, when the document has one. */
  readonly syncToken: string | undefined;
  /**
   * `304 Not Modified` replies (an `If-None-Match` that named the current ETag) since the start
   * or the last `resetCalls()`; the server's `ip-ranges` call counter counts them too.
   */
  readonly notModified: number;
}

function createDateOf(syncToken: number): string {
  const d = new Date(syncToken * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`;
}

function entry<K extends 'ip_prefix' | 'ipv6_prefix'>(
  key: K,
  cidr: string,
  service: string,
  region: string,
): Record<K, string> & { region: string; service: string; network_border_group: string } {
  return { [key]: cidr, region, service, network_border_group: region } as Record<K, string> & {
    region: string;
    service: string;
    network_border_group: string;
  };
}

/** Build a realistic document: origin-facing entries among AMAZON, EC2, CLOUDFRONT, S3... */
export function buildIpRangesDocument(
  v4: readonly string[],
  v6: readonly string[],
  syncToken: number,
): IpRangesDocument {
  const region = (i: number): string =>
    ORIGIN_FACING_REGIONS[i % ORIGIN_FACING_REGIONS.length] ?? 'GLOBAL';
  const prefixes: IpRangesPrefix[] = [
    ...OTHER_AWS_V4.map((e) => entry('ip_prefix', e.cidr, e.service, e.region)),
    ...CLOUDFRONT_VIEWER_FACING_V4.map((c) => entry('ip_prefix', c, 'CLOUDFRONT', 'GLOBAL')),
    // As in AWS's file, every range is also listed under AMAZON.
    ...v4.slice(0, 3).map((c, i) => entry('ip_prefix', c, 'AMAZON', region(i))),
    ...v4.map((c, i) => entry('ip_prefix', c, 'CLOUDFRONT_ORIGIN_FACING', region(i))),
  ];
  const ipv6_prefixes: IpRangesIpv6Prefix[] = [
    ...OTHER_AWS_V6.map((e) => entry('ipv6_prefix', e.cidr, e.service, e.region)),
    ...CLOUDFRONT_VIEWER_FACING_V6.map((c) => entry('ipv6_prefix', c, 'CLOUDFRONT', 'GLOBAL')),
    ...v6.map((c, i) => entry('ipv6_prefix', c, 'CLOUDFRONT_ORIGIN_FACING', region(i))),
  ];
  return {
    syncToken: String(syncToken),
    createDate: createDateOf(syncToken),
    prefixes,
    ipv6_prefixes,
  };
}

/** The store plus its wire handler. */
export class IpRangesService implements LocalIpRanges {
  #doc: unknown;
  #body = '';
  #etag = '';
  #contentType = 'application/json';
  #lastToken = 0;
  #notModified = 0;

  constructor(seed: boolean) {
    const now = Math.floor(Date.now() / 1000);
    this.#lastToken = now;
    this.set(
      seed
        ? buildIpRangesDocument(CLOUDFRONT_ORIGIN_FACING_V4, CLOUDFRONT_ORIGIN_FACING_V6, now)
        : buildIpRangesDocument([], [], now),
    );
  }

  get notModified(): number {
    return this.#notModified;
  }

  /** Zero {@link LocalIpRanges.notModified} (the server's `resetCalls()`). */
  resetCounters(): void {
    this.#notModified = 0;
  }

  get syncToken(): string | undefined {
    const doc = this.#doc as { syncToken?: unknown } | undefined;
    return typeof doc?.syncToken === 'string' ? doc.syncToken : undefined;
  }

  set(doc: unknown): void {
    this.#doc = doc;
    this.#contentType = 'application/json';
    this.#setBody(JSON.stringify(doc, null, 2));
    const token = Number(this.syncToken);
    if (Number.isFinite(token)) this.#lastToken = Math.max(this.#lastToken, token);
  }

  setRaw(body: string, contentType = 'application/json'): void {
    this.#doc = undefined;
    this.#contentType = contentType;
    this.#setBody(body);
  }

  setOriginFacing(v4: readonly string[], v6: readonly string[] = []): string {
    const token = Math.max(Math.floor(Date.now() / 1000), this.#lastToken + 1);
    const current = this.#doc as Partial<IpRangesDocument> | undefined;
    const keep = <T extends { service: string }>(list: T[] | undefined): T[] =>
      Array.isArray(list) ? list.filter((e) => e.service !== 'CLOUDFRONT_ORIGIN_FACING') : [];
    const fresh = buildIpRangesDocument(v4, v6, token);
    const origin4 = fresh.prefixes.filter((e) => e.service === 'CLOUDFRONT_ORIGIN_FACING');
    const origin6 = fresh.ipv6_prefixes.filter((e) => e.service === 'CLOUDFRONT_ORIGIN_FACING');
    const doc: IpRangesDocument =
      current !== undefined && Array.isArray(current.prefixes)
        ? {
            syncToken: fresh.syncToken,
            createDate: fresh.createDate,
            prefixes: [...keep(current.prefixes), ...origin4],
            ipv6_prefixes: [...keep(current.ipv6_prefixes), ...origin6],
          }
        : fresh;
    this.set(doc);
    return doc.syncToken;
  }

  get(): unknown {
    return this.#doc;
  }

  /** Serve the document (GET/HEAD), honouring If-None-Match. */
  handle(method: string, ifNoneMatch: string | undefined, requestId: string): Reply {
    const headers: Record<string, string> = {
      'content-type': this.#contentType,
      etag: this.#etag,
      'x-amz-request-id': requestId,
    };
    if (ifNoneMatch?.split(',').some((t) => t.trim() === this.#etag)) {
      this.#notModified++;
      return { status: 304, headers, body: '' };
    }
    return { status: 200, headers, body: method === 'HEAD' ? '' : this.#body };
  }

  #setBody(body: string): void {
    this.#body = body;
    this.#etag = `"${createHash('md5').update(body).digest('hex')}"`;
  }
}

/** A plain error reply for ip-ranges (the file sits behind S3/CloudFront). */
export function ipRangesError(status: number, requestId: string): Reply {
  const code = status === 503 ? 'SlowDown' : status === 403 ? 'AccessDenied' : 'InternalError';
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message><RequestId>${requestId}</RequestId></Error>`,
  };
}

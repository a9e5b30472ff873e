/**
 * An independent oracle: from a request's inputs alone, should the guard allow it?
 *
 * Written from docs/ARCHITECTURE.md (sections 2 and 4) and the documented option semantics,
 * not from the verifier's code: addresses are validated with `node:net` (`isIPv4`/`isIPv6`) and matched as BigInts, header
 * values with plain string operations. Configuration mirrored: default `proxyHops` (1),
 * default `trustedProxies` (loopback, uniquelocal), `requireCfId` true, no exclusions,
 * `healthCheckPaths` as given, `maxForwardedForLength` 16384.
 *
 * Also a model of what Node's HTTP parser hands the app for a hand-built request (lower-case
 * names, surrounding spaces and tabs trimmed, repeated headers joined with `, `), so raw
 * requests can be judged from their bytes.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { HeaderList, RawRequest } from './traffic.js';

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

interface Parsed {
  readonly family: 4 | 6;
  readonly value: bigint;
}

function v4(text: string): bigint {
  return text.split('.').reduce((acc, p) => acc * 256n + BigInt(Number(p)), 0n);
}

/** A valid IP literal (no zone id) as family and BigInt, IPv4-mapped IPv6 folded to IPv4. */
export function parseAddress(text: string): Parsed | undefined {
  if (isIPv4(text)) return { family: 4, value: v4(text) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let s = text.toLowerCase();
  // Embedded dotted quad: turn it into two hex groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = v4(tail);
    s = `${s.slice(0, lastColon + 1)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = rest === undefined ? [] : rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

interface Block {
  readonly family: 4 | 6;
  readonly start: bigint;
  readonly end: bigint;
}

function block(cidr: string): Block {
  const [base, bits] = cidr.split('/') as [string, string];
  const family = base.includes(':') ? 6 : 4;
  const width = family === 4 ? 32n : 128n;
  const parsed = family === 4 ? v4(base) : parseAddress(base)!.value;
  const host = width - BigInt(Number(bits));
  const start = (parsed >> host) << host;
  return { family, start, end: start + (1n << host) - 1n };
}

export class RangeSet {
  readonly #blocks: readonly Block[];
  constructor(cidrs: readonly string[]) {
    this.#blocks = cidrs.map(block);
  }
  has(a: Parsed): boolean {
    return this.#blocks.some(
      (b) => b.family === a.family && a.value >= b.start && a.value <= b.end,
    );
  }
}

/** The default `trustedProxies`: loopback and unique-local ranges. */
export const DEFAULT_TRUSTED = new RangeSet([
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  'fc00::/7',
]);

function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * One `X-Forwarded-For` entry as the ALB writes it: `IPv4`, `IPv4:port`, `IPv6`, `[IPv6]`,
 * `[IPv6]:port`, surrounded by optional spaces and tabs.
 */
export function parseForwardedEntry(raw: string): Parsed | undefined {
  const e = trimOws(raw);
  if (e === '') return undefined;
  const port = (p: string | undefined) => p === undefined || Number(p) <= 65535;
  if (e.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::([0-9]{1,5}))?$/.exec(e);
    if (!m || !port(m[2])) return undefined;
    return isIPv6(m[1]!) ? parseAddress(m[1]!) : undefined;
  }
  const direct = parseAddress(e);
  if (direct) return direct;
  const m = /^([^:]*):([0-9]{1,5})$/.exec(e);
  if (m && isIPv4(m[1]!) && port(m[2])) return parseAddress(m[1]!);
  return undefined;
}

/** What the guard under test was configured with. */
export interface OracleConfig {
  readonly secrets: readonly string[];
  readonly cloudFront: RangeSet;
  readonly healthCheckPaths: readonly string[];
  readonly headerName?: string;
  readonly maxForwardedForLength?: number;
}

/** Why the oracle decided as it did (for failure messages). */
export type OracleVerdict =
  | { readonly allow: true; readonly why: 'verified' | 'health-check' }
  | { readonly allow: false; readonly why: string };

function single(v: string | readonly string[] | undefined): string | undefined {
  if (v === undefined || typeof v === 'string') return v;
  return v.length === 1 ? v[0] : undefined;
}

const CF_ID = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * The path health checks match, per the README: cut at `?` or `#`, an absolute-form target
 * reduced to its path; undefined (never a health check) unless it starts with `/` and has no
 * dot segment, `;`, backslash or encoded dot, slash or backslash.
 */
function routedPath(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  let t = target.split(/[?#]/)[0]!;
  const absolute = /^https?:\/\/[^/]*/i.exec(t);
  if (absolute) t = t.slice(absolute[0].length) || '/';
  if (!t.startsWith('/')) return undefined;
  if (/[;\\]|%2e|%2f|%5c/i.test(t)) return undefined;
  if (t.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  return t;
}

/** The oracle: should a request with these inputs be allowed? */
export function oracle(
  cfg: OracleConfig,
  input: {
    headers: Headers;
    remoteAddress: string | undefined;
    path?: string | undefined;
    /** How many X-Forwarded-For header lines the request carried, when known. */
    forwardedForLines?: number;
  },
): OracleVerdict {
  const h = input.headers;
  const peer =
    typeof input.remoteAddress === 'string' ? parseAddress(input.remoteAddress) : undefined;
  const peerTrusted = peer !== undefined && DEFAULT_TRUSTED.has(peer);
  const xffRaw = h['x-forwarded-for'];
  // The ALB's health checker sends no X-Forwarded-For header at all (an empty one is not that).
  const noXff = xffRaw === undefined && (input.forwardedForLines ?? 0) === 0;
  const path = routedPath(input.path);
  if (path !== undefined && peerTrusted && noXff && cfg.healthCheckPaths.includes(path))
    return { allow: true, why: 'health-check' };
  if (!peerTrusted) return { allow: false, why: 'peer not trusted' };
  if ((input.forwardedForLines ?? 0) > 1 || (Array.isArray(xffRaw) && xffRaw.length > 1))
    return { allow: false, why: 'several x-forwarded-for lines' };
  const xff = typeof xffRaw === 'string' ? xffRaw : (xffRaw ?? []).join(',');
  if (xff === '') return { allow: false, why: 'no x-forwarded-for' };
  if (xff.length > (cfg.maxForwardedForLength ?? 16_384))
    return { allow: false, why: 'x-forwarded-for too long' };
  const entries = xff.split(',');
  if (entries.length < 2) return { allow: false, why: 'no viewer entry' };
  const edge = parseForwardedEntry(entries[entries.length - 1]!);
  if (!edge) return { allow: false, why: 'edge entry malformed' };
  if (!cfg.cloudFront.has(edge)) return { allow: false, why: 'edge not CloudFront' };
  if (!parseForwardedEntry(entries[entries.length - 2]!))
    return { allow: false, why: 'viewer entry malformed' };
  const id = single(h['x-amz-cf-id']);
  if (id === undefined || id.length < 16 || id.length > 128 || !CF_ID.test(id))
    return { allow: false, why: 'cf-id missing or malformed' };
  const secret = single(h[cfg.headerName ?? 'x-origin-verify']);
  if (secret === undefined || !cfg.secrets.includes(secret))
    return { allow: false, why: 'secret missing or wrong' };
  return { allow: true, why: 'verified' };
}

/** Bytes Node's strict parser refuses in a header value (CTLs other than tab, and DEL). */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** What Node's HTTP server makes of a hand-built request, and whether it may refuse it. */
export interface NodeView {
  /** Headers as `req.headers` would hold them. */
  readonly headers: Record<string, string>;
  readonly path: string;
  /** The bytes include something Node's parser rejects with 400. */
  readonly rejectable: boolean;
  /** Size of the request head in bytes. */
  readonly headBytes: number;
  /** How many `X-Forwarded-For` lines the request carries (adapters pass `rawHeaders`). */
  readonly forwardedForLines: number;
}

/**
 * Model of Node's `req.headers` for the headers of a raw request: names lower-cased, values
 * trimmed of spaces and tabs, repeats joined with `, ` (true of every header used here).
 */
export function nodeView(req: RawRequest, headBytes: number): NodeView {
  const headers: Record<string, string> = { host: '127.0.0.1' };
  let rejectable = false;
  let forwardedForLines = 0;
  for (const [name, value] of req.headers as HeaderList) {
    if (name.toLowerCase() === 'x-forwarded-for') forwardedForLines++;
    if (!TOKEN.test(name) || BAD_VALUE.test(value)) rejectable = true;
    const key = name.toLowerCase();
    const v = trimOws(value);
    // `host` given twice is itself a 400 in Node; the generator never repeats it.
    headers[key] = headers[key] === undefined ? v : `${headers[key]}, ${v}`;
  }
  return { headers, path: req.path, rejectable, headBytes, forwardedForLines };
}

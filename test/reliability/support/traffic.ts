/**
 * Traffic for the reliability tests and the soak: secrets, CloudFront-like edge addresses,
 * viewer addresses, cf-ids, and the raw HTTP/1.1 requests our CloudFront (and everybody else)
 * sends. Randomness comes from a seeded PRNG so a failing run can be replayed with its seed.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
} from '../../aws-local/fixtures.js';

/** The CloudFront origin-facing ranges every guard in these tests is configured with. */
export const CF_RANGES: readonly string[] = Object.freeze([
  ...CLOUDFRONT_ORIGIN_FACING_V4,
  ...CLOUDFRONT_ORIGIN_FACING_V6,
]);

/** `CDN_ORIGIN_GUARD_RANGES` for a static list of the same ranges. */
export const CF_RANGES_ENV = CF_RANGES.join(',');

/** A deterministic PRNG (mulberry32): `() => [0, 1)`. */
export type Rand = () => number;

export function prng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed from `RELIABILITY_SEED` or a random one (printed by the callers that fail). */
export function seedFromEnv(): number {
  const raw = process.env.RELIABILITY_SEED;
  if (raw !== undefined && /^\d+$/.test(raw)) return Number(raw);
  return randomBytes(4).readUInt32LE(0);
}

export function int(rand: Rand, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

export function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** A fresh origin-verify value: printable ASCII, no spaces, recognisable prefix. */
export function newSecret(label = 'ov', length = 48): string {
  const body = randomBytes(length)
    .toString('base64url')
    .slice(0, length - label.length - 1);
  return `${label}-${body}`;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A CloudFront-like request id: 56 base64url characters and `==`. */
export function cfId(rand: Rand): string {
  let s = '';
  for (let i = 0; i < 56; i++) s += B64URL[Math.floor(rand() * 64)];
  return `${s}==`;
}

function v4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function v4Number(text: string): number {
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function v6Groups(text: string): number[] {
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':').map((g) => Number.parseInt(g, 16));
  const t =
    tail === undefined || tail === '' ? [] : tail.split(':').map((g) => Number.parseInt(g, 16));
  return [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
}

/** A random address inside `cidr` (IPv4 or IPv6, canonical text). */
export function addressIn(rand: Rand, cidr: string): string {
  const [base, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  if (base.includes('.')) {
    const size = 2 ** (32 - bits);
    return v4Text((v4Number(base) + Math.floor(rand() * size)) >>> 0);
  }
  const groups = v6Groups(base);
  // Randomise every bit past the prefix.
  for (let g = 0; g < 8; g++) {
    const fixed = Math.max(0, Math.min(16, bits - g * 16));
    if (fixed === 16) continue;
    const mask = fixed === 0 ? 0xffff : 0xffff >>> fixed;
    groups[g] = (groups[g]! & ~mask & 0xffff) | (Math.floor(rand() * 0x10000) & mask);
  }
  return groups.map((g) => g.toString(16)).join(':');
}

/** A random CloudFront origin-facing address (IPv6 one time in five). */
export function edgeAddress(rand: Rand): string {
  const v6 = rand() < 0.2;
  return addressIn(
    rand,
    pick(rand, v6 ? CLOUDFRONT_ORIGIN_FACING_V6 : CLOUDFRONT_ORIGIN_FACING_V4),
  );
}

/** A random public viewer address (documentation and random public ranges, IPv6 sometimes). */
export function viewerAddress(rand: Rand): string {
  if (rand() < 0.15) return addressIn(rand, pick(rand, ['2001:db8::/32', '2a00:1450::/32']));
  // 1.0.0.0 - 99.255.255.255 minus 10/8: public enough for a viewer.
  let first = int(rand, 1, 99);
  if (first === 10) first = 11;
  return `${first}.${int(rand, 0, 255)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}`;
}

/** An address that is not CloudFront origin-facing (a bot hitting the ALB directly). */
export function botAddress(rand: Rand): string {
  // 198.18.0.0/15 (benchmarking) and 203.0.113.0/24 are in no CloudFront range.
  return rand() < 0.5
    ? `198.${int(rand, 18, 19)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}`
    : `203.0.113.${int(rand, 1, 254)}`;
}

/** Header pairs, in order; duplicates allowed; values are latin1 strings (one char = one byte). */
export type HeaderList = readonly (readonly [string, string])[];

/** One hand-built HTTP/1.1 request. */
export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderList;
}

/** Serialise a request exactly as given (keep-alive unless a `connection` header says otherwise). */
export function serialize(req: RawRequest): Buffer {
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`;
  for (const [name, value] of req.headers) head += `${name}: ${value}\r\n`;
  head += '\r\n';
  return Buffer.from(head, 'latin1');
}

/** The headers our CloudFront distribution sends through the ALB. */
export function cloudFrontHeaders(rand: Rand, secret: string, headerName = 'x-origin-verify') {
  return [
    ['x-forwarded-for', `${viewerAddress(rand)}, ${edgeAddress(rand)}`],
    ['x-amz-cf-id', cfId(rand)],
    [headerName, secret],
    ['user-agent', 'Amazon CloudFront'],
    ['via', '2.0 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)'],
  ] as const satisfies HeaderList;
}

/** What a request is, in the mixed-traffic and load runs, and the status it must get. */
export type Kind = 'legit' | 'bot' | 'other-distribution' | 'forged-xff' | 'health-check';

export const EXPECTED_STATUS: Readonly<Record<Kind, number>> = {
  legit: 200,
  bot: 403,
  'other-distribution': 403,
  'forged-xff': 403,
  'health-check': 200,
};

/** Build a request of `kind`. `secret` is what our CloudFront currently sends. */
export function requestOfKind(rand: Rand, kind: Kind, secret: string): RawRequest {
  switch (kind) {
    case 'legit':
      return {
        method: 'GET',
        path: pick(rand, ['/', '/whoami']),
        headers: cloudFrontHeaders(rand, secret),
      };
    case 'bot': {
      // Straight to the ALB: the ALB appends the bot's own address; no cf-id; maybe a guess.
      const headers: [string, string][] = [['x-forwarded-for', botAddress(rand)]];
      if (rand() < 0.5) headers.push(['x-origin-verify', newSecret('guess', secret.length)]);
      if (rand() < 0.3) headers.push(['x-amz-cf-id', cfId(rand)]);
      headers.push(['user-agent', 'Mozilla/5.0 (compatible; scanner)']);
      return {
        method: 'GET',
        path: pick(rand, ['/', '/wp-login.php', '/.env', '/whoami']),
        headers,
      };
    }
    case 'other-distribution': {
      // A real CloudFront edge, a cf-id, but someone else's distribution: no or a wrong secret.
      const headers: [string, string][] = [
        ['x-forwarded-for', `${viewerAddress(rand)}, ${edgeAddress(rand)}`],
        ['x-amz-cf-id', cfId(rand)],
      ];
      if (rand() < 0.7) headers.push(['x-origin-verify', newSecret('other', secret.length)]);
      return { method: 'GET', path: '/', headers };
    }
    case 'forged-xff':
      // Knows the secret (leaked) and forges X-Forwarded-For; the ALB appends its real address.
      return {
        method: 'GET',
        path: '/whoami',
        headers: [
          ['x-forwarded-for', `${viewerAddress(rand)}, ${edgeAddress(rand)}, ${botAddress(rand)}`],
          ['x-amz-cf-id', cfId(rand)],
          ['x-origin-verify', secret],
        ],
      };
    case 'health-check':
      return {
        method: 'GET',
        path: '/healthz',
        headers: [['user-agent', 'ELB-HealthChecker/2.0']],
      };
  }
}

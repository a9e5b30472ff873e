/**
 * Deterministic benchmark data: a CloudFront-origin-facing-like range list made with a seeded
 * PRNG (the shape of `com.amazonaws.global.cloudfront.origin-facing`: /22-/27 IPv4 blocks in
 * AWS regional space, /56-/57 IPv6 blocks), addresses inside and outside it, and the headers
 * of a legitimate CloudFront request through an ALB. Also a plain reference matcher (linear,
 * BigInt) used only to check that every candidate answers the same.
 * @module
 */
import type { OriginGuardOptions } from '../../packages/core/src/options.js';

/** Seed of every list and address pool, so two runs compare the same work. */
export const SEED = 0x5eed_cf01;

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;

const int = (rand: Rand, n: number): number => Math.floor(rand() * n);
const pick = <T>(rand: Rand, list: readonly T[]): T => list[int(rand, list.length)]!;
const u32 = (rand: Rand): number => int(rand, 2 ** 32);

/** First octets of AWS regional address space, where origin-facing blocks live. */
const V4_FIRST_OCTETS = [3, 13, 15, 18, 34, 35, 44, 52, 54, 64, 99, 130, 204] as const;
/** Prefix lengths weighted like the real origin-facing list (mostly /24-/26). */
const V4_PREFIXES = [22, 23, 23, 24, 24, 24, 24, 24, 25, 25, 25, 26, 26, 26, 27] as const;
/** First 32 bits of IPv6 regional blocks (low 4 bits randomised). */
const V6_BASES = [0x2600_1f10, 0x2406_da10, 0x2a05_d010] as const;

/** A generated IPv4 block. */
interface V4Block {
  readonly start: number;
  readonly end: number;
}
/** A generated IPv6 block: 128-bit bounds. */
interface V6Block {
  readonly start: bigint;
  readonly end: bigint;
}

/** A range list with both families and their numeric bounds. */
export interface RangeList {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  /** `v4` then `v6`. */
  readonly all: readonly string[];
  readonly v4Blocks: readonly V4Block[];
  readonly v6Blocks: readonly V6Block[];
}

export function formatV4(x: number): string {
  return `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
}

/** RFC 5952 text of a 128-bit address (compresses the longest zero run). */
export function formatV6(x: bigint): string {
  const groups: number[] = [];
  for (let k = 7; k >= 0; k--) groups.push(Number((x >> BigInt(16 * k)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((v) => v.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/**
 * About `v4Count` IPv4 and `v6Count` IPv6 distinct, plausible origin-facing blocks.
 * Deterministic for a given seed.
 */
export function cloudFrontLikeRanges(v4Count: number, v6Count: number, seed = SEED): RangeList {
  const rand = prng(seed ^ (v4Count * 31 + v6Count));
  const v4 = new Map<string, V4Block>();
  while (v4.size < v4Count) {
    const prefix = pick(rand, V4_PREFIXES);
    const first = pick(rand, V4_FIRST_OCTETS);
    const rest = u32(rand) & 0x00ff_ffff;
    const size = 2 ** (32 - prefix);
    const start = first * 2 ** 24 + rest - ((first * 2 ** 24 + rest) % size);
    v4.set(`${formatV4(start)}/${prefix}`, { start, end: start + size - 1 });
  }
  const v6 = new Map<string, V6Block>();
  while (v6.size < v6Count) {
    const prefix = rand() < 0.8 ? 56 : 57;
    const w0 = BigInt((pick(rand, V6_BASES) | int(rand, 16)) >>> 0);
    const w1 = BigInt(u32(rand));
    const high = (w0 << 96n) | (w1 << 64n);
    const hostBits = BigInt(128 - prefix);
    const start = (high >> hostBits) << hostBits;
    const end = start | ((1n << hostBits) - 1n);
    v6.set(`${formatV6(start)}/${prefix}`, { start, end });
  }
  const v4List = [...v4.keys()];
  const v6List = [...v6.keys()];
  return {
    v4: v4List,
    v6: v6List,
    all: [...v4List, ...v6List],
    v4Blocks: [...v4.values()],
    v6Blocks: [...v6.values()],
  };
}

/** The list of the micro-benchmarks and the servers: 120 IPv4 + 30 IPv6 blocks. */
export const CLOUDFRONT_LIKE = cloudFrontLikeRanges(120, 30);

/** Reference (linear, obviously correct) membership of an IPv4 integer. */
export function refContainsV4(list: RangeList, x: number): boolean {
  return list.v4Blocks.some((b) => x >= b.start && x <= b.end);
}

/** Reference membership of a 128-bit IPv6 address. */
export function refContainsV6(list: RangeList, x: bigint): boolean {
  return list.v6Blocks.some((b) => x >= b.start && x <= b.end);
}

/** Addresses to look up, as text. */
export interface AddressPools {
  readonly v4Hit: readonly string[];
  readonly v4Miss: readonly string[];
  readonly v6Hit: readonly string[];
  readonly v6Miss: readonly string[];
}

function v4HitIn(rand: Rand, list: RangeList): string {
  const b = pick(rand, list.v4Blocks);
  return formatV4(b.start + int(rand, b.end - b.start + 1));
}

function v6HitIn(rand: Rand, list: RangeList): string {
  const b = pick(rand, list.v6Blocks);
  const span = b.end - b.start;
  const offset = ((BigInt(u32(rand)) << 32n) | BigInt(u32(rand))) % (span + 1n);
  return formatV6(b.start + offset);
}

/**
 * `size` addresses of each kind. Misses are half "near" (same /8, or same IPv6 regional /32
 * as a listed block: the binary search has to go deep) and half anywhere.
 */
export function addressPools(list: RangeList, size: number, seed = SEED + 1): AddressPools {
  const rand = prng(seed);
  const v4Hit: string[] = [];
  const v4Miss: string[] = [];
  const v6Hit: string[] = [];
  const v6Miss: string[] = [];
  while (v4Hit.length < size) v4Hit.push(v4HitIn(rand, list));
  while (v6Hit.length < size) v6Hit.push(v6HitIn(rand, list));
  while (v4Miss.length < size) {
    const near = v4Miss.length % 2 === 0;
    const x = near
      ? (((pick(rand, list.v4Blocks).start >>> 24) << 24) | (u32(rand) & 0x00ff_ffff)) >>> 0
      : (u32(rand) % (223 * 2 ** 24)) + 2 ** 24;
    if (!refContainsV4(list, x)) v4Miss.push(formatV4(x));
  }
  while (v6Miss.length < size) {
    const near = v6Miss.length % 2 === 0;
    const w0 = near
      ? BigInt(pick(rand, list.v6Blocks).start >> 96n)
      : BigInt((0x2000_0000 + int(rand, 0x1000_0000)) >>> 0);
    const x =
      (w0 << 96n) | (BigInt(u32(rand)) << 64n) | (BigInt(u32(rand)) << 32n) | BigInt(u32(rand));
    if (!refContainsV6(list, x)) v6Miss.push(formatV6(x));
  }
  return { v4Hit, v4Miss, v6Hit, v6Miss };
}

/** Parses dotted-quad text to an integer (fixtures only). */
export function v4ToInt(text: string): number {
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** The values the benchmark guard accepts: current and previous, as during most of a rotation cycle. */
export const SECRET_CURRENT = 'bench-Origin-Verify-current-7Qx2LmZp9VwR4sTb1Nc8Hd3K';
export const SECRET_PREVIOUS = 'bench-Origin-Verify-previous-Gf6Yj0Ua5Ee2Wq9Ro4Ti7Ps1';
export const SECRET_HEADER = 'x-origin-verify';

const CF_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A 56-character CloudFront-style request id, e.g. `k3L8...==`. */
export function cfId(rand: Rand): string {
  let s = '';
  for (let i = 0; i < 54; i++) s += CF_ID_ALPHABET[int(rand, 64)];
  return `${s}==`;
}

/** One request as the app sees it behind CloudFront and an ALB (proxyHops 1). */
export interface LegitRequest {
  readonly headers: Record<string, string>;
  /** A client-written entry, the viewer (appended by CloudFront) and the edge (appended by the ALB). */
  readonly forwardedFor: string;
  readonly viewer: string;
  readonly edge: string;
  readonly cfId: string;
}

/**
 * Headers of a legitimate request: `X-Forwarded-For` with 3 entries (one the client wrote,
 * the viewer, the CloudFront edge), `X-Amz-Cf-Id`, the secret, and CloudFront's usual others.
 */
export function legitRequest(rand: Rand, list: RangeList, secret = SECRET_CURRENT): LegitRequest {
  const viewer = formatV4((u32(rand) % (200 * 2 ** 24)) + 2 ** 24);
  const forged = formatV4((u32(rand) % (200 * 2 ** 24)) + 2 ** 24);
  const edge = rand() < 0.8 ? v4HitIn(rand, list) : v6HitIn(rand, list);
  const id = cfId(rand);
  const forwardedFor = `${forged}, ${viewer}, ${edge}`;
  return {
    headers: {
      host: 'origin.example.com',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
      accept: '*/*',
      'accept-encoding': 'gzip',
      via: '2.0 4c1a2b3d5e6f7a8b9c0d1e2f3a4b5c6d.cloudfront.net (CloudFront)',
      'x-forwarded-for': forwardedFor,
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-amzn-trace-id': 'Root=1-66b1c2d3-0123456789abcdef01234567',
      'x-amz-cf-id': id,
      [SECRET_HEADER]: secret,
    },
    forwardedFor,
    viewer,
    edge,
    cfId: id,
  };
}

/**
 * Guard options used everywhere in the benchmark: static secret (current + previous), static
 * ranges, loopback and private peers trusted, one proxy hop, `X-Amz-Cf-Id` required.
 */
export function benchGuardOptions(ranges: readonly string[] = CLOUDFRONT_LIKE.all) {
  return {
    secret: [
      { value: SECRET_CURRENT, stage: 'AWSCURRENT' },
      { value: SECRET_PREVIOUS, stage: 'AWSPREVIOUS' },
    ],
    ranges,
    trustedProxies: ['loopback', 'uniquelocal'],
    proxyHops: 1,
    requireCfId: true,
  } satisfies OriginGuardOptions;
}

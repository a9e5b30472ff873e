/**
 * How much of the address space a list of ranges covers, all entries together. The per-entry
 * floors (a CloudFront list entry no broader than /8 or /16, a trusted proxy no broader than a
 * private network) do not stop a list of many entries, each within its floor, from covering
 * every address (256 × `N.0.0.0/8`); this sums the union of the list. Runs when a list is
 * configured or loaded, never per request. Internal: not exported from the package.
 * @module
 */
import { type Cidr, isProxyName, parseCidr, TRUSTED_PROXY_NAMES } from './matcher.js';

/** The most addresses a list may cover, per family, as log2 of the count. */
export interface CoverageLimit {
  readonly 4: number;
  readonly 6: number;
}

const BITS = { 4: 32, 6: 128 } as const;

/** A block as [first address, one past the last], in the family's integer space. */
type Block = readonly [bigint, bigint];

function block(cidr: Cidr): Block {
  const bits = BITS[cidr.family];
  const w = cidr.words;
  const value =
    cidr.family === 4
      ? BigInt(w[0]!)
      : (BigInt(w[0]!) << 96n) | (BigInt(w[1]!) << 64n) | (BigInt(w[2]!) << 32n) | BigInt(w[3]!);
  const size = 1n << BigInt(bits - cidr.prefix);
  const start = value & ~(size - 1n);
  return [start, start + size];
}

/** Addresses in the union of `blocks` (sorted here; overlaps and duplicates counted once). */
function unionSize(blocks: Block[]): bigint {
  blocks.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let total = 0n;
  let end = -1n;
  for (const [start, stop] of blocks) {
    if (stop <= end) continue;
    total += stop - (start > end ? start : end);
    end = stop;
  }
  return total;
}

/**
 * Addresses of each family that `entries` cover together. Trusted-proxy names count as the
 * ranges they stand for; malformed entries are skipped (the matcher reports them).
 */
export function coverage(entries: Iterable<string>): { readonly 4: bigint; readonly 6: bigint } {
  const blocks: { 4: Block[]; 6: Block[] } = { 4: [], 6: [] };
  const add = (text: string) => {
    const cidr = parseCidr(text);
    if (typeof cidr !== 'string') blocks[cidr.family].push(block(cidr));
  };
  for (const entry of entries) {
    if (isProxyName(entry)) for (const text of TRUSTED_PROXY_NAMES[entry]) add(text);
    else add(entry);
  }
  return { 4: unionSize(blocks[4]), 6: unionSize(blocks[6]) };
}

/**
 * Why `entries` cover too much together (more than `limit` allows for a family), or undefined:
 * a predicate for "the entries …".
 * The size is said as the prefix of one block of the same size: "as many IPv4 addresses as a
 * /0" for a list covering all of IPv4.
 */
export function coverageProblem(
  entries: Iterable<string>,
  limit: CoverageLimit,
): string | undefined {
  const covered = coverage(entries);
  for (const family of [4, 6] as const) {
    if (covered[family] <= 1n << BigInt(limit[family])) continue;
    const log2 = covered[family].toString(2).length - 1;
    return `cover as many IPv${family} addresses as a /${BITS[family] - log2} together, more than one /${BITS[family] - limit[family]} holds`;
  }
  return undefined;
}

/**
 * How much of the address space a list of ranges covers, all entries together. The per-entry
 * floors (a CloudFront list entry no broader than /8 or /16, a trusted proxy no broader than a
 * private network) do not stop a list of many entries, each within its floor, from covering
 * every address (256 × `N.0.0.0/8`); this measures the union of the list, as the matcher merges
 * it. Runs when a list is configured or loaded, never per request. Internal: not exported from
 * the package.
 * @module
 */
import { isProxyName, parseCidr, RangeMatcher } from './matcher.js';

/** The most addresses a list may cover, per family, as log2 of the count. */
export interface CoverageLimit {
  readonly 4: number;
  readonly 6: number;
}

const BITS = { 4: 32, 6: 128 } as const;

/**
 * Why `entries` cover too much together (more than `limit` allows for a family), or undefined:
 * a predicate for "the entries …". Trusted-proxy names count as the ranges they stand for;
 * malformed entries are left out (the matcher reports them where the list is compiled). The
 * size is said as the prefix of one block of the same size: "as many IPv4 addresses as a /0"
 * for a list covering all of IPv4.
 */
export function coverageProblem(
  entries: Iterable<string>,
  limit: CoverageLimit,
): string | undefined {
  const wellFormed = [...entries].filter((e) => isProxyName(e) || typeof parseCidr(e) !== 'string');
  const covered = RangeMatcher.compile(wellFormed).addressCount();
  for (const family of [4, 6] as const) {
    if (covered[family] <= 1n << BigInt(limit[family])) continue;
    const log2 = covered[family].toString(2).length - 1;
    return `cover as many IPv${family} addresses as a /${BITS[family] - log2} together, more than one /${BITS[family] - limit[family]} holds`;
  }
  return undefined;
}

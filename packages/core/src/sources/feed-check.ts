/**
 * The sanity floor for CloudFront range lists: one fetched over the network (EC2 prefix lists,
 * ip-ranges.json) or returned by a custom source, with an entry no CloudFront list ever holds,
 * is refused whole, so a hostile or broken feed cannot switch the edge check off; a static
 * `ranges` list with one is an error at construction. Internal: not exported from the package.
 * @module
 */
import { SourceError } from '../errors.js';
import { coverageProblem } from '../net/coverage.js';
import { type Cidr, isProxyName, parseCidr, TRUSTED_PROXY_NAMES } from '../net/matcher.js';

/**
 * Shortest prefix accepted from a fetched list, per family. CloudFront's origin-facing lists
 * hold IPv4 blocks of /16 to /26 and IPv6 blocks of /40 to /56; a /8 or a /16 is far broader
 * than anything AWS publishes.
 */
export const FEED_MIN_PREFIX = Object.freeze({ 4: 8, 6: 16 });

/**
 * The most a CloudFront list may cover, all entries together (log2 of the address count): what
 * one entry at the floor covers, a /8 or a /16. Each entry within the floor is not enough: 256
 * entries of `N.0.0.0/8` cover every IPv4 address. CloudFront's origin-facing lists cover well
 * under a /12 of IPv4 in total.
 */
export const FEED_MAX_COVERAGE = Object.freeze({
  4: 32 - FEED_MIN_PREFIX[4],
  6: 128 - FEED_MIN_PREFIX[6],
});

/** `::ffff:0:0/96` as words: every IPv4 address written as IPv6. */
const MAPPED = Uint32Array.of(0, 0, 0xffff, 0);

/** Whether a parsed IPv6 block overlaps `::ffff:0:0/96`. */
function overlapsMapped(cidr: Cidr): boolean {
  const bits = Math.min(cidr.prefix, 96);
  for (let k = 0; k * 32 < bits; k++) {
    const net = bits - 32 * k;
    const mask = net >= 32 ? 0xffffffff : ~(0xffffffff >>> net) >>> 0;
    if ((cidr.words[k]! & mask) >>> 0 !== (MAPPED[k]! & mask) >>> 0) return false;
  }
  return true;
}

/** Why `text` may not come from a fetched CloudFront list, or undefined if it may. */
export function feedEntryProblem(text: string): string | undefined {
  // `RangeMatcher.compile` expands these names (for trustedProxies); in a CloudFront list they
  // would let private or link-local edges through.
  if (isProxyName(text))
    return `is a trusted-proxy name (${TRUSTED_PROXY_NAMES[text].join(', ')}), not a CloudFront range`;
  const cidr = parseCidr(text);
  // A malformed entry is reported by the compile step, with its index.
  if (typeof cidr === 'string') return undefined;
  if (cidr.family === 4 && text.includes(':'))
    return 'is an IPv4-mapped IPv6 range (inside ::ffff:0:0/96)';
  if (cidr.prefix === 0) return 'matches every address';
  if (cidr.family === 6 && overlapsMapped(cidr))
    return 'overlaps the IPv4-mapped range ::ffff:0:0/96';
  const floor = FEED_MIN_PREFIX[cidr.family];
  if (cidr.prefix < floor)
    return `is broader than /${floor}, the floor for IPv${cidr.family} entries of a CloudFront list`;
  return undefined;
}

/**
 * Throw a `SourceError` naming up to three entries of `cidrs` that a CloudFront list never
 * holds (and why), or saying that the entries together cover more than a CloudFront list does,
 * so the whole list is refused and the last-known-good ranges stay in use.
 */
export function refuseHostileEntries(source: string, what: string, cidrs: Iterable<string>): void {
  const list = [...cidrs];
  const bad: string[] = [];
  let count = 0;
  for (const cidr of list) {
    const problem = feedEntryProblem(cidr);
    if (problem === undefined) continue;
    count++;
    if (bad.length < 3) bad.push(`${JSON.stringify(cidr.slice(0, 64))} ${problem}`);
  }
  if (count > 0)
    throw new SourceError(
      source,
      `${what} was refused: ${bad.join('; ')}${count > bad.length ? ` (and ${count - bad.length} more)` : ''}. A CloudFront origin-facing list never holds such an entry; keeping the last-known-good ranges.`,
      { awsCode: 'HostileRangeList' },
    );
  const tooBroad = coverageProblem(list, FEED_MAX_COVERAGE);
  if (tooBroad !== undefined)
    throw new SourceError(
      source,
      `${what} was refused: its ${list.length} entries ${tooBroad}. A CloudFront origin-facing list never covers that much; keeping the last-known-good ranges.`,
      { awsCode: 'HostileRangeList' },
    );
}

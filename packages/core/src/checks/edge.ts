/**
 * The edge check: a trusted socket peer, then the `X-Forwarded-For` entries walked from the
 * right (our inner proxies, the CloudFront edge, the viewer), without allocating on success.
 * @module
 */
import type { DenyReason } from '../decision.js';
import { formatIp, isCanonicalV6Text, parseForwardedEntry, type TextSpan } from '../net/address.js';
import type { RangeMatcher } from '../net/matcher.js';
import { showHop } from '../request/forwarded.js';

/**
 * What {@link EdgeWalker.walk} found, through an output object the caller owns and reuses
 * (one request at a time).
 */
export interface EdgeHit {
  /** The CloudFront edge address, on success (canonical text). */
  edge: string;
  /** The viewer address CloudFront appended, on success (canonical text). */
  viewer: string;
  /** The entry that failed, shown safely, when one entry failed; else `undefined`. */
  offendingHop: string | undefined;
}

/** A fresh {@link EdgeHit}, to be reused. */
export function newEdgeHit(): EdgeHit {
  return { edge: '', viewer: '', offendingHop: undefined };
}

/** What an {@link EdgeWalker} is built from (resolved options). */
export interface EdgeWalkerConfig {
  /** Ranges every hop right of the edge entry must be in. */
  readonly trusted: RangeMatcher;
  /** Proxies between CloudFront and the app (the ALB is one). */
  readonly proxyHops: number;
  /** Longest `X-Forwarded-For` accepted, in characters. */
  readonly maxForwardedForLength: number;
  /** Scratch words for parsing (shared with the caller; one request at a time). */
  readonly scratch: Uint32Array;
}

/**
 * Text of the entry just parsed into `scratch`: text that is already canonical (a plain dotted
 * quad, or IPv6 written as {@link formatIp} would write it) is sliced, anything else formatted.
 */
function entryText(xff: string, family: 4 | 6, span: TextSpan, scratch: Uint32Array): string {
  if (span.start >= 0) return xff.slice(span.start, span.end);
  const v6Start = span.v6Start ?? -1;
  const v6End = span.v6End ?? -1;
  if (family === 6 && v6Start >= 0 && isCanonicalV6Text(xff, v6Start, v6End, scratch))
    return xff.slice(v6Start, v6End);
  return formatIp(family, scratch);
}

/** Record the entry `xff[start, end)` as the offending hop and return `reason`. */
function offending(
  out: EdgeHit,
  xff: string,
  start: number,
  end: number,
  reason: DenyReason,
): DenyReason {
  out.offendingHop = showHop(xff.slice(start, end));
  return reason;
}

/** The edge check, compiled once from the resolved options. */
export class EdgeWalker {
  readonly #config: EdgeWalkerConfig;
  /** Where the last parsed entry's dotted quad sits; written and read within one `walk`. */
  readonly #span: TextSpan = { start: -1, end: -1, v6Start: -1, v6End: -1 };

  constructor(config: EdgeWalkerConfig) {
    this.#config = config;
  }

  /**
   * Returns the failure reason, or `undefined` with the edge and viewer addresses in `out`. On a
   * failure of one `X-Forwarded-For` entry, `out.offendingHop` shows it (else it is cleared).
   *
   * @param peerTrusted - whether the socket peer is in the trusted proxies.
   * @param xff - the header as one string, or `null` for several header lines (malformed).
   * @param ranges - CloudFront's origin-facing ranges, `undefined` while not loaded.
   */
  walk(
    peerTrusted: boolean,
    xff: string | null,
    ranges: RangeMatcher | undefined,
    out: EdgeHit,
  ): DenyReason | undefined {
    out.offendingHop = undefined;
    if (!peerTrusted) return 'untrusted-peer';
    if (xff === null) return 'malformed-forwarded-for';
    if (xff.length === 0) return 'missing-forwarded-for';
    const { trusted, proxyHops, maxForwardedForLength, scratch } = this.#config;
    if (xff.length > maxForwardedForLength) return 'malformed-forwarded-for';
    const span = this.#span;
    let end = xff.length;
    // Walk from the right: hops appended by our inner proxies, then the edge, then the viewer.
    // Only these entries are read, so a long forged header costs nothing extra.
    for (let k = 0; k < proxyHops; k++) {
      if (end < 0) return 'malformed-forwarded-for';
      const start = end === 0 ? 0 : xff.lastIndexOf(',', end - 1) + 1;
      const family = parseForwardedEntry(xff, start, end, scratch, span);
      if (family === 0) return offending(out, xff, start, end, 'malformed-forwarded-for');
      if (k < proxyHops - 1) {
        if (!trusted.contains(family, scratch))
          return offending(out, xff, start, end, 'untrusted-peer');
        end = start - 1;
        continue;
      }
      if (ranges === undefined) return 'ranges-unavailable';
      if (!ranges.contains(family, scratch))
        return offending(out, xff, start, end, 'edge-not-cloudfront');
      const edge = entryText(xff, family, span, scratch);
      // The viewer entry, appended by CloudFront.
      const vEnd = start - 1;
      if (vEnd < 0) return 'malformed-forwarded-for';
      const vStart = vEnd === 0 ? 0 : xff.lastIndexOf(',', vEnd - 1) + 1;
      const vFamily = parseForwardedEntry(xff, vStart, vEnd, scratch, span);
      if (vFamily === 0) return offending(out, xff, vStart, vEnd, 'malformed-forwarded-for');
      out.edge = edge;
      out.viewer = entryText(xff, vFamily, span, scratch);
      return undefined;
    }
    return 'malformed-forwarded-for';
  }
}

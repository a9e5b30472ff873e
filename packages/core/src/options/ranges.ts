/**
 * Resolution of the range options: `ranges` (`'prefix-list'`, `'ip-ranges'`, static CIDRs or a
 * custom source) and the options that only apply to one of them.
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import { coverageProblem } from '../net/coverage.js';
import { FEED_MAX_COVERAGE, feedEntryProblem } from '../sources/feed-check.js';
import { requirePeer } from '../sources/peer.js';
import { CLOUDFRONT_PREFIX_LIST_IPV6, DEFAULTS } from './defaults.js';
import { awsClient, booleanOption, describe, isSource, stringList } from './readers.js';
import type { ResolvedOptions } from './types.js';

/** Resolve the range options of `given` (the caller's options, read only). */
export function resolveRanges(given: Readonly<Record<string, unknown>>): ResolvedOptions['ranges'] {
  const ranges = given.ranges ?? DEFAULTS.ranges;
  const names = given.prefixListNames;
  const ipv6 = booleanOption('ipv6', given.ipv6);
  if (ranges !== 'prefix-list') {
    for (const key of ['prefixListNames', 'ec2Client'] as const)
      if (given[key] !== undefined)
        throw new InvalidOptionError(
          key,
          "only applies with `ranges: 'prefix-list'`; remove it or set `ranges: 'prefix-list'`.",
        );
    if (given.ipv6 !== undefined)
      throw new InvalidOptionError(
        'ipv6',
        "only applies with `ranges: 'prefix-list'` (ip-ranges always includes IPv6).",
      );
  }
  if (ranges !== 'ip-ranges' && given.ipRangesUrl !== undefined)
    throw new InvalidOptionError('ipRangesUrl', "only applies with `ranges: 'ip-ranges'`.");
  if (ranges === 'prefix-list') {
    const list = stringList(
      'prefixListNames',
      names,
      ipv6 ? [...DEFAULTS.prefixListNames, CLOUDFRONT_PREFIX_LIST_IPV6] : DEFAULTS.prefixListNames,
    );
    if (list.length === 0)
      throw new InvalidOptionError(
        'prefixListNames',
        'is empty; list at least one prefix-list name.',
      );
    const client = awsClient('ec2Client', given.ec2Client, 'an EC2Client from @aws-sdk/client-ec2');
    if (client === undefined) requirePeer('ranges', '@aws-sdk/client-ec2', 'ec2Client');
    return { kind: 'prefix-list', names: list, client };
  }
  if (ranges === 'ip-ranges') {
    const allowInsecure = booleanOption('allowInsecureIpRangesUrl', given.allowInsecureIpRangesUrl);
    const url = given.ipRangesUrl ?? DEFAULTS.ipRangesUrl;
    let parsed: URL | undefined;
    try {
      parsed = typeof url === 'string' ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:'))
      throw new InvalidOptionError(
        'ipRangesUrl',
        `is ${describe(url)}; expected an https URL of an ip-ranges.json document.`,
      );
    if (parsed.protocol === 'http:' && !allowInsecure)
      throw new InvalidOptionError(
        'ipRangesUrl',
        `is an http: URL (${parsed.origin}); use https:, or set \`allowInsecureIpRangesUrl: true\` for a local test server or a mirror on a trusted network.`,
      );
    return { kind: 'ip-ranges', url: parsed.href, allowInsecure };
  }
  if (isSource(ranges)) {
    if (typeof ranges.name !== 'string')
      throw new InvalidOptionError(
        'ranges.name',
        'must be a string naming the custom range source.',
      );
    return { kind: 'source', source: ranges };
  }
  if (Array.isArray(ranges)) {
    // As the other options of one kind of ranges: given where it would do nothing, an error.
    if (given.rangesMaxStaleMs !== undefined)
      throw new InvalidOptionError(
        'rangesMaxStaleMs',
        "does not apply to a static `ranges` list, which is never refreshed and so never confirmed current; remove it, or load the ranges from AWS with `ranges: 'prefix-list'` or `'ip-ranges'`.",
      );
    if (ranges.length === 0)
      throw new InvalidOptionError(
        'ranges',
        "is an empty list; give CloudFront's origin-facing CIDRs, or 'prefix-list' / 'ip-ranges'.",
      );
    const cidrs = stringList('ranges', ranges, []);
    cidrs.forEach((cidr, i) => {
      const problem = feedEntryProblem(cidr);
      if (problem !== undefined)
        throw new InvalidOptionError(
          `ranges[${i}]`,
          `is ${JSON.stringify(cidr.slice(0, 64))}, which ${problem}: the edge check would pass addresses that are not CloudFront's. List CloudFront's origin-facing ranges (IPv4 blocks of /13 to /26, IPv6 of /28 to /56), or use \`ranges: 'prefix-list'\` / \`'ip-ranges'\` to load them from AWS.`,
        );
    });
    const tooBroad = coverageProblem(cidrs, FEED_MAX_COVERAGE);
    if (tooBroad !== undefined)
      throw new InvalidOptionError(
        'ranges',
        `has ${cidrs.length} entries that ${tooBroad}: each entry is within the floor, but together they would pass addresses that are not CloudFront's. List CloudFront's origin-facing ranges, or use \`ranges: 'prefix-list'\` / \`'ip-ranges'\` to load them from AWS.`,
      );
    return { kind: 'static', cidrs };
  }
  throw new InvalidOptionError(
    'ranges',
    `is ${describe(ranges)}; expected 'prefix-list', 'ip-ranges', an array of CIDRs, or a RangeSource.`,
  );
}

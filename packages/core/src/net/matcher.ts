/**
 * Strict CIDR parsing and the compiled range table matched on the per-request hot path.
 *
 * CIDRs are parsed once, when options are resolved or a range source refreshes; a lookup is a
 * binary search over typed arrays with no allocation.
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import { type Family, formatIp, parseIpRange } from './address.js';

/** A parsed CIDR block: network address words and prefix length. */
export interface Cidr {
  /** `4` or `6`. IPv4-mapped IPv6 CIDRs are returned as IPv4. */
  readonly family: 4 | 6;
  /** Length 4: `words[0]` for IPv4 (rest 0), `words[0..3]` big-endian for IPv6. */
  readonly words: Uint32Array;
  /** Prefix length: 0-32 for IPv4, 0-128 for IPv6. */
  readonly prefix: number;
}

/**
 * Named groups of trusted-proxy ranges, with the same meaning as in proxy-addr.
 *
 * `loopback`: `127.0.0.0/8`, `::1/128`; `linklocal`: `169.254.0.0/16`, `fe80::/10`;
 * `uniquelocal`: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `fc00::/7`.
 * {@link RangeMatcher.compile} expands a name found in its list.
 * @example
 * ```ts
 * import { RangeMatcher } from '@cdn-origin-guard/core';
 * const proxies = RangeMatcher.compile(['loopback', 'uniquelocal'], 'trustedProxies');
 * proxies.containsText('10.1.2.3'); // true
 * ```
 */
export const TRUSTED_PROXY_NAMES: Readonly<
  Record<'loopback' | 'linklocal' | 'uniquelocal', readonly string[]>
> = Object.freeze({
  loopback: Object.freeze(['127.0.0.0/8', '::1/128']),
  linklocal: Object.freeze(['169.254.0.0/16', 'fe80::/10']),
  uniquelocal: Object.freeze(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
});

type ProxyName = keyof typeof TRUSTED_PROXY_NAMES;

/** Whether `text` is one of {@link TRUSTED_PROXY_NAMES}. */
export function isProxyName(text: string): text is ProxyName {
  return Object.hasOwn(TRUSTED_PROXY_NAMES, text);
}

/** Bits of word `k` (0-3) that lie past a prefix of `prefix` bits (the host part). */
function hostMask(prefix: number, k: number): number {
  const netBits = prefix - 32 * k;
  if (netBits <= 0) return 0xffffffff;
  if (netBits >= 32) return 0;
  return 0xffffffff >>> netBits;
}

/** Parses a prefix length: decimal, no sign, no leading zeros. Returns -1 when malformed. */
function parsePrefixLength(text: string, s: number, e: number): number {
  const len = e - s;
  if (len < 1 || len > 3) return -1;
  if (len > 1 && text.charCodeAt(s) === 48) return -1;
  let value = 0;
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    value = value * 10 + (c - 48);
  }
  return value;
}

function describeBadAddress(text: string, end: number): string {
  const part = text.slice(0, end);
  if (part.length === 0) return 'the address before `/` is missing';
  if (part.trim() !== part) return 'it has surrounding whitespace';
  if (part.includes('%')) return 'zone ids (`%...`) are not allowed';
  if (part.startsWith('[')) return 'brackets are not allowed around an IPv6 address';
  if (end < text.length) {
    return `the address ${JSON.stringify(part)} is not a valid IPv4 or IPv6 address`;
  }
  return 'it is not a valid IPv4 or IPv6 address or CIDR';
}

/**
 * Strictly parses a CIDR block (`addr/len`, or a bare address meaning `/32` or `/128`).
 *
 * The prefix length is decimal without leading zeros, 0-32 for IPv4 and 0-128 for IPv6, and
 * the host bits must be zero. An IPv4-mapped IPv6 block `::ffff:a.b.c.d/N` with `N >= 96` is
 * returned as the IPv4 block `a.b.c.d/(N-96)`, because parsed addresses normalise mapped IPv6
 * to IPv4 (so `::ffff:0:0/96` means every IPv4 address). Mapped blocks shorter than `/96`
 * necessarily have host bits set and are rejected. No whitespace is trimmed.
 *
 * @returns the parsed block, or a message describing what is wrong (never throws).
 * @example
 * ```ts
 * import { parseCidr } from '@cdn-origin-guard/core';
 * parseCidr('10.0.0.0/8'); // { family: 4, words: Uint32Array [167772160, 0, 0, 0], prefix: 8 }
 * parseCidr('10.0.0.1/8'); // 'host bits are set; did you mean 10.0.0.0/8?'
 * ```
 */
export function parseCidr(text: string): Cidr | string {
  if (typeof text !== 'string') return `expected a string, got ${typeof text}`;
  if (text.length === 0) return 'it is empty';
  const slash = text.indexOf('/');
  const addressEnd = slash < 0 ? text.length : slash;
  const words = new Uint32Array(4);
  const parsed = parseIpRange(text, 0, addressEnd, words);
  if (parsed === 0) return describeBadAddress(text, addressEnd);
  // A mapped address was written as IPv6 (it contains `:`) but parsed as IPv4.
  const mapped = parsed === 4 && text.lastIndexOf(':', addressEnd) >= 0;
  const writtenBits = parsed === 6 || mapped ? 128 : 32;

  let prefix = writtenBits;
  if (slash >= 0) {
    prefix = parsePrefixLength(text, slash + 1, text.length);
    if (prefix < 0) {
      const given = text.slice(slash + 1);
      if (/^0+[0-9]+$/.test(given)) {
        return `the prefix length ${JSON.stringify(given)} has a leading zero; write /${Number(given)}`;
      }
      return `the prefix length ${JSON.stringify(given)} must be a decimal number (no sign or leading zeros)`;
    }
    if (prefix > writtenBits) {
      return `the prefix length /${prefix} is too long for ${writtenBits === 32 ? 'IPv4 (0-32)' : 'IPv6 (0-128)'}`;
    }
  }

  if (mapped) {
    if (prefix < 96) {
      // `::ffff` sits in bits 80-95, so a mapped block shorter than /96 has host bits set.
      const v6 = new Uint32Array([0, 0, 0xffff, words[0]!]);
      return hostBitsMessage(6, v6, prefix);
    }
    prefix -= 96;
  }
  const family: 4 | 6 = parsed;
  const wordCount = family === 4 ? 1 : 4;
  for (let k = 0; k < wordCount; k++) {
    if ((words[k]! & hostMask(prefix, k)) !== 0) {
      return mapped
        ? hostBitsMessage(6, new Uint32Array([0, 0, 0xffff, words[0]!]), prefix + 96)
        : hostBitsMessage(family, words, prefix);
    }
  }
  return { family, words, prefix };
}

function hostBitsMessage(family: 4 | 6, words: Uint32Array, prefix: number): string {
  const network = new Uint32Array(4);
  for (let k = 0; k < (family === 4 ? 1 : 4); k++) {
    network[k] = (words[k]! & ~hostMask(prefix, k)) >>> 0;
  }
  return `host bits are set; did you mean ${formatIp(family, network)}/${prefix}?`;
}

/** Lexicographic comparison of 4-word keys at offsets `ao` in `a` and `bo` in `b`. */
function compareKeys(a: Uint32Array, ao: number, b: Uint32Array, bo: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ao + k]!;
    const y = b[bo + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** `key + 1` as a new 4-word key, or `undefined` when `key` is the last address. */
function successor(key: Uint32Array): Uint32Array | undefined {
  const next = key.slice();
  for (let k = 3; k >= 0; k--) {
    if (next[k] !== 0xffffffff) {
      next[k] = next[k]! + 1;
      return next;
    }
    next[k] = 0;
  }
  return undefined;
}

function quoteEntry(entry: string): string {
  const shown = entry.length > 80 ? `${entry.slice(0, 77)}...` : entry;
  return JSON.stringify(shown);
}

function nameHint(entry: string): string {
  const folded = entry.toLowerCase().replace(/[\s_-]/g, '');
  if (isProxyName(folded)) return `; did you mean \`${folded}\`?`;
  if (/^[a-z\s_-]+$/i.test(entry)) {
    return `; expected a CIDR or one of the names ${Object.keys(TRUSTED_PROXY_NAMES).join(', ')}`;
  }
  return '';
}

/**
 * A compiled, immutable set of IPv4 and IPv6 CIDR ranges with O(log n), allocation-free
 * lookups.
 *
 * Ranges are merged (overlapping and adjacent blocks become one range) and sorted into typed
 * arrays: IPv4 as `[start, end]` uint32 pairs (plus a 257-entry index by first octet that
 * bounds the binary search), IPv6 as `[start, end]` pairs of 4-word big-endian keys. The
 * families are kept strictly apart: an IPv6 address is never matched against IPv4 ranges or
 * the reverse (so `::/0` does not contain `1.2.3.4`). IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`) are IPv4 addresses here, as the parsers normalise them.
 * @example
 * ```ts
 * import { RangeMatcher, parseForwardedEntry } from '@cdn-origin-guard/core';
 * const cloudfront = RangeMatcher.compile(['130.176.0.0/17', '2600:9000:2000::/36']);
 * const words = new Uint32Array(4);
 * const family = parseForwardedEntry('130.176.1.2:443', 0, 15, words);
 * cloudfront.contains(family, words); // true
 * ```
 */
export class RangeMatcher {
  /** Number of merged ranges, both families. */
  readonly size: number;
  /** Number of merged IPv4 ranges. */
  readonly sizeV4: number;
  /** Number of merged IPv6 ranges. */
  readonly sizeV6: number;
  /** A frozen copy of the list the matcher was compiled from. */
  readonly source: readonly string[];

  /** Sorted, disjoint, non-adjacent `[start, end]` pairs. */
  readonly #v4: Uint32Array;
  /**
   * For each first octet `b` (0-256), the index of the first IPv4 range ending at or after
   * `b.0.0.0`. It narrows the binary search to the ranges that can hold an address with that
   * first octet, which halves the lookup cost on lists clustered like CloudFront's.
   */
  readonly #v4Index: Uint32Array;
  /** Sorted, disjoint, non-adjacent `[start0..3, end0..3]` 8-word records. */
  readonly #v6: Uint32Array;
  readonly #scratch = new Uint32Array(4);

  private constructor(source: readonly string[], v4: Uint32Array, v6: Uint32Array) {
    this.source = source;
    this.#v4 = v4;
    this.#v4Index = indexByFirstOctet(v4);
    this.#v6 = v6;
    this.sizeV4 = v4.length / 2;
    this.sizeV6 = v6.length / 8;
    this.size = this.sizeV4 + this.sizeV6;
  }

  /**
   * Compiles a list of CIDRs (and trusted-proxy names) into a matcher.
   *
   * Every entry is parsed strictly with {@link parseCidr}; the names in
   * {@link TRUSTED_PROXY_NAMES} (`loopback`, `linklocal`, `uniquelocal`) are expanded. An
   * empty list compiles to a matcher that contains nothing.
   *
   * @param cidrs - CIDR blocks such as `10.0.0.0/8` or `2600:9000::/28`, bare addresses, or
   *   names.
   * @param optionName - the option path named in errors. Defaults to `ranges`.
   * @throws InvalidOptionError naming the option, the entry's index and value, and what is
   *   wrong with it (e.g. `host bits are set; did you mean 10.0.0.0/8?`).
   * @example
   * ```ts
   * import { RangeMatcher } from '@cdn-origin-guard/core';
   * const matcher = RangeMatcher.compile(['10.0.0.0/8', 'loopback'], 'trustedProxies');
   * matcher.containsText('::1'); // true
   * ```
   */
  static compile(cidrs: readonly string[], optionName = 'ranges'): RangeMatcher {
    if (!Array.isArray(cidrs)) {
      throw new InvalidOptionError(optionName, 'must be an array of CIDR strings');
    }
    const source = Object.freeze(cidrs.slice()) as readonly string[];
    const v4: [number, number][] = [];
    const v6: [Uint32Array, Uint32Array][] = [];
    const add = (cidr: Cidr): void => {
      if (cidr.family === 4) {
        const start = cidr.words[0]!;
        v4.push([start, start + 2 ** (32 - cidr.prefix) - 1]);
      } else {
        const end = new Uint32Array(4);
        for (let k = 0; k < 4; k++) end[k] = (cidr.words[k]! | hostMask(cidr.prefix, k)) >>> 0;
        v6.push([cidr.words, end]);
      }
    };

    for (let i = 0; i < source.length; i++) {
      const entry: unknown = source[i];
      if (typeof entry !== 'string') {
        throw new InvalidOptionError(
          optionName,
          `has an invalid entry at index ${i}: expected a CIDR string, got ${entry === null ? 'null' : typeof entry}`,
        );
      }
      if (isProxyName(entry)) {
        for (const name of TRUSTED_PROXY_NAMES[entry]) add(parseCidr(name) as Cidr);
        continue;
      }
      const parsed = parseCidr(entry);
      if (typeof parsed === 'string') {
        throw new InvalidOptionError(
          optionName,
          `has an invalid entry at index ${i} (${quoteEntry(entry)}): ${parsed}${nameHint(entry)}`,
        );
      }
      add(parsed);
    }

    return new RangeMatcher(source, mergeV4(v4), mergeV6(v6));
  }

  /**
   * How many addresses of each family the ranges cover together (overlaps counted once): what
   * the range-list checks compare against their limits. Not for the request path.
   *
   * @example
   * ```ts
   * import { RangeMatcher } from '@cdn-origin-guard/core';
   * RangeMatcher.compile(['10.0.0.0/8', '10.1.0.0/16']).addressCount(); // { 4: 16777216n, 6: 0n }
   * ```
   */
  addressCount(): { readonly 4: bigint; readonly 6: bigint } {
    let v4 = 0n;
    for (let i = 0; i < this.#v4.length; i += 2)
      v4 += BigInt(this.#v4[i + 1]!) - BigInt(this.#v4[i]!) + 1n;
    const key = (o: number) =>
      this.#v6.slice(o, o + 4).reduce((value, word) => (value << 32n) | BigInt(word), 0n);
    let v6 = 0n;
    for (let o = 0; o < this.#v6.length; o += 8) v6 += key(o + 4) - key(o) + 1n;
    return { 4: v4, 6: v6 };
  }

  /**
   * Whether a parsed address lies in one of the ranges. O(log n), no allocation.
   *
   * @param family - as returned by `parseIp` or `parseForwardedEntry`; `0` answers `false`.
   * @param words - the parser's output words.
   */
  contains(family: Family, words: Uint32Array): boolean {
    if (family === 4) return this.#containsV4(words[0]!);
    if (family !== 6) return false;
    const a = words[0]!;
    const b = words[1]!;
    const c = words[2]!;
    const d = words[3]!;
    // Defensive: words built by hand may still hold an IPv4-mapped address.
    if (a === 0 && b === 0 && c === 0xffff) return this.#containsV4(d);
    const t = this.#v6;
    let lo = 0;
    let hi = t.length / 8 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const o = mid * 8;
      if (compareWords(a, b, c, d, t, o) < 0) hi = mid - 1;
      else if (compareWords(a, b, c, d, t, o + 4) > 0) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /**
   * Parses an IP literal strictly (as `parseIp`) and tells whether it lies in the ranges.
   * Invalid text answers `false`.
   * @example
   * ```ts
   * import { RangeMatcher } from '@cdn-origin-guard/core';
   * RangeMatcher.compile(['1.2.3.0/24']).containsText('::ffff:1.2.3.4'); // true
   * ```
   */
  containsText(address: string): boolean {
    const scratch = this.#scratch;
    return this.contains(parseIpRange(address, 0, address.length, scratch), scratch);
  }

  #containsV4(x: number): boolean {
    const t = this.#v4;
    const index = this.#v4Index;
    const octet = x >>> 24;
    // A range holding x is at or after index[octet] (it ends at or after x) and at or
    // before index[octet + 1] (every later range starts after that one's end, past x).
    let lo = index[octet]!;
    let hi = index[octet + 1]!;
    if (hi >= t.length >>> 1) hi = (t.length >>> 1) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (x < t[mid * 2]!) hi = mid - 1;
      else if (x > t[mid * 2 + 1]!) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/** Compares the key (a, b, c, d) with the 4-word key at `t[o..o+3]`. */
function compareWords(a: number, b: number, c: number, d: number, t: Uint32Array, o: number) {
  let y = t[o]!;
  if (a !== y) return a < y ? -1 : 1;
  y = t[o + 1]!;
  if (b !== y) return b < y ? -1 : 1;
  y = t[o + 2]!;
  if (c !== y) return c < y ? -1 : 1;
  y = t[o + 3]!;
  if (d !== y) return d < y ? -1 : 1;
  return 0;
}

function indexByFirstOctet(v4: Uint32Array): Uint32Array {
  const count = v4.length >>> 1;
  const index = new Uint32Array(257);
  let r = 0;
  for (let octet = 0; octet <= 256; octet++) {
    const first = octet * 0x1000000;
    while (r < count && v4[r * 2 + 1]! < first) r++;
    index[octet] = r;
  }
  return index;
}

function mergeV4(ranges: [number, number][]): Uint32Array {
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const merged: number[] = [];
  for (const [start, end] of ranges) {
    const last = merged.length - 1; // index of the previous range's end
    if (last >= 0 && start <= merged[last]! + 1) {
      if (end > merged[last]!) merged[last] = end;
    } else {
      merged.push(start, end);
    }
  }
  return Uint32Array.from(merged);
}

function mergeV6(ranges: [Uint32Array, Uint32Array][]): Uint32Array {
  ranges.sort((x, y) => compareKeys(x[0], 0, y[0], 0) || compareKeys(x[1], 0, y[1], 0));
  const merged: [Uint32Array, Uint32Array][] = [];
  for (const [start, end] of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined) {
      const after = successor(last[1]);
      if (after === undefined || compareKeys(start, 0, after, 0) <= 0) {
        if (compareKeys(end, 0, last[1], 0) > 0) last[1] = end;
        continue;
      }
    }
    merged.push([start, end]);
  }
  const table = new Uint32Array(merged.length * 8);
  merged.forEach(([start, end], i) => {
    table.set(start, i * 8);
    table.set(end, i * 8 + 4);
  });
  return table;
}

/**
 * IP literal parsing for the per-request hot path, and `X-Forwarded-For` entry parsing.
 *
 * Parsers write into a caller-owned `Uint32Array` scratch (length >= 4) and return the family,
 * so a request costs no allocation. They are char-code loops: no regular expression, no
 * `split`, no substring.
 *
 * Words layout:
 * - IPv4: `out[0]` is the address as an unsigned 32-bit integer; `out[1..3]` are set to 0.
 * - IPv6: `out[0..3]` are the four big-endian 32-bit words of the 128-bit address.
 * - IPv4-mapped IPv6 (`::ffff:a.b.c.d`, `::ffff:102:304`) is normalised to IPv4, so a mapped
 *   address is matched against IPv4 ranges and never against IPv6 ranges.
 *
 * On failure (family `0`) the contents of `out` are unspecified.
 * @module
 */

/** An address family as returned by the parsers: `4`, `6`, or `0` for "not an address". */
export type Family = 0 | 4 | 6;

const COLON = 58;
const DOT = 46;
const LBRACKET = 91;
const RBRACKET = 93;
const SPACE = 32;
const TAB = 9;

/** Scratch for the eight 16-bit groups of an IPv6 address (module-level, never escapes). */
const groups = new Uint16Array(8);
/** Scratch used by {@link normalizeIp}. */
const normalizeScratch = new Uint32Array(4);

/** Hex digit values by char code (0-127); -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

/** Value of one hex digit, or -1. */
function hexValue(c: number): number {
  return c < 128 ? HEX[c]! : -1;
}

/**
 * Parses a strict dotted quad starting at text[s], reading no further than `e`. Each part is
 * `0` or 1-3 digits without a leading zero, at most 255 (the parts `net.isIPv4` accepts).
 * @param out - receives the address in `out[0]` (as an unsigned 32-bit integer) on success.
 * @returns the index just past the dotted quad, or -1 when there is none at `s` (`out[0]` is
 *   then unspecified).
 */
function parseV4Prefix(text: string, s: number, e: number, out: Uint32Array): number {
  let i = s;
  let acc = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= e || text.charCodeAt(i) !== DOT) return -1;
      i++;
    }
    if (i >= e) return -1;
    let d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    let value = d;
    i++;
    // A part starting with 0 is just `0`: `01` leaves a digit where a dot must follow.
    if (value !== 0 && i < e) {
      d = text.charCodeAt(i) - 48;
      if (d >= 0 && d <= 9) {
        value = value * 10 + d;
        i++;
        if (i < e) {
          d = text.charCodeAt(i) - 48;
          if (d >= 0 && d <= 9) {
            value = value * 10 + d;
            i++;
            if (value > 255) return -1;
          }
        }
      }
    }
    acc = acc * 256 + value;
  }
  out[0] = acc;
  return i;
}

/**
 * Parses a strict dotted quad filling text[s, e) exactly (what `net.isIPv4` accepts) into
 * `out[0]`.
 * @returns whether text[s, e) is one.
 */
function parseV4(text: string, s: number, e: number, out: Uint32Array): boolean {
  return parseV4Prefix(text, s, e, out) === e;
}

/**
 * Parses an IPv6 literal in text[s, e) (full, `::`, embedded IPv4 tail; no zone id) into
 * out[0..3] as big-endian words. Does not normalise IPv4-mapped addresses.
 */
function parseV6(text: string, s: number, e: number, out: Uint32Array): boolean {
  const len = e - s;
  // Shortest is `::`; longest is `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255` (45).
  if (len < 2 || len > 45) return false;
  let i = s;
  let n = 0; // groups written
  let gap = -1; // index in `groups` where `::` stands, or -1
  if (text.charCodeAt(i) === COLON) {
    if (text.charCodeAt(i + 1) !== COLON) return false; // a lone leading `:`
    gap = 0;
    i += 2;
  }
  if (i < e) {
    for (;;) {
      if (n === 8) return false;
      const groupStart = i;
      let value = 0;
      while (i < e && i - groupStart < 4) {
        const h = hexValue(text.charCodeAt(i));
        if (h < 0) break;
        value = (value << 4) | h;
        i++;
      }
      if (i === groupStart) return false; // empty group: `:::`, `1::2:`, junk
      if (i === e) {
        groups[n++] = value;
        break;
      }
      const c = text.charCodeAt(i);
      if (c === DOT) {
        // Embedded IPv4 tail: must be the last 32 bits and run to the end.
        // `out` is free until the end: the tail goes through out[0] into the groups.
        if (n > 6 || !parseV4(text, groupStart, e, out)) return false;
        const v4 = out[0]!;
        groups[n++] = v4 >>> 16;
        groups[n++] = v4 & 0xffff;
        break;
      }
      if (c !== COLON) return false; // a fifth hex digit, `%zone`, `]`, anything else
      groups[n++] = value;
      i++;
      if (i === e) return false; // a lone trailing `:`
      if (text.charCodeAt(i) === COLON) {
        if (gap >= 0) return false; // a second `::`
        gap = n;
        i++;
        if (i === e) break;
      }
    }
  }
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    // `::` stands for at least one zero group (`1:2:3:4:5:6:7::8` is invalid).
    if (n > 7) return false;
    const tail = n - gap;
    for (let j = tail - 1; j >= 0; j--) groups[8 - tail + j] = groups[gap + j]!;
    for (let j = gap; j < 8 - tail; j++) groups[j] = 0;
  }
  out[0] = ((groups[0]! << 16) | groups[1]!) >>> 0;
  out[1] = ((groups[2]! << 16) | groups[3]!) >>> 0;
  out[2] = ((groups[4]! << 16) | groups[5]!) >>> 0;
  out[3] = ((groups[6]! << 16) | groups[7]!) >>> 0;
  return true;
}

/** Family of a parsed IPv6 address, normalising IPv4-mapped `::ffff:0:0/96` to IPv4. */
function finishV6(out: Uint32Array): Family {
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3]!;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    return 4;
  }
  return 6;
}

/** Completes `out` for the IPv4 address parsed into `out[0]`. */
function storeV4(out: Uint32Array): Family {
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  return 4;
}

/**
 * Strictly parses the IP literal occupying text[start, end) into `out` (see {@link parseIp}).
 * @internal
 */
export function parseIpRange(text: string, start: number, end: number, out: Uint32Array): Family {
  if (parseV4(text, start, end, out)) return storeV4(out);
  return parseV6(text, start, end, out) ? finishV6(out) : 0;
}

/**
 * Strictly parses an IP literal into caller-owned scratch words, without allocating.
 *
 * IPv4 is accepted exactly as `net.isIPv4` accepts it (four decimal parts 0-255, no leading
 * zeros, no short, hex or octal forms). IPv6 is accepted in every form `net.isIPv6` accepts
 * except zone ids (`fe80::1%eth0` is rejected). IPv4-mapped IPv6 (`::ffff:1.2.3.4`,
 * `::FFFF:102:304`) is normalised and returns `4`. No whitespace is trimmed.
 *
 * @param text - the literal, e.g. `203.0.113.7` or `2001:db8::1`.
 * @param out - scratch of length >= 4: `out[0]` holds an IPv4 address; `out[0..3]` the
 *   big-endian words of an IPv6 address. Unspecified when the result is `0`.
 * @returns `4`, `6`, or `0` when `text` is not a valid IP literal.
 * @example
 * ```ts
 * import { parseIp } from '@cdn-origin-guard/core';
 * const words = new Uint32Array(4);
 * parseIp('::ffff:1.2.3.4', words); // 4, words[0] === 0x01020304
 * ```
 */
export function parseIp(text: string, out: Uint32Array): Family {
  return parseIpRange(text, 0, text.length, out);
}

/**
 * Whether `text`, which {@link parseIp} parsed as IPv4, is a plain dotted quad (already
 * canonical) rather than IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `0:0:0:0:0:ffff:102:304`). A
 * dotted quad has its first `.` at index 1, 2 or 3; mapped text has `:` or hex digits there
 * (its first `.`, if any, comes after `::ffff:`). Three reads instead of a scan for `:`.
 * @internal
 */
export function isDottedQuadText(text: string): boolean {
  return text.charCodeAt(1) === DOT || text.charCodeAt(2) === DOT || text.charCodeAt(3) === DOT;
}

/** Whether text[s, e) is a port: 1 to 5 decimal digits with a value of 0-65535. */
function isPort(text: string, s: number, e: number): boolean {
  const len = e - s;
  if (len < 1 || len > 5) return false;
  let value = 0;
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    value = value * 10 + (c - 48);
  }
  return value <= 65535;
}

/**
 * Where {@link parseForwardedEntry} found the address in its text, so a caller can slice text
 * that is already canonical instead of formatting the words. The caller owns it and passes it
 * in (reused across calls, one entry at a time).
 */
export interface TextSpan {
  /** A plain dotted-quad IPv4 address (canonical as it is): its start, else `-1`. */
  start: number;
  /** Just past that dotted quad, else `-1`. */
  end: number;
  /**
   * An IPv6 literal (family `6`), brackets and port left out: its start, else `-1`. It may or
   * may not be canonical: see {@link isCanonicalV6Text}. Written when present or when the
   * object is the caller's own full span.
   */
  v6Start?: number;
  /** Just past that IPv6 literal, else `-1`. */
  v6End?: number;
}

/**
 * Parses one `X-Forwarded-For` entry occupying text[start, end), without allocating.
 *
 * Trims ASCII spaces and tabs on both sides, then accepts `IPv4`, `IPv4:port`, `IPv6`,
 * `[IPv6]` and `[IPv6]:port` (port: 1 to 5 digits, 0-65535), the shapes an AWS ALB writes
 * with `routing.http.xff_client_port.enabled`. A bare IPv6 followed by `:port` is only
 * accepted when the whole text is itself a valid IPv6 address (and then it is read as one).
 * Empty entries, zone ids, brackets around IPv4 and anything else return `0`.
 *
 * @param text - the whole header value; only text[start, end) is read.
 * @param start - index of the entry's first character.
 * @param end - index just past the entry's last character (e.g. of the next comma).
 * @param out - scratch of length >= 4, filled as by {@link parseIp}.
 * @param v4Span - optional output: where a plain dotted quad was found (see {@link TextSpan}).
 * @returns `4`, `6` or `0`. IPv4-mapped IPv6 is normalised to `4`.
 * @example
 * ```ts
 * import { parseForwardedEntry } from '@cdn-origin-guard/core';
 * const header = '198.51.100.1, [2600:9000::1]:443';
 * const words = new Uint32Array(4);
 * parseForwardedEntry(header, header.indexOf(',') + 1, header.length, words); // 6
 * ```
 */
export function parseForwardedEntry(
  text: string,
  start: number,
  end: number,
  out: Uint32Array,
  v4Span?: TextSpan,
): Family {
  if (v4Span !== undefined) {
    v4Span.start = -1;
    v4Span.end = -1;
    v4Span.v6Start = -1;
    v4Span.v6End = -1;
  }
  let s = start;
  let e = end;
  while (s < e) {
    const c = text.charCodeAt(s);
    if (c !== SPACE && c !== TAB) break;
    s++;
  }
  while (e > s) {
    const c = text.charCodeAt(e - 1);
    if (c !== SPACE && c !== TAB) break;
    e--;
  }
  if (s === e) return 0;

  if (text.charCodeAt(s) === LBRACKET) {
    let close = s + 1;
    while (close < e && text.charCodeAt(close) !== RBRACKET) close++;
    if (close === e) return 0; // `[::1`
    if (close + 1 !== e && (text.charCodeAt(close + 1) !== COLON || !isPort(text, close + 2, e))) {
      return 0;
    }
    return parseV6(text, s + 1, close, out) ? v6Found(out, s + 1, close, v4Span) : 0;
  }

  // An IPv6 address never starts with a dotted quad (an IPv4 tail follows a `:`), so a
  // dotted quad here is IPv4, alone or with a port.
  const stop = parseV4Prefix(text, s, e, out);
  if (stop >= 0) {
    if (stop !== e && (text.charCodeAt(stop) !== COLON || !isPort(text, stop + 1, e))) return 0;
    if (v4Span !== undefined) {
      v4Span.start = s;
      v4Span.end = stop;
    }
    return storeV4(out);
  }
  return parseV6(text, s, e, out) ? v6Found(out, s, e, v4Span) : 0;
}

/** The family of an IPv6 literal just parsed at text[s, e), recording where it sits when IPv6. */
function v6Found(out: Uint32Array, s: number, e: number, span: TextSpan | undefined): Family {
  const family = finishV6(out);
  if (family === 6 && span !== undefined) {
    span.v6Start = s;
    span.v6End = e;
  }
  return family;
}

/**
 * Whether text[s, e) is exactly the text {@link formatIp} gives for the IPv6 address in
 * `words` (RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups as
 * `::`, the leftmost on ties), checked character by character without building a string. The
 * edge walk slices such text instead of formatting it; most addresses are written this way.
 * Always false for IPv4-mapped words (formatIp writes them in mixed notation).
 * @internal
 */
export function isCanonicalV6Text(text: string, s: number, e: number, words: Uint32Array): boolean {
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return false;
  const g = splitGroups(words);
  longestZeroRun(g, zeroRun);
  const runStart = zeroRun.start;
  const runEnd = runStart < 0 ? -1 : runStart + zeroRun.length;
  let p = s;
  for (let i = 0; i < 8; i++) {
    if (i === runStart) {
      if (p + 2 > e || text.charCodeAt(p) !== COLON || text.charCodeAt(p + 1) !== COLON)
        return false;
      p += 2;
      i = runEnd - 1;
      continue;
    }
    if (i > 0 && i !== runEnd) {
      if (p >= e || text.charCodeAt(p) !== COLON) return false;
      p++;
    }
    const v = g[i]!;
    for (
      let shift = v >= 0x1000 ? 12 : v >= 0x100 ? 8 : v >= 0x10 ? 4 : 0;
      shift >= 0;
      shift -= 4
    ) {
      const digit = (v >>> shift) & 0xf;
      if (p >= e || text.charCodeAt(p) !== (digit < 10 ? 48 + digit : 87 + digit)) return false;
      p++;
    }
  }
  return p === e;
}

/** The eight 16-bit groups of IPv6 `words`, in {@link formatGroups} (module-level scratch). */
function splitGroups(words: Uint32Array): Uint16Array {
  const g = formatGroups;
  for (let k = 0; k < 4; k++) {
    const w = words[k]!;
    g[2 * k] = w >>> 16;
    g[2 * k + 1] = w & 0xffff;
  }
  return g;
}

/** A run of zero groups: where it starts (`-1`: none of two or more) and how long it is. */
interface ZeroRun {
  start: number;
  length: number;
}

/** Output of {@link longestZeroRun}, reused (one address at a time). */
const zeroRun: ZeroRun = { start: -1, length: 1 };

/** The longest run of two or more zero groups in `g`, the leftmost on ties, into `out`. */
function longestZeroRun(g: Uint16Array, out: ZeroRun): void {
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  out.start = bestStart;
  out.length = bestLen;
}

/**
 * Formats parsed words as canonical text, for decisions and logs (not used for matching).
 *
 * IPv4 as a dotted quad; IPv6 as RFC 5952 recommends: lowercase, no leading zeros, the
 * longest run of two or more zero groups compressed to `::` (the leftmost on ties), and
 * IPv4-mapped addresses in mixed notation (`::ffff:1.2.3.4`).
 *
 * @param family - `4` or `6`, as returned by a parser.
 * @param words - `words[0]` for IPv4, `words[0..3]` (big-endian) for IPv6.
 * @example
 * ```ts
 * import { formatIp, parseIp } from '@cdn-origin-guard/core';
 * const words = new Uint32Array(4);
 * const family = parseIp('2001:DB8:0:0:1:0:0:1', words);
 * if (family !== 0) formatIp(family, words); // '2001:db8::1:0:0:1'
 * ```
 */
export function formatIp(family: 4 | 6, words: Uint32Array): string {
  if (family === 4) return formatV4(words[0]!);
  const w0 = words[0]!;
  const w1 = words[1]!;
  const w2 = words[2]!;
  const w3 = words[3]!;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatV4(w3)}`;
  const g = splitGroups(words);
  longestZeroRun(g, zeroRun);
  const bestStart = zeroRun.start;
  const bestLen = zeroRun.length;
  // One string built left to right from table pieces: no arrays, no `toString(16)`.
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    text += hexGroup(g[i]!);
    if (i < 7) text += ':';
  }
  return text;
}

/** Scratch for {@link formatIp}'s eight groups (module-level, never escapes). */
const formatGroups = new Uint16Array(8);
/** Lowercase hex of 0-255 without leading zeros (`0`, `a`, `ff`). */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16));
/** Lowercase hex of 0-255 as exactly two digits (`00`, `0a`, `ff`). */
const HEX_BYTE_2: readonly string[] = HEX_BYTE.map((h) => h.padStart(2, '0'));

/** A 16-bit group as lowercase hex without leading zeros, from two table lookups. */
function hexGroup(v: number): string {
  const high = v >>> 8;
  return high === 0 ? HEX_BYTE[v]! : HEX_BYTE[high]! + HEX_BYTE_2[v & 0xff]!;
}

function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/**
 * Parses an IP literal strictly (as {@link parseIp}) and returns its canonical text.
 *
 * @returns the canonical form (IPv4-mapped IPv6 becomes the IPv4 dotted quad), or
 *   `undefined` when `text` is not a valid IP literal.
 * @example
 * ```ts
 * import { normalizeIp } from '@cdn-origin-guard/core';
 * normalizeIp('2001:0DB8::0001'); // '2001:db8::1'
 * normalizeIp('::ffff:10.0.0.1'); // '10.0.0.1'
 * normalizeIp('10.0.0.01'); // undefined
 * ```
 */
export function normalizeIp(text: string): string | undefined {
  const family = parseIp(text, normalizeScratch);
  return family === 0 ? undefined : formatIp(family, normalizeScratch);
}

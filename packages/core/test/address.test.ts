import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Family,
  formatIp,
  isCanonicalV6Text,
  isDottedQuadText,
  normalizeIp,
  parseForwardedEntry,
  parseIp,
} from '../src/net/address.js';

const scratch = new Uint32Array(4);

/** parseIp and return family plus the meaningful words, for readable table assertions. */
function parse(text: string): [Family, ...number[]] {
  const family = parseIp(text, scratch);
  if (family === 4) return [4, scratch[0]!];
  if (family === 6) return [6, ...scratch];
  return [0];
}

function parseEntry(text: string): [Family, ...number[]] {
  const family = parseForwardedEntry(text, 0, text.length, scratch);
  if (family === 4) return [4, scratch[0]!];
  if (family === 6) return [6, ...scratch];
  return [0];
}

/**
 * Independent reference for tests: expands an IPv6 literal to 8 groups with string
 * operations (no shared code with the char-code parser). Input must already be valid.
 */
function referenceGroups(text: string): number[] {
  let body = text;
  const tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    const [a, b, c, d] = body
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    tail.push(a * 256 + b, c * 256 + d);
    body = `${body.slice(0, lastColon + 1)}0`; // placeholder group, removed below
  }
  const toGroups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  let groups: number[];
  if (body.includes('::')) {
    const [left, right] = body.split('::') as [string, string];
    const l = toGroups(left);
    const r = toGroups(right);
    if (tail.length > 0) r.pop();
    groups = [...l, ...new Array(8 - l.length - r.length - tail.length).fill(0), ...r];
  } else {
    groups = toGroups(body);
    if (tail.length > 0) groups.pop();
  }
  return [...groups, ...tail];
}

/** Independent RFC 5952 text for 8 groups (string/regex based, test-only). */
function referenceCanonical(groups: number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  const hex = groups.map((g) => g.toString(16));
  let best = '';
  for (const run of `:${hex.join(':')}:`.match(/(?::0)+(?=:)/g) ?? []) {
    if (run.length > best.length && run.length >= 4) best = run;
  }
  const full = `:${hex.join(':')}:`;
  const compressed = best === '' ? full : full.replace(`${best}:`, '::');
  // Strip the sentinel colons, keeping a `::` at either end.
  return compressed.replace(/^:(?!:)/, '').replace(/(?<!:):$/, '');
}

function wordsOf(groups: number[]): number[] {
  return [0, 1, 2, 3].map((k) => (groups[2 * k]! * 0x10000 + groups[2 * k + 1]!) >>> 0);
}

describe('parseIp: IPv4', () => {
  it.each([
    ['0.0.0.0', 0],
    ['1.2.3.4', 0x01020304],
    ['255.255.255.255', 0xffffffff],
    ['10.0.0.1', 0x0a000001],
    ['192.168.100.200', 0xc0a864c8],
  ])('accepts the dotted quad %s', (text, value) => {
    expect(parse(text)).toEqual([4, value]);
  });

  it.each([
    ['256.1.1.1', 'a part above 255'],
    ['1.2.3.256', 'a last part above 255'],
    ['1.2.3.04', 'a leading zero'],
    ['01.2.3.4', 'a leading zero in the first part'],
    ['1.2.3.00', 'a double zero'],
    ['1.2.3', 'three parts'],
    ['1.2.3.4.5', 'five parts'],
    ['1.2..4', 'an empty part'],
    ['.1.2.3', 'a leading dot'],
    ['1.2.3.4.', 'a trailing dot'],
    ['0x1.2.3.4', 'a hex part'],
    ['1.2.3.0x4', 'a hex last part'],
    ['16909060', 'a single integer'],
    ['1.2.3.-4', 'a sign'],
    ['+1.2.3.4', 'a plus sign'],
    [' 1.2.3.4', 'a leading space'],
    ['1.2.3.4 ', 'a trailing space'],
    ['1.2.3.4\n', 'a trailing newline'],
    ['１.2.3.4', 'a full-width digit'],
    ['1.2.3.4\u00e9', 'a trailing non-ASCII letter'],
    ['1.2.3.1234', 'a four-digit part'],
    ['', 'nothing'],
  ])('rejects %j (%s)', (text) => {
    expect(parse(text)).toEqual([0]);
  });
});

describe('parseIp: IPv6', () => {
  it.each([
    ['::', [0, 0, 0, 0]],
    ['::1', [0, 0, 0, 1]],
    ['1::', [0x00010000, 0, 0, 0]],
    ['2001:db8::1', [0x20010db8, 0, 0, 1]],
    ['2001:DB8::AbCd', [0x20010db8, 0, 0, 0xabcd]],
    ['1:2:3:4:5:6:7:8', [0x00010002, 0x00030004, 0x00050006, 0x00070008]],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]],
    ['0001:0002:0003:0004:0005:0006:0007:0008', [0x00010002, 0x00030004, 0x00050006, 0x00070008]],
    ['1:2:3:4:5:6:7::', [0x00010002, 0x00030004, 0x00050006, 0x00070000]],
    ['::2:3:4:5:6:7:8', [0x00000002, 0x00030004, 0x00050006, 0x00070008]],
    ['1::8', [0x00010000, 0, 0, 8]],
    ['fe80::1:2', [0xfe800000, 0, 0, 0x00010002]],
    ['::1.2.3.4', [0, 0, 0, 0x01020304]],
    ['64:ff9b::1.2.3.4', [0x0064ff9b, 0, 0, 0x01020304]],
    ['1:2:3:4:5:6:1.2.3.4', [0x00010002, 0x00030004, 0x00050006, 0x01020304]],
    ['1:2:3:4:5::1.2.3.4', [0x00010002, 0x00030004, 0x00050000, 0x01020304]],
    ['::ffff:0:1.2.3.4', [0, 0, 0xffff0000, 0x01020304]],
    ['2600:9000:2000::', [0x26009000, 0x20000000, 0, 0]],
  ])('accepts %s', (text, words) => {
    expect(parse(text)).toEqual([6, ...words]);
  });

  it.each([
    ['fe80::1%eth0', 'a zone id'],
    ['fe80::1%1', 'a numeric zone id'],
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['1:2:3:4:5:6:7', 'seven groups without ::'],
    ['1:2:3:4:5:6:7::8', ':: standing for no group'],
    ['1::2::3', 'two ::'],
    [':::', 'three colons'],
    ['1:::2', 'three colons inside'],
    [':1::2', 'a lone leading colon'],
    ['1::2:', 'a lone trailing colon'],
    ['00001::1', 'a five-digit group'],
    ['g::1', 'a non-hex digit'],
    ['[::1]', 'brackets'],
    ['::1 ', 'a trailing space'],
    ['::1.2.3', 'a short IPv4 tail'],
    ['::1.2.3.04', 'a leading zero in the IPv4 tail'],
    ['::256.1.2.3', 'an IPv4 tail part above 255'],
    ['1:2:3:4:5:6::1.2.3.4', 'an IPv4 tail after six groups and ::'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'an IPv4 tail after seven groups'],
    ['1.2.3.4::', 'an IPv4 part not at the end'],
    ['::1.2.3.4:5', 'a group after the IPv4 tail'],
    ['::1:80]', 'a stray bracket'],
    ['::ｆ', 'a full-width hex digit'],
    [':', 'a single colon'],
  ])('rejects %j (%s)', (text) => {
    expect(parse(text)).toEqual([0]);
  });
});

describe('parseIp: IPv4-mapped IPv6 is normalised to IPv4', () => {
  it.each([
    '::ffff:1.2.3.4',
    '::FFFF:1.2.3.4',
    '::ffff:102:304',
    '::FfFf:0102:0304',
    '0:0:0:0:0:ffff:1.2.3.4',
    '0:0:0:0:0:FFFF:102:304',
  ])('parses %s as IPv4 1.2.3.4', (text) => {
    expect(parse(text)).toEqual([4, 0x01020304]);
  });

  it('leaves other IPv4-embedding prefixes as IPv6', () => {
    expect(parse('::1.2.3.4')[0]).toBe(6);
    expect(parse('64:ff9b::1.2.3.4')[0]).toBe(6);
    expect(parse('::ffff:0:1.2.3.4')[0]).toBe(6);
    expect(parse('::fffe:1.2.3.4')[0]).toBe(6);
  });

  it('clears the unused words of an IPv4 result', () => {
    const out = new Uint32Array([9, 9, 9, 9]);
    expect(parseIp('::ffff:1.2.3.4', out)).toBe(4);
    expect([...out]).toEqual([0x01020304, 0, 0, 0]);
  });
});

describe('isCanonicalV6Text: text that formatIp would write, checked without formatting', () => {
  const canonical = (text: string) => {
    expect(parseIp(text, scratch)).toBe(6);
    return isCanonicalV6Text(text, 0, text.length, scratch);
  };

  it.each([
    '2001:db8::1',
    '::1',
    '::',
    '1::',
    '2600:9000:2345:6789:abcd:ef01:2345:6789',
    '2001:db8:0:1:1:1:1:1',
    '2001:db8::1:0:0:1',
    '1:0:0:2::3',
    '2001:0:0:1::1',
    '1::2:0:0:3:4',
    'fe80::a:b',
  ])('accepts %s', (text) => {
    expect(canonical(text)).toBe(true);
    expect(formatIp(6, scratch)).toBe(text);
  });

  it.each([
    ['2001:DB8::1', 'upper case'],
    ['2001:0db8::1', 'a leading zero'],
    ['2001:db8:0:0:1:1:1:1', 'a run of two zero groups not compressed'],
    ['2001:db8::1:1:1:1:1', '`::` for a single zero group'],
    ['2001::1:0:0:0:1', 'not the longest run compressed'],
    ['1:0:0:2::3:4', 'the rightmost of two equal runs compressed'],
    ['::ffff:0:1.2.3.4', 'an IPv4 tail'],
  ])('refuses %s (%s)', (text) => {
    expect(canonical(text)).toBe(false);
    expect(formatIp(6, scratch)).not.toBe(text);
  });

  it('reads only text[s, e): a canonical literal inside a longer text', () => {
    const text = '[2001:db8::1]:443';
    expect(parseIp('2001:db8::1', scratch)).toBe(6);
    expect(isCanonicalV6Text(text, 1, 12, scratch)).toBe(true);
    expect(isCanonicalV6Text(text, 1, 11, scratch)).toBe(false);
    expect(isCanonicalV6Text(text, 1, 13, scratch)).toBe(false);
  });

  it('is true exactly when the text equals formatIp (property)', () => {
    const words = new Uint32Array(4);
    fc.assert(
      // fast-check's IPv6 text comes in many forms; some are put in upper case too.
      fc.property(fc.tuple(fc.ipV6(), fc.boolean()), ([written, upper]) => {
        const text = upper ? written.toUpperCase() : written;
        if (parseIp(text, words) !== 6) return true;
        return isCanonicalV6Text(text, 0, text.length, words) === (text === formatIp(6, words));
      }),
      { numRuns: 5000 },
    );
    // Random words, many zero groups: the canonical text of each is accepted.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        for (let k = 0; k < 4; k++) words[k] = ((groups[2 * k]! << 16) | groups[2 * k + 1]!) >>> 0;
        if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return true;
        const text = formatIp(6, words);
        return isCanonicalV6Text(text, 0, text.length, words);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('isDottedQuadText: plain IPv4 text vs IPv4-mapped text', () => {
  it.each([
    ['1.2.3.4', true],
    ['10.0.1.23', true],
    ['255.255.255.255', true],
    ['::ffff:1.2.3.4', false],
    ['::FFFF:102:304', false],
    ['0:0:0:0:0:ffff:1.2.3.4', false],
    ['0::ffff:1.2.3.4', false],
    ['00::ffff:1.2.3.4', false],
    ['000::ffff:1.2.3.4', false],
    ['0000::ffff:1.2.3.4', false],
    ['0000:0000:0000:0000:0000:ffff:0102:0304', false],
  ])('%s parses as IPv4 and is a dotted quad: %s', (text, plain) => {
    expect(parseIp(text, scratch)).toBe(4);
    expect(isDottedQuadText(text)).toBe(plain);
  });

  it('agrees with "contains no colon" on every text parseIp reads as IPv4 (property)', () => {
    const hexGroup = fc.constantFrom('0', '00', '000', '0000');
    const ffff = fc.constantFrom('ffff', 'FFFF', 'FfFf');
    const mapped = fc.oneof(
      fc.tuple(ffff, fc.ipV4()).map(([f, v4]) => `::${f}:${v4}`),
      fc.tuple(hexGroup, ffff, fc.ipV4()).map(([z, f, v4]) => `${z}::${f}:${v4}`),
      fc
        .tuple(fc.array(hexGroup, { minLength: 5, maxLength: 5 }), ffff, fc.ipV4())
        .map(([zs, f, v4]) => `${zs.join(':')}:${f}:${v4}`),
    );
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), mapped), (text) => {
        if (parseIp(text, scratch) !== 4) return true;
        return isDottedQuadText(text) === !text.includes(':');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseForwardedEntry', () => {
  it.each([
    ['1.2.3.4', [4, 0x01020304]],
    ['1.2.3.4:5678', [4, 0x01020304]],
    ['1.2.3.4:0', [4, 0x01020304]],
    ['1.2.3.4:65535', [4, 0x01020304]],
    ['1.2.3.4:00080', [4, 0x01020304]],
    ['2001:db8::1', [6, 0x20010db8, 0, 0, 1]],
    ['[2001:db8::1]', [6, 0x20010db8, 0, 0, 1]],
    ['[2001:db8::1]:5678', [6, 0x20010db8, 0, 0, 1]],
    ['[::ffff:1.2.3.4]:443', [4, 0x01020304]],
    ['::ffff:1.2.3.4', [4, 0x01020304]],
    ['  1.2.3.4', [4, 0x01020304]],
    ['1.2.3.4 \t ', [4, 0x01020304]],
    ['\t[::1]:80\t', [6, 0, 0, 0, 1]],
    // Ambiguous: a bare IPv6 "with a port" is read as the IPv6 address it spells.
    ['2001:db8::1:80', [6, 0x20010db8, 0, 0, 0x00010080]],
  ])('accepts %j', (text, expected) => {
    expect(parseEntry(text)).toEqual(expected);
  });

  it.each([
    ['', 'an empty entry'],
    ['   ', 'only spaces'],
    ['\t \t', 'only blanks'],
    ['1.2.3.4:99999', 'a port above 65535'],
    ['1.2.3.4:65536', 'a port of 65536'],
    ['1.2.3.4:123456', 'a six-digit port'],
    ['1.2.3.4:', 'an empty port'],
    ['1.2.3.4:-1', 'a signed port'],
    ['1.2.3.4:80:90', 'two ports'],
    ['1.2.3.4 :80', 'a blank before the port'],
    ['1.2.3.4x80', 'a letter instead of the port colon'],
    ['1.2.3.4.80', 'a dot instead of the port colon'],
    ['1.2.3.4/24', 'a CIDR'],
    ['1.2.3.4]:80', 'a closing bracket after IPv4'],
    ['[::1', 'an unclosed bracket'],
    ['::1]:80', 'a closing bracket without an opening one'],
    ['[::1]:', 'an empty port after brackets'],
    ['[::1]80', 'a port without a colon'],
    ['[::1]:99999', 'a bracketed port above 65535'],
    ['[]', 'empty brackets'],
    ['[]:80', 'empty brackets with a port'],
    ['[1.2.3.4]', 'brackets around IPv4'],
    ['[1.2.3.4]:80', 'brackets around IPv4 with a port'],
    ['[[::1]]', 'double brackets'],
    ['2001:db8::1:99999', 'a bare IPv6 with a port that is not itself IPv6'],
    ['1:2:3:4:5:6:7:8:80', 'a full bare IPv6 with a port'],
    ['fe80::1%eth0', 'a zone id'],
    ['[fe80::1%eth0]:80', 'a bracketed zone id'],
    ['１.2.3.4', 'a full-width digit'],
    ['1.2.3.4\u00e9', 'a trailing non-ASCII letter'],
    ['1.2.3.4\u00a0', 'a trailing non-breaking space'],
    ['1.2.3.04', 'a leading zero'],
    ['256.1.1.1', 'a part above 255'],
    ['1.2.3.4, 5.6.7.8', 'two entries'],
    ['unknown', 'junk'],
    ['1.2.3.4\n', 'a newline (only spaces and tabs are trimmed)'],
  ])('rejects %j (%s)', (text) => {
    expect(parseEntry(text)).toEqual([0]);
  });

  it('reads only the given index range of a header', () => {
    const header = '203.0.113.9, [2600:9000::1]:443 ,10.0.0.1';
    const first = header.indexOf(',');
    const second = header.indexOf(',', first + 1);

    expect(parseForwardedEntry(header, 0, first, scratch)).toBe(4);
    expect(scratch[0]).toBe(0xcb007109);
    expect(parseForwardedEntry(header, first + 1, second, scratch)).toBe(6);
    expect([...scratch]).toEqual([0x26009000, 0, 0, 1]);
    expect(parseForwardedEntry(header, second + 1, header.length, scratch)).toBe(4);
    expect(scratch[0]).toBe(0x0a000001);
    expect(parseForwardedEntry(header, first, first, scratch)).toBe(0);
  });
});

describe('formatIp and normalizeIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:0:1:1:1:1:1:1', '1:0:1:1:1:1:1:1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:A0B:C0D', '10.11.12.13'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('normalises %s to %s', (text, canonical) => {
    expect(normalizeIp(text)).toBe(canonical);
  });

  it.each(['1.2.3.04', 'fe80::1%eth0', '', 'x', '[::1]'])('returns undefined for %j', (text) => {
    expect(normalizeIp(text)).toBeUndefined();
  });

  it('formats IPv4-mapped words given as IPv6 in mixed notation', () => {
    expect(formatIp(6, new Uint32Array([0, 0, 0xffff, 0x01020304]))).toBe('::ffff:1.2.3.4');
  });
});

describe('parseIp agrees with net.isIP (property)', () => {
  const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF.:%[]'.split(''));
  const tokens = fc.constantFrom(
    '0',
    '1',
    '00',
    '01',
    '9',
    '10',
    '99',
    '255',
    '256',
    '0255',
    'ff',
    'FFFF',
    'ffff',
    'abcd',
    '12345',
    'g',
    ':',
    ':',
    ':',
    '::',
    '.',
    '.',
    '%',
    '%eth0',
    '[',
    ']',
    '1.2.3.4',
  );

  /** Checks one string against net.isIP; returns nothing, throws on disagreement. */
  function agrees(text: string): void {
    const family = parseIp(text, scratch);
    const expected = net.isIP(text);
    if (expected === 6 && text.includes('%')) {
      expect(family).toBe(0); // zone ids are rejected on purpose
    } else if (expected === 6 && family === 4) {
      // Mapped normalisation: Node's own canonical text must be ::ffff:<that IPv4>.
      const canonical = new net.SocketAddress({ address: text, family: 'ipv6' }).address;
      expect(canonical).toBe(`::ffff:${formatIp(4, scratch)}`);
    } else {
      expect(family).toBe(expected);
    }
  }

  it('on random strings over 0-9a-fA-F.:%[] (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 48 }), (text) => agrees(text)),
      { numRuns: 10_000 },
    );
  });

  it('on near-valid strings built from address tokens (10,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.array(tokens, { minLength: 1, maxLength: 16 }).map((t) => t.join('')),
        (text) => agrees(text),
      ),
      { numRuns: 10_000 },
    );
  });

  it('on fc.ipV4(), fc.ipV4Extended() and fc.ipV6() outputs (6,000 runs)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6()), (text) => agrees(text)),
      { numRuns: 6_000 },
    );
  });

  it('on arbitrary Unicode strings, never throwing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 48 }), (text) => agrees(text)),
      { numRuns: 2_000 },
    );
  });
});

describe('formatIp is canonical (property)', () => {
  // Reference: an independent string-based expander and RFC 5952 formatter written above,
  // cross-checked against Node's `new net.SocketAddress({ address, family }).address`
  // wherever Node prints pure hex (Node prints IPv4-compatible `::a.b.c.d` forms in
  // dotted notation, which RFC 5952 does not recommend).
  it('matches the reference and net.SocketAddress for fc.ipV6() outputs (5,000 runs)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const family = parseIp(text, scratch);
        const groups = referenceGroups(text);
        const canonical = referenceCanonical(groups);
        const node = new net.SocketAddress({ address: text, family: 'ipv6' }).address;
        if (family === 4) {
          expect(canonical).toBe(`::ffff:${formatIp(4, scratch)}`);
          expect(node).toBe(canonical);
          return;
        }
        expect(family).toBe(6);
        expect([...scratch]).toEqual(wordsOf(groups));
        expect(formatIp(6, scratch)).toBe(canonical);
        if (!node.includes('.')) expect(formatIp(6, scratch)).toBe(node);
      }),
      { numRuns: 5_000 },
    );
  });

  it('round-trips random words through formatIp and parseIp (5,000 runs)', () => {
    const word = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (groups) => {
        const words = new Uint32Array(wordsOf(groups));
        const text = formatIp(6, words);
        expect(text).toBe(referenceCanonical(groups));
        const node = new net.SocketAddress({ address: text, family: 'ipv6' }).address;
        if (!node.includes('.')) expect(text).toBe(node);
        const family = parseIp(text, scratch);
        const mapped = words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
        expect(family).toBe(mapped ? 4 : 6);
        expect(scratch[0]).toBe(mapped ? words[3] : words[0]);
      }),
      { numRuns: 5_000 },
    );
  });

  it('matches net.SocketAddress for fc.ipV4() outputs (2,000 runs)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        expect(parseIp(text, scratch)).toBe(4);
        expect(formatIp(4, scratch)).toBe(new net.SocketAddress({ address: text }).address);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseForwardedEntry agrees with a regex and net.isIP oracle (property)', () => {
  /** Independent oracle: the host part of a valid entry, or undefined. */
  function oracleHost(entry: string): string | undefined {
    const trimmed = entry.replace(/^[ \t]+|[ \t]+$/g, '');
    const validPort = (p: string | undefined) => p === undefined || Number(p) <= 65535;
    const bracketed = /^\[([^\]]*)\](?::([0-9]{1,5}))?$/.exec(trimmed);
    if (bracketed) {
      const [, host, port] = bracketed as unknown as [string, string, string | undefined];
      return net.isIPv6(host) && !host.includes('%') && validPort(port) ? host : undefined;
    }
    const ported = /^([0-9.]+):([0-9]{1,5})$/.exec(trimmed);
    if (ported && net.isIPv4(ported[1]!)) return validPort(ported[2]) ? ported[1] : undefined;
    return net.isIP(trimmed) !== 0 && !trimmed.includes('%') ? trimmed : undefined;
  }

  const tokens = fc.constantFrom(
    '1.2.3.4',
    '255.0.0.1',
    '01',
    '0',
    '1',
    '80',
    '65535',
    '65536',
    '123456',
    'ffff',
    'db8',
    ':',
    '::',
    '.',
    '[',
    ']',
    ' ',
    '\t',
    '%',
    'x',
    '/',
    '\u00e9',
  );

  it('on near-valid entries built from address, port and bracket tokens (10,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.array(tokens, { maxLength: 12 }).map((t) => t.join('')),
        (entry) => {
          const host = oracleHost(entry);
          const family = parseForwardedEntry(entry, 0, entry.length, scratch);
          const got = [...scratch];
          if (host === undefined) {
            expect(family).toBe(0);
          } else {
            expect(family).toBe(parseIp(host, scratch));
            expect(got).toEqual([...scratch]);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe('parseForwardedEntry accepts every ALB shape of a valid address (property)', () => {
  const blanks = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
  const port = fc.integer({ min: 0, max: 65535 }).map(String);

  it('agrees with parseIp for bare, bracketed and ported entries inside a header (5,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6()),
        fc.option(port, { nil: undefined }),
        fc.boolean(),
        blanks,
        blanks,
        (address, p, bracket, before, after) => {
          const v6 = address.includes(':');
          let entry = address;
          if (v6 && (bracket || p !== undefined)) entry = `[${address}]`;
          if (p !== undefined) entry += `:${p}`;
          const header = `9.9.9.9,${before}${entry}${after},8.8.8.8`;
          const start = header.indexOf(',') + 1;
          const end = header.lastIndexOf(',');

          const family = parseForwardedEntry(header, start, end, scratch);
          const got = [...scratch];
          const expected = parseIp(address, scratch);

          expect(family).toBe(expected);
          expect(family).not.toBe(0);
          expect(got).toEqual([...scratch]);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

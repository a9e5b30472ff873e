/**
 * Cross-checks RangeMatcher against node:net's BlockList on random prefix lists, with probe
 * addresses biased to range boundaries (start - 1, start, end, end + 1).
 *
 * BlockList is used per family only: it matches IPv4 addresses against IPv6 rules covering
 * ::ffff:0:0/96 (e.g. `::/0` contains `1.2.3.4`), while RangeMatcher keeps families strictly
 * apart. So cross-family answers are asserted to be false directly, IPv6 probes are drawn
 * outside ::ffff:0:0/96, and IPv4-mapped addresses are tested on their own.
 */
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeMatcher } from '../src/net/matcher.js';

const MAX32 = 0xffffffff;
const MAX128 = (1n << 128n) - 1n;
const MAX96 = (1n << 96n) - 1n;
const MAPPED_START = 0xffffn << 32n;
const MAPPED_END = MAPPED_START | 0xffffffffn;

interface V4Range {
  start: number;
  end: number;
  prefix: number;
  text: string;
}

interface V6Range {
  start: bigint;
  end: bigint;
  prefix: number;
  text: string;
}

// ---- IPv4 helpers (independent of the code under test) ----

function v4Text(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

const v4Address = fc.oneof(
  fc.integer({ min: 0, max: MAX32 }),
  // Clustered bases, so ranges overlap, nest and touch.
  fc
    .tuple(
      fc.constantFrom(0x82b00000, 0x0d200000, 0xc0a80000, 0xffff0000, 0),
      fc.integer({ min: 0, max: 0xffff }),
    )
    .map(([high, low]) => (high | low) >>> 0),
);

const v4Prefix = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 12, arbitrary: fc.integer({ min: 8, max: 32 }) },
);

/** 64 addresses where small blocks leave one-address gaps between them and touch. */
const v4Dense = fc.integer({ min: 0x0a000000, max: 0x0a00003f });

function v4Block([address, prefix]: [number, number]): V4Range {
  const size = 2 ** (32 - prefix);
  const start = Math.floor(address / size) * size; // host bits zeroed
  return { start, end: start + size - 1, prefix, text: `${v4Text(start)}/${prefix}` };
}

const v4Range: fc.Arbitrary<V4Range> = fc.oneof(
  { weight: 2, arbitrary: fc.tuple(v4Address, v4Prefix).map(v4Block) },
  { weight: 1, arbitrary: fc.tuple(v4Dense, fc.integer({ min: 26, max: 32 })).map(v4Block) },
);

const v4List = fc.array(v4Range, { minLength: 1, maxLength: 200, size: 'max' });

// ---- IPv6 helpers (BigInt is fine in tests; the matcher itself never uses it) ----

function v6Words(v: bigint): Uint32Array {
  return new Uint32Array([
    Number((v >> 96n) & 0xffffffffn),
    Number((v >> 64n) & 0xffffffffn),
    Number((v >> 32n) & 0xffffffffn),
    Number(v & 0xffffffffn),
  ]);
}

/** Uncompressed text, so the formatter under test is not involved. */
function v6Text(v: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((v >> shift) & 0xffffn).toString(16));
  }
  return groups.join(':');
}

function isMapped(v: bigint): boolean {
  return v >= MAPPED_START && v <= MAPPED_END;
}

const v6Address = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX128 }),
  fc
    .tuple(
      fc.constantFrom(
        0x2600900020000000n,
        0x20010db800000000n,
        0xfe80000000000000n,
        0n,
        0xffffffffffffffffn,
      ),
      fc.bigInt({ min: 0n, max: 0xffffn }),
      fc.constantFrom(0n, 8n, 48n, 64n, 112n),
    )
    .map(([high, low, shift]) => ((high << 64n) | (low << shift)) & MAX128),
);

const v6Prefix = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
  { weight: 12, arbitrary: fc.integer({ min: 16, max: 128 }) },
);

/** 64 addresses at the start of a word, and 64 across the carry from word 3 into word 1. */
const v6Dense = fc.oneof(
  fc.bigInt({ min: 0n, max: 63n }).map((low) => (0x20010db8n << 96n) + low),
  fc.bigInt({ min: 0n, max: 63n }).map((low) => (0x20010db8n << 96n) + (1n << 64n) - 32n + low),
);

function v6Block([address, prefix]: [bigint, number]): V6Range {
  const host = (1n << BigInt(128 - prefix)) - 1n;
  const start = address & ~host & MAX128;
  return { start, end: start | host, prefix, text: `${v6Text(start)}/${prefix}` };
}

const v6Range: fc.Arbitrary<V6Range> = fc
  .oneof(
    { weight: 2, arbitrary: fc.tuple(v6Address, v6Prefix).map(v6Block) },
    { weight: 1, arbitrary: fc.tuple(v6Dense, fc.integer({ min: 122, max: 128 })).map(v6Block) },
  )
  // Mapped blocks are compiled as IPv4 on purpose; they are covered by their own property.
  .filter((r) => !(isMapped(r.start) && r.prefix >= 96));

const v6List = fc.array(v6Range, { minLength: 1, maxLength: 200, size: 'max' });

// ---- probes ----

/** Boundary picks: (which range, which edge: start - 1, start, end, end + 1). */
const edgePicks = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 })), {
  minLength: 4,
  maxLength: 24,
});

function v4Probes(list: readonly V4Range[], picks: [number, number][], extra: number[]): number[] {
  const probes = [...extra];
  for (const [index, edge] of picks) {
    const r = list[index % list.length]!;
    const v = [r.start - 1, r.start, r.end, r.end + 1][edge]!;
    if (v >= 0 && v <= MAX32) probes.push(v);
  }
  return probes;
}

function v6Probes(list: readonly V6Range[], picks: [number, number][], extra: bigint[]): bigint[] {
  const probes = [...extra];
  for (const [index, edge] of picks) {
    const r = list[index % list.length]!;
    const v = [r.start - 1n, r.start, r.end, r.end + 1n][edge]!;
    if (v >= 0n && v <= MAX128) probes.push(v);
  }
  return probes.filter((v) => !isMapped(v));
}

function blockListV4(list: readonly V4Range[]): net.BlockList {
  const blockList = new net.BlockList();
  for (const r of list) blockList.addSubnet(v4Text(r.start), r.prefix, 'ipv4');
  return blockList;
}

function blockListV6(list: readonly V6Range[]): net.BlockList {
  const blockList = new net.BlockList();
  for (const r of list) blockList.addSubnet(v6Text(r.start), r.prefix, 'ipv6');
  return blockList;
}

/**
 * Plain assertion for the inner loops: vitest's `expect` costs microseconds per call, which
 * adds up over ~300,000 probes. fast-check reports the thrown message with the shrunk case.
 */
function same(actual: boolean, expected: boolean, what: string): void {
  if (actual !== expected) throw new Error(`${what}: got ${actual}, expected ${expected}`);
}

const v4Words = (v: number) => new Uint32Array([v, 0, 0, 0]);
const extraV4 = fc.array(fc.oneof(v4Address, v4Dense), { maxLength: 8 });
const extraV6 = fc.array(fc.oneof(v6Address, v6Dense), { maxLength: 8 });

describe('RangeMatcher agrees with net.BlockList (property)', () => {
  it('for IPv4 addresses against IPv4 lists (2,500 lists)', () => {
    fc.assert(
      fc.property(v4List, edgePicks, extraV4, (list, picks, extra) => {
        const matcher = RangeMatcher.compile(list.map((r) => r.text));
        const reference = blockListV4(list);

        for (const v of v4Probes(list, picks, extra)) {
          same(matcher.contains(4, v4Words(v)), reference.check(v4Text(v), 'ipv4'), v4Text(v));
        }
        expect(matcher.sizeV4).toBeLessThanOrEqual(list.length);
        expect(matcher.sizeV6).toBe(0);
      }),
      { numRuns: 2_500 },
    );
  });

  it('for IPv6 addresses against IPv6 lists (2,500 lists)', () => {
    fc.assert(
      fc.property(v6List, edgePicks, extraV6, (list, picks, extra) => {
        const matcher = RangeMatcher.compile(list.map((r) => r.text));
        const reference = blockListV6(list);

        for (const v of v6Probes(list, picks, extra)) {
          same(matcher.contains(6, v6Words(v)), reference.check(v6Text(v), 'ipv6'), v6Text(v));
        }
        expect(matcher.sizeV6).toBeLessThanOrEqual(list.length);
        expect(matcher.sizeV4).toBe(0);
      }),
      { numRuns: 2_500 },
    );
  });

  it('for both families against mixed lists, each family on its own (2,000 lists)', () => {
    const mixedList = fc.array(
      fc.oneof(
        v4Range.map((r) => ({ v4: r, v6: undefined })),
        v6Range.map((r) => ({ v4: undefined, v6: r })),
      ),
      { minLength: 1, maxLength: 200, size: 'max' },
    );
    fc.assert(
      fc.property(mixedList, edgePicks, extraV4, extraV6, (mixed, picks, extra4, extra6) => {
        const list4 = mixed.flatMap((entry) => (entry.v4 ? [entry.v4] : []));
        const list6 = mixed.flatMap((entry) => (entry.v6 ? [entry.v6] : []));
        const matcher = RangeMatcher.compile(mixed.map((entry) => (entry.v4 ?? entry.v6)!.text));
        const reference4 = blockListV4(list4);
        const reference6 = blockListV6(list6);

        const probes4 = list4.length > 0 ? v4Probes(list4, picks, extra4) : extra4;
        const probes6 =
          list6.length > 0 ? v6Probes(list6, picks, extra6) : extra6.filter((v) => !isMapped(v));
        for (const v of probes4) {
          const expected = reference4.check(v4Text(v), 'ipv4');
          same(matcher.contains(4, v4Words(v)), expected, v4Text(v));
        }
        for (const v of probes6) {
          const expected = reference6.check(v6Text(v), 'ipv6');
          same(matcher.contains(6, v6Words(v)), expected, v6Text(v));
        }
        expect(matcher.sizeV4).toBeLessThanOrEqual(list4.length);
        expect(matcher.sizeV6).toBeLessThanOrEqual(list6.length);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('RangeMatcher keeps families apart (property)', () => {
  it('never matches IPv6 probes against IPv4-only lists, nor IPv4 probes against IPv6-only lists (2,000 lists)', () => {
    fc.assert(
      fc.property(v4List, v6List, edgePicks, (list4, list6, picks) => {
        const only4 = RangeMatcher.compile(list4.map((r) => r.text));
        const only6 = RangeMatcher.compile(list6.map((r) => r.text));

        // Probes sit on the other family's boundaries, and also share their leading 32 bits
        // with this family's ranges: where a family-blind prefix compare (ip-cidr) says yes.
        const v6Against4 = [
          ...v6Probes(list6, picks, []),
          ...picks.map(([index, edge]) => {
            const r = list4[index % list4.length]!;
            return edge < 2 ? BigInt(r.start) << 96n : (BigInt(r.end) << 96n) | MAX96;
          }),
        ].filter((v) => !isMapped(v));
        const v4Against6 = [
          ...v4Probes(list4, picks, []),
          ...picks.map(([index]) => Number(list6[index % list6.length]!.start >> 96n)),
        ];
        for (const v of v6Against4) {
          same(only4.contains(6, v6Words(v)), false, v6Text(v));
          same(only4.containsText(v6Text(v)), false, v6Text(v));
        }
        for (const v of v4Against6) {
          same(only6.contains(4, v4Words(v)), false, v4Text(v));
          same(only6.containsText(v4Text(v)), false, v4Text(v));
          same(only6.containsText(`::ffff:${v4Text(v)}`), false, v4Text(v));
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('IPv4-mapped IPv6 addresses and blocks are IPv4 (property)', () => {
  it('matches ::ffff:a.b.c.d and mapped CIDR lists exactly like the IPv4 ones (1,000 lists)', () => {
    fc.assert(
      fc.property(v4List, edgePicks, extraV4, (list, picks, extra) => {
        const matcher = RangeMatcher.compile(list.map((r) => r.text));
        const mappedList = RangeMatcher.compile(
          list.map((r) => `::ffff:${v4Text(r.start)}/${r.prefix + 96}`),
        );
        const reference = blockListV4(list);

        expect(mappedList.sizeV4).toBe(matcher.sizeV4);
        expect(mappedList.sizeV6).toBe(0);
        for (const v of v4Probes(list, picks, extra)) {
          const expected = reference.check(v4Text(v), 'ipv4');
          const hex = `::FFFF:${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}`;
          same(matcher.containsText(`::ffff:${v4Text(v)}`), expected, v4Text(v));
          same(matcher.containsText(hex), expected, hex);
          same(matcher.contains(6, new Uint32Array([0, 0, 0xffff, v])), expected, hex);
          same(mappedList.containsText(v4Text(v)), expected, v4Text(v));
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

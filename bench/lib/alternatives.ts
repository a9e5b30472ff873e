/**
 * Bench-local candidate replacements for three hot-path functions of packages/core, kept here
 * so the benchmark can show before/after figures side by side in one run. Each must answer
 * exactly as the core function it shadows; micro.ts checks that before timing.
 * @module
 */

/** `isWellFormedCfId` as one regular expression test (irregexp compiles it to native code). */
const CF_ID_RE = /^[A-Za-z0-9_+/-]+={0,2}$/;
export function isWellFormedCfIdRegex(s: string): boolean {
  const n = s.length;
  return n >= 16 && n <= 128 && CF_ID_RE.test(s);
}

const DEC: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
const HEX1: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16));
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0'),
);
const groups = new Uint16Array(8);

function formatV4(v: number): string {
  return `${DEC[v >>> 24]}.${DEC[(v >>> 16) & 0xff]}.${DEC[(v >>> 8) & 0xff]}.${DEC[v & 0xff]}`;
}

function hex16(v: number): string {
  const hi = v >>> 8;
  return hi === 0 ? HEX1[v]! : HEX1[hi]! + HEX2[v & 0xff]!;
}

/**
 * `formatIp` without arrays, `map`, `join` or `toString(16)`: groups in a module-level
 * Uint16Array, hex text from two 256-entry tables, one string built by concatenation.
 */
export function formatIpTables(family: 4 | 6, words: Uint32Array): string {
  if (family === 4) return formatV4(words[0]!);
  const w0 = words[0]!;
  const w1 = words[1]!;
  const w2 = words[2]!;
  const w3 = words[3]!;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatV4(w3)}`;
  const g = groups;
  g[0] = w0 >>> 16;
  g[1] = w0 & 0xffff;
  g[2] = w1 >>> 16;
  g[3] = w1 & 0xffff;
  g[4] = w2 >>> 16;
  g[5] = w2 & 0xffff;
  g[6] = w3 >>> 16;
  g[7] = w3 & 0xffff;
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
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) out += ':';
    out += hex16(g[i]!);
  }
  return out;
}

const SLOT = 256;

/**
 * A constant-time compare in plain JavaScript: XOR-accumulate the candidate's UTF-16 code units
 * against the accepted values in order (zero-padded), stopping only at an exact match, as
 * compare.ts does. For a wrong value the work depends only on the number of values and the
 * candidate's own length, as with compare.ts, but it makes no native call (compare.ts makes a
 * `write` and one `timingSafeEqual` per value compared).
 */
export class XorSecretMatcher {
  readonly #codes: Uint16Array[];
  readonly #lengths: Int32Array;

  constructor(values: readonly { readonly value: string }[]) {
    this.#codes = values.map((v) => {
      const u = new Uint16Array(SLOT);
      for (let i = 0; i < v.value.length; i++) u[i] = v.value.charCodeAt(i);
      return u;
    });
    this.#lengths = Int32Array.from(values, (v) => v.value.length);
  }

  match(candidate: string): number {
    const length = candidate.length;
    const n = length <= SLOT ? length : 0;
    const codes = this.#codes;
    for (let k = 0; k < codes.length; k++) {
      const slot = codes[k]!;
      let diff = length ^ this.#lengths[k]!;
      for (let i = 0; i < n; i++) diff |= candidate.charCodeAt(i) ^ slot[i]!;
      if (diff === 0) return k;
    }
    return -1;
  }
}

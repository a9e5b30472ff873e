/**
 * Bench-local candidate replacements for hot-path functions of packages/core, kept here so the
 * benchmark can show before/after figures side by side in one run. Each must answer exactly as
 * the core function it shadows; micro.ts checks that before timing. Candidates that were
 * adopted (the cf-id regex, formatIp's hex tables) now live in the core and are gone from here.
 * @module
 */

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

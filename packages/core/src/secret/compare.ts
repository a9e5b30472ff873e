/**
 * Constant-time comparison of a header value against every accepted secret value.
 *
 * Each accepted value is stored once, at load, left-aligned in a zero-filled buffer of a fixed
 * size (`MAX_SECRET_LENGTH`, the same for every accepted set). Per request, the candidate is
 * written into one scratch buffer of the same size, and `crypto.timingSafeEqual` compares the
 * first `n` bytes of the scratch with the first `n` bytes of each slot, in order (AWSCURRENT
 * first), where `n` is the *candidate's* length rounded up to a multiple of 8 (the whole slot
 * for an over-long candidate). A value of another length never matches (lengths are compared
 * as integers in the same condition), and a value of the candidate's length lies wholly inside
 * the first `n` bytes, so nothing is missed; and since `n` comes from the candidate alone, the
 * time taken to reject a wrong value depends only on the candidate's length (which the
 * attacker already knows) and on the number of accepted values: not on where it first differs
 * from any value, nor on the values' lengths (a size fitted to the *values* would leak the
 * longest one; measured in test/reliability/timing.test.ts). `timingSafeEqual`'s own loop is
 * most of its cost (128 bytes cost 2-3 times what 32 do), so a 64-character secret pays half a
 * full slot. The byte views of every size are built at load: no allocation per request.
 *
 * A candidate that matches no value is compared with *every* value. The loop stops at an exact
 * match. That time difference says only that this exact candidate is accepted (which the
 * response already says in enforce mode) and at which stage: nothing an attacker can use to
 * guess a value, since a candidate that is wrong in any byte takes the full time. It saves one
 * native compare per verified request (one per accepted value after the first).
 *
 * Accepted values are printable ASCII. The candidate is written as UTF-8, so any character
 * outside ASCII becomes bytes >= 0x80 that can never equal an accepted value's bytes (a latin1
 * write would fold U+0141 onto 0x41 and could alias).
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { SecretStage } from '../decision.js';
import type { SecretValue } from '../sources/types.js';

/**
 * Longest accepted secret, in bytes. A candidate longer than this never matches. 128 printable
 * characters is far beyond any useful entropy, and every byte of slot costs time on every request.
 */
export const MAX_SECRET_LENGTH = 128;
/** Shortest accepted secret, in bytes. */
export const MIN_SECRET_LENGTH = 16;
/**
 * Bytes per slot: one fixed size for every matcher, so the time taken does not even tell the
 * length of the longest accepted value (a size fitted to the values would; measured in
 * test/reliability/timing.test.ts).
 */
const SLOT_BYTES = MAX_SECRET_LENGTH;
/** Compared lengths are multiples of this (the candidate's length rounded up). */
const GRANULE = 8;
/** Compared lengths available: GRANULE, 2 * GRANULE, ..., SLOT_BYTES. */
const SIZES = SLOT_BYTES / GRANULE;

/** Views of the first GRANULE, 2 * GRANULE, ..., SLOT_BYTES bytes of `buffer`. */
function prefixViews(buffer: Buffer): Buffer[] {
  return Array.from({ length: SIZES }, (_, k) => buffer.subarray(0, (k + 1) * GRANULE));
}

/**
 * Why a value cannot be an accepted secret, or `undefined` when it can. Never includes the value.
 */
export function secretValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string')
    return `is a ${value === null ? 'null' : typeof value}, expected a string`;
  if (value.length < MIN_SECRET_LENGTH)
    return `is ${value.length} characters long; use at least ${MIN_SECRET_LENGTH} (32+ random characters recommended)`;
  if (value.length > MAX_SECRET_LENGTH)
    return `is ${value.length} characters long; at most ${MAX_SECRET_LENGTH} are accepted`;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e)
      return `has a character outside printable ASCII (0x21-0x7E) at position ${i}; CloudFront custom header values must be printable ASCII without spaces`;
  }
  return undefined;
}

/**
 * A compiled set of accepted values. Holds the values only as padded byte buffers; it exposes
 * stages and counts, never the values.
 */
export class SecretMatcher {
  /** Per accepted value, its slot's prefix views (see {@link prefixViews}). */
  readonly #slots: Buffer[][];
  readonly #lengths: Int32Array;
  readonly #stages: readonly SecretStage[];
  /** Per accepted value, the time (ms since the epoch) from which it is no longer accepted. */
  readonly #notAfter: Float64Array;
  readonly #scratch: Buffer;
  /** The scratch's prefix views. */
  readonly #scratchViews: Buffer[];
  /** How many leading scratch bytes the previous candidate may have left non-zero. */
  #dirty = 0;

  /**
   * @param values accepted values; each must pass {@link secretValueProblem}.
   * @param notAfter per value, the time (ms since the epoch) from which it is no longer
   * accepted (`previousMaxAgeMs`); defaults to never.
   */
  constructor(values: readonly SecretValue[], notAfter?: readonly number[]) {
    this.#scratch = Buffer.alloc(SLOT_BYTES);
    this.#scratchViews = prefixViews(this.#scratch);
    this.#slots = values.map((v) => {
      const slot = Buffer.alloc(SLOT_BYTES);
      slot.write(v.value, 0, 'latin1');
      return prefixViews(slot);
    });
    this.#lengths = Int32Array.from(values, (v) => v.value.length);
    this.#stages = Object.freeze(values.map((v) => v.stage));
    this.#notAfter = Float64Array.from(values, (_, i) => notAfter?.[i] ?? Number.POSITIVE_INFINITY);
  }

  /** The stages held, in order. */
  get stages(): readonly SecretStage[] {
    return this.#stages;
  }

  /**
   * The index of the accepted value equal to `candidate`, or -1. A candidate equal to no value
   * is compared against every value, in time that depends on the candidate's length but not on
   * the values' contents or lengths; an exact match returns at once (see the module comment).
   */
  match(candidate: string): number {
    const scratch = this.#scratch;
    const length = candidate.length;
    // Over-long candidates are compared as a whole all-zero slot: they can never match.
    let written = 0;
    if (length <= SLOT_BYTES) written = scratch.write(candidate, 0, 'utf8');
    // Clear what the previous candidate left beyond this one (usually nothing).
    if (this.#dirty > written) scratch.fill(0, written, this.#dirty);
    this.#dirty = written;
    // Compare the candidate's length rounded up to GRANULE bytes. A candidate of a value's
    // length that is not ASCII differs from it inside those bytes: its first non-ASCII
    // character starts a byte >= 0x80 at a position below its length.
    const size = length === 0 ? 0 : length > SLOT_BYTES ? SIZES - 1 : ((length - 1) / GRANULE) | 0;
    const probe = this.#scratchViews[size]!;
    const slots = this.#slots;
    const lengths = this.#lengths;
    for (let i = 0; i < slots.length; i++)
      if (timingSafeEqual(probe, slots[i]![size]!) && length === lengths[i]) return i;
    return -1;
  }

  /** The stage of the value at `index`. */
  stageAt(index: number): SecretStage {
    return this.#stages[index]!;
  }

  /**
   * The time (ms since the epoch) from which the value at `index` is no longer accepted:
   * `Infinity` unless `previousMaxAgeMs` limits it. Read only after a match, so a request
   * presenting a current value reads no clock.
   */
  notAfter(index: number): number {
    return this.#notAfter[index]!;
  }
}

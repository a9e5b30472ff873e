/**
 * SecretMatcher: which accepted value matches, in order, and what never matches. Timing is in
 * test/reliability/timing.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SECRET_LENGTH, SecretMatcher } from '../src/secret/compare.js';

const CURRENT = 'current-secret-value-0123456789abcdef';
const PREVIOUS = 'previous-secret-value-0123456789abcd';
const PENDING = 'pending-secret-value-0123456789abcdef';

function matcher(...values: string[]): SecretMatcher {
  const stages = ['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING'];
  return new SecretMatcher(values.map((value, i) => ({ value, stage: stages[i]! })));
}

describe('SecretMatcher', () => {
  it('returns the index of the value equal to the candidate, at any position', () => {
    const m = matcher(CURRENT, PREVIOUS, PENDING);
    expect(m.match(CURRENT)).toBe(0);
    expect(m.match(PREVIOUS)).toBe(1);
    expect(m.match(PENDING)).toBe(2);
    expect(m.stageAt(m.match(PENDING))).toBe('AWSPENDING');
  });

  it('gives the first stage when two stages hold the same value', () => {
    const m = matcher(CURRENT, PREVIOUS, CURRENT);
    expect(m.match(CURRENT)).toBe(0);
  });

  it.each([
    ['a prefix of a value', CURRENT.slice(0, -1)],
    ['a value with one more character', `${CURRENT}x`],
    ['a value with a NUL appended (equal bytes in the zero padding)', `${CURRENT}\u0000`],
    ['a value differing in the last character', `${PREVIOUS.slice(0, -1)}X`],
    ['a value differing in the first character', `X${PENDING.slice(1)}`],
    ['the empty string', ''],
    ['a value longer than a slot', 'a'.repeat(MAX_SECRET_LENGTH + 1)],
    ['non-ASCII that latin1 would fold onto the value', `${CURRENT.slice(0, -1)}\u0166`],
  ])('matches nothing for %s', (_name, candidate) => {
    expect(matcher(CURRENT, PREVIOUS, PENDING).match(candidate)).toBe(-1);
  });

  it('is not confused by what a longer earlier candidate left in its scratch buffer', () => {
    const m = matcher(CURRENT);
    expect(m.match(`${CURRENT}-and-some-more`)).toBe(-1);
    expect(m.match(CURRENT)).toBe(0);
    expect(m.match(CURRENT.slice(0, 20))).toBe(-1);
  });

  it('agrees with a plain search on random values and near-miss candidates (property)', () => {
    const printable = fc
      .array(fc.integer({ min: 0x21, max: 0x7e }), { minLength: 16, maxLength: 128 })
      .map((codes) => String.fromCharCode(...codes));
    // Candidates built from a value: itself, cut, extended, one character changed (also to a
    // non-ASCII one, which UTF-8 turns into two or three bytes), or anything at all.
    const candidateOf = (values: string[]) =>
      fc.oneof(
        fc.constantFrom(...values),
        fc
          .tuple(fc.constantFrom(...values), fc.nat(), fc.string({ minLength: 1, maxLength: 3 }))
          .map(([v, at, s]) => {
            const i = at % v.length;
            return `${v.slice(0, i)}${s}${v.slice(i + 1)}`;
          }),
        fc
          .tuple(fc.constantFrom(...values), fc.nat(), fc.constantFrom('é', 'Ł', '€', '\u0000'))
          .map(([v, at, c]) => {
            const i = at % v.length;
            return `${v.slice(0, i)}${c}${v.slice(i + 1)}`;
          }),
        fc.constantFrom(...values).map((v) => v.slice(0, -1)),
        fc.constantFrom(...values).map((v) => `${v}x`),
        fc.string({ maxLength: 140 }),
      );
    fc.assert(
      fc.property(
        fc
          .array(printable, { minLength: 1, maxLength: 3 })
          .chain((values) =>
            fc.tuple(fc.constant(values), fc.array(candidateOf(values), { maxLength: 8 })),
          ),
        ([values, candidates]) => {
          const m = matcher(...values);
          // The same matcher answers a sequence of candidates (its scratch is reused).
          for (const candidate of candidates)
            expect(m.match(candidate)).toBe(values.indexOf(candidate));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
